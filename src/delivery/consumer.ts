/**
 * Delivering one webhook message: claim it in the delivery log (dedupe), normalize, forward
 * to every configured destination, and record the outcome (decided by the pure core in
 * delivery-outcome.ts) before the message is acked. The batch is routed in src/queues.ts.
 *
 * What a crash between two steps does: before the claim, the message comes back and is
 * claimed then. Between a forward and its record, the message comes back and is forwarded
 * again (the destination gets the same Idempotency-Key / CloudEvent id). Between the record
 * and the ack, the message comes back, finds a finished delivery and is acked unforwarded.
 */
import { deliveryTimings } from "../config";
import { type AttemptRecord, type DeliveryStatus, TERMINAL } from "../domain/delivery-state";
import type { QueueDecision } from "../domain/queue-decision";
import type { WebhookMessage } from "../domain/queue-message";
import { normalizeMessage } from "../events/normalize";
import { eventContentHash } from "../gitlab/content-hash";
import { log } from "../lib/logger";
import type { DeliveriesRepo } from "../storage/deliveries-repo";
import { unparkIfClosed } from "./circuit-gate";
import { decideOutcome, needsAttempt } from "./delivery-outcome";
import {
  configuredDestinations,
  type Prepared,
  prepareEventsRequest,
  preparePackitRequest,
} from "./destinations";
import { type SendDeps, sendToDestination } from "./send-to-destination";
import { keepBody, loadBody, packitRepoOf, readPayload, storedFormOf } from "./stored-body";

/** Two deliveries with the same content within this window are one event. */
export const DEDUPE_WINDOW_MS = 24 * 3600 * 1000;

export type ConsumerDeps = SendDeps & {
  deliveries: DeliveriesRepo;
  bodies: Pick<R2Bucket, "get" | "put">;
};

export function contentHash(message: WebhookMessage): Promise<string> {
  return eventContentHash({
    instanceUrl: message.instance_url,
    projectPath: message.project.path,
    projectId: message.project.id,
    kind: message.kind,
    bodySha256: message.body.sha256,
  });
}

/** A claim for recording a dead letter: whatever copy may hold a lease, the queue gave up. */
export async function claimForDeadLetter(message: WebhookMessage, deps: ConsumerDeps) {
  // Only a body in the message needs reading (to keep it in R2); one in R2 is already kept.
  const inline = message.body.storage !== "r2" ? await loadBody(message, deps.bodies) : null;
  return claim(message, inline, deps, crypto.randomUUID(), true);
}

async function claim(
  message: WebhookMessage,
  bytes: Uint8Array<ArrayBuffer> | null,
  deps: ConsumerDeps,
  leaseOwner: string,
  /** The queue has handed this message over before (a retry, a return from a park). */
  seenBefore: boolean,
) {
  const stored = storedFormOf(message, bytes);
  const now = deps.now();
  const claiming = deps.deliveries.claim({
    message,
    contentHash: await contentHash(message),
    stored,
    windowStart: now - DEDUPE_WINDOW_MS,
    now,
    lease: { owner: leaseOwner, until: now + deliveryTimings(deps.config).leaseMs },
  });
  // The body is written to R2 while the delivery is claimed, not before: a worker that dies
  // in between leaves the message unacked, and its retry writes the body again. A retry of a
  // delivery recorded as retrying skips the write: that status is only recorded after a pass
  // whose write (or whole-message fallback) finished, and the row still points there. A
  // delivery parked through a day's outage comes back about 96 times: one R2 write, not 96.
  const keeping = seenBefore
    ? claiming.then(
        (claimed) =>
          claimed.delivery.status === "retrying" || keepBody(message, bytes, deps.bodies),
      )
    : keepBody(message, bytes, deps.bodies);
  const [kept, claimed] = await Promise.all([keeping, claiming]);
  if (!kept) {
    // R2 refused: the row keeps the whole message, so replay still has the body.
    await deps.deliveries.keepWhole(message.delivery_id, stored, JSON.stringify(message));
  }
  return claimed;
}

/** Delivers one message and says whether to ack it or retry it later. */
export async function deliver(
  message: WebhookMessage,
  deps: ConsumerDeps,
  seenBefore = false,
): Promise<QueueDecision> {
  const lease = crypto.randomUUID();
  // A body in the message is read (and checked) first: the claim records it kept in R2 for
  // replay. A body already in R2 is read only once this copy turns out to have work to do.
  const inline = message.body.storage !== "r2" ? await loadBody(message, deps.bodies) : null;
  const { delivery, targets, leased, registered } = await claim(
    message,
    inline,
    deps,
    lease,
    seenBefore,
  );
  const id = delivery.id;
  const logFields = { delivery_id: id, kind: message.kind, project_id: message.project.id };
  if (message.generation !== delivery.generation) {
    log("info", "stale copy of a replayed delivery dropped", {
      ...logFields,
      generation: message.generation,
    });
    return { action: "ack" };
  }
  if (TERMINAL.has(delivery.status)) {
    log(
      "info",
      delivery.status === "duplicate"
        ? "duplicate event not forwarded"
        : "delivery already finished",
      {
        ...logFields,
        status: delivery.status,
        duplicate_of: delivery.duplicate_of,
      },
    );
    return { action: "ack" };
  }
  if (!leased) {
    // Another copy of this message is forwarding right now: look again after its lease.
    const wait = Math.ceil(((delivery.lease_until ?? deps.now()) - deps.now()) / 1000);
    log("info", "delivery in flight elsewhere; retrying later", logFields);
    return { action: "retry", delaySeconds: Math.max(5, wait) + Math.floor(deps.random() * 10) };
  }

  const finish = async (status: DeliveryStatus, reason: string) => {
    await deps.deliveries.record({
      id,
      generation: delivery.generation,
      attempts: [],
      finish: { status, reason },
      now: deps.now(),
      leaseOwner: lease,
    });
    log(status === "dead" || status === "rejected" ? "warn" : "info", `delivery ${status}`, {
      ...logFields,
      reason,
    });
    return { action: "ack" } as const;
  };

  if (!registered) {
    // Removed between ingress and delivery: its token no longer speaks for anyone.
    return finish(
      "undeliverable",
      "the sender's registration was removed after the event was accepted",
    );
  }
  const bytes = inline ?? (await loadBody(message, deps.bodies));
  if (!bytes) {
    return finish("dead", "the stored body is missing or does not match its SHA-256");
  }
  const payload = readPayload(bytes);
  if (!payload) {
    return finish("rejected", "the stored body is not a JSON object");
  }
  const normalized = normalizeMessage(message, payload, deps.config.BOT_USERNAMES);
  if (normalized.outcome === "skip") {
    return finish("skipped", normalized.reason);
  }
  if (normalized.outcome === "reject") {
    return finish("rejected", normalized.reason);
  }
  const destinations = configuredDestinations(deps.config);
  if (destinations.length === 0) {
    return finish("undeliverable", "no destination is configured (PACKIT_SERVICE_URL, EVENTS_URL)");
  }

  const prior = new Map(targets.map((t) => [t.destination, t.status]));
  const records: AttemptRecord[] = [];
  const parks: string[] = [];
  let retryAfter: number | null = null;
  const packitRepo = message.packit !== undefined ? message.packit : packitRepoOf(payload);

  for (const destination of destinations) {
    if (!needsAttempt(prior.get(destination))) {
      continue;
    }
    // Prepared once a forward slot is held: packit's JWT lives five minutes, and a wait for
    // a slot behind slow destinations must not use them up.
    const prepare = (): Promise<Prepared> =>
      destination === "packit"
        ? preparePackitRequest(message, bytes, packitRepo, deps.config, deps.now())
        : prepareEventsRequest(message, normalized.event, deps.config, deps.now());
    const sent = await sendToDestination(destination, prepare, deps, logFields);
    records.push(sent.record);
    if (sent.parkedBehind) {
      parks.push(sent.parkedBehind);
    }
    if (sent.retryAfter !== null) {
      retryAfter = Math.max(retryAfter ?? 0, sent.retryAfter);
    }
  }

  const now = deps.now();
  const outcome = decideOutcome({
    destinations,
    prior,
    records,
    retryAfterSeconds: retryAfter,
    attempts: delivery.attempts,
    firstAttemptAt: delivery.first_attempt_at,
    now,
    random: deps.random,
    timings: deliveryTimings(deps.config),
  });
  await deps.deliveries.record({
    id,
    generation: delivery.generation,
    attempts: outcome.records,
    finish: outcome.finish,
    now,
    leaseOwner: lease,
  });
  if (outcome.finish.status === "dead") {
    log("error", "delivery dead", logFields);
  }
  // Parked, and nothing else to wait for: look again now that the park is written.
  const retrying = records.filter((r) => r.targetStatus === "retrying").length;
  if (outcome.decision.action === "retry" && parks.length > 0 && parks.length === retrying) {
    const delaySeconds = 1 + Math.floor(deps.random() * 10);
    const target = { id, generation: delivery.generation, delaySeconds };
    if (await unparkIfClosed(deps.circuits, parks, target)) {
      log("info", "circuit closed while the delivery parked: retrying soon", logFields);
      return { action: "retry", delaySeconds };
    }
  }
  return outcome.decision;
}
