/**
 * The events queue consumer: for each message, claim it in the delivery log (dedupe),
 * normalize, forward to every configured destination, and record the outcome before the
 * message is acked. Each message is handled on its own: one bad message never makes the
 * batch's good ones retry.
 *
 * What a crash between two steps does: before the claim, the message comes back and is
 * claimed then. Between a forward and its record, the message comes back and is forwarded
 * again (the destination gets the same Idempotency-Key / CloudEvent id). Between the record
 * and the ack, the message comes back, finds a finished delivery and is acked unforwarded.
 */
import { type Config, readConfig } from "../config";
import { normalize } from "../events/normalize";
import { type FeedbackMessage, queueMessage, type WebhookMessage } from "../events/queue-message";
import { feedbackDeps } from "../feedback/feedback-deps";
import { processFeedback } from "../feedback/process-feedback";
import { parseGitRepo } from "../ingress/git-repo-url";
import { identityFields } from "../ingress/project-identity";
import { sha256Hex } from "../lib/crypto";
import { utf8 } from "../lib/encoding";
import { asJsonObject } from "../lib/json-object";
import { parseMembers, scanJson } from "../lib/json-scan";
import { log } from "../lib/logger";
import { getBody } from "../storage/bodies";
import {
  type AttemptRecord,
  DeliveriesRepo,
  type DeliveryStatus,
  TERMINAL,
} from "../storage/deliveries-repo";
import { FeedbackRepo } from "../storage/feedback-repo";
import { ProjectsRepo } from "../storage/projects-repo";
import { backoffSeconds, RETRY_WINDOW_MS } from "./backoff";
import {
  configuredDestinations,
  type Destination,
  type Prepared,
  prepareEventsRequest,
  preparePackitRequest,
} from "./destinations";
import { attempt, FORWARD_TIMEOUT_MS } from "./forward";

/** Top-level members `normalize` reads (and `project`, for messages without an identity). */
const NORMALIZE_KEYS = [
  "object_kind",
  "event_name",
  "event_type",
  "action",
  "after",
  "before",
  "checkout_sha",
  "commit",
  "commits",
  "created_at",
  "issue",
  "merge_request",
  "name",
  "object_attributes",
  "project",
  "push_options",
  "ref",
  "released_at",
  "repository",
  "tag",
  "total_commits_count",
  "url",
  "user",
  "user_name",
  "user_username",
] as const;

/** Two deliveries with the same content within this window are one event. */
export const DEDUPE_WINDOW_MS = 24 * 3600 * 1000;
/** How long one copy of a message may forward before another copy may take over. */
export const LEASE_MS = 2 * FORWARD_TIMEOUT_MS + 30_000;

export type ConsumerDeps = {
  deliveries: DeliveriesRepo;
  bodies: Pick<R2Bucket, "get">;
  config: Config;
  fetcher: typeof fetch;
  now: () => number;
  random: () => number;
};

export type Decision = { action: "ack" } | { action: "retry"; delaySeconds: number };

export function consumerDeps(env: Env): ConsumerDeps {
  return {
    deliveries: new DeliveriesRepo(env.DB),
    bodies: env.BODIES,
    config: readConfig(env),
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
  };
}

/** The exact bytes GitLab sent, from the message or R2; null when they are gone or altered. */
export async function loadBody(
  message: WebhookMessage,
  bodies: Pick<R2Bucket, "get">,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const stored =
    message.body.storage === "inline"
      ? utf8(message.body.text)
      : await getBody(bodies, message.body.key);
  if (!stored) {
    return null;
  }
  const bytes = new Uint8Array(stored);
  return (await sha256Hex(bytes)) === message.body.sha256 ? bytes : null;
}

/**
 * One event, whichever hook (project or group) reported it: the authorized identity, the
 * kind and the exact bytes.
 */
export function contentHash(message: WebhookMessage): Promise<string> {
  return sha256Hex(
    [
      message.instance_url ?? "",
      message.project.path?.toLowerCase() ?? message.project.id ?? "",
      message.kind,
      message.body.sha256,
    ].join("\n"),
  );
}

async function claim(message: WebhookMessage, deps: ConsumerDeps, leaseOwner: string) {
  const now = deps.now();
  return deps.deliveries.claim(
    message,
    await contentHash(message),
    JSON.stringify(message),
    now - DEDUPE_WINDOW_MS,
    now,
    { owner: leaseOwner, until: now + LEASE_MS },
  );
}

/** Delivers one message and says whether to ack it or retry it later. */
export async function deliver(message: WebhookMessage, deps: ConsumerDeps): Promise<Decision> {
  const lease = crypto.randomUUID();
  const { delivery, targets, leased } = await claim(message, deps, lease);
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
    await deps.deliveries.record(
      id,
      delivery.generation,
      [],
      { status, reason },
      deps.now(),
      lease,
    );
    log(status === "dead" || status === "rejected" ? "warn" : "info", `delivery ${status}`, {
      ...logFields,
      reason,
    });
    return { action: "ack" } as const;
  };

  const bytes = await loadBody(message, deps.bodies);
  if (!bytes) {
    return finish("dead", "the stored body is missing or does not match its SHA-256");
  }
  // Validated without building it, then only the members normalizing reads are parsed:
  // a pipeline's `builds` or a release's `assets` are forwarded as bytes, never as objects.
  const scan = scanJson(bytes, Number.POSITIVE_INFINITY);
  if (!scan.ok || !scan.object) {
    return finish("rejected", "the stored body is not a JSON object");
  }
  const payload = parseMembers(bytes, scan.members, NORMALIZE_KEYS);
  const normalized = normalize({
    kind: message.kind,
    gitlabEvent: message.headers["x-gitlab-event"] ?? message.kind,
    payload,
    dedupeKey: message.dedupe_key,
    instanceUrl: message.instance_url,
    project: message.project,
    receivedAt: message.received_at,
    botUsernames: deps.config.BOT_USERNAMES,
  });
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
  let retryAfter: number | null = null;
  const packitRepo = message.packit !== undefined ? message.packit : packitRepoOf(payload);

  for (const destination of destinations) {
    const before = prior.get(destination);
    if (before === "delivered" || before === "skipped" || before === "rejected") {
      continue;
    }
    const prepared: Prepared =
      destination === "packit"
        ? await preparePackitRequest(message, bytes, packitRepo, deps.config, deps.now())
        : await prepareEventsRequest(message, normalized.event, deps.config, deps.now());
    if (prepared.kind === "skip") {
      records.push(record(destination, "skipped", "skipped", null, prepared.reason, 0));
      continue;
    }
    if (prepared.kind === "config_error") {
      log("error", "destination misconfigured", {
        ...logFields,
        destination,
        error: prepared.reason,
      });
      records.push(record(destination, "retrying", "transient", null, prepared.reason, 0));
      continue;
    }
    const result = await attempt(prepared.request, deps.fetcher, deps.now);
    const targetStatus =
      result.outcome === "delivered"
        ? "delivered"
        : result.outcome === "transient"
          ? "retrying"
          : "rejected";
    records.push(
      record(
        destination,
        targetStatus,
        result.outcome,
        result.statusCode,
        result.error,
        result.durationMs,
      ),
    );
    if (result.retryAfterSeconds !== null) {
      retryAfter = Math.max(retryAfter ?? 0, result.retryAfterSeconds);
    }
    log(result.outcome === "delivered" ? "info" : "warn", "delivery attempt", {
      ...logFields,
      destination,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
    });
  }

  const statusOf = (d: Destination) =>
    records.find((r) => r.destination === d)?.targetStatus ?? prior.get(d) ?? "pending";
  const states = destinations.map(statusOf);
  const last = records.findLast((r) => r.targetStatus !== "delivered") ?? records.at(-1);
  const summary = {
    attempted: records.some((r) => r.outcome !== "skipped"),
    lastStatusCode: last?.statusCode ?? null,
    lastError: last?.error ?? null,
  };
  const now = deps.now();

  if (states.includes("retrying")) {
    const firstAttemptAt = delivery.first_attempt_at ?? now;
    if (now - firstAttemptAt >= RETRY_WINDOW_MS) {
      const deadRecords = records.map((r) =>
        r.targetStatus === "retrying" ? { ...r, targetStatus: "dead" as const } : r,
      );
      await deps.deliveries.record(
        id,
        delivery.generation,
        deadRecords,
        {
          status: "dead",
          reason: "destinations kept failing for 24 hours",
          ...summary,
        },
        now,
        lease,
      );
      log("error", "delivery dead", logFields);
      return { action: "ack" };
    }
    const delaySeconds = backoffSeconds(delivery.attempts + 1, deps.random, retryAfter);
    await deps.deliveries.record(
      id,
      delivery.generation,
      records,
      {
        status: "retrying",
        nextAttemptAt: now + delaySeconds * 1000,
        ...summary,
      },
      now,
      lease,
    );
    return { action: "retry", delaySeconds };
  }
  const status: DeliveryStatus = states.includes("rejected")
    ? "rejected"
    : states.every((s) => s === "skipped")
      ? "skipped"
      : "delivered";
  const reason =
    status === "rejected"
      ? "a destination refused the event"
      : status === "skipped"
        ? records
            .map((r) => r.error)
            .filter(Boolean)
            .join("; ") || null
        : null;
  await deps.deliveries.record(
    id,
    delivery.generation,
    records,
    { status, reason, ...summary },
    now,
    lease,
  );
  return { action: "ack" };
}

/**
 * For messages queued before ingress decided packit-service's namespace and repository:
 * read as packit-service reads it. Newer messages carry it, checked against the identity.
 */
function packitRepoOf(payload: unknown) {
  const url = identityFields(asJsonObject(payload) ?? {}).packitUrl?.value;
  return typeof url === "string" ? parseGitRepo(url) : null;
}

function record(
  destination: Destination,
  targetStatus: AttemptRecord["targetStatus"],
  outcome: string,
  statusCode: number | null,
  error: string | null,
  durationMs: number,
): AttemptRecord {
  return { destination, targetStatus, outcome, statusCode, error, durationMs };
}

async function touchTokens(messages: readonly WebhookMessage[], env: Env): Promise<void> {
  const uses = new Map<string, number>();
  for (const message of messages) {
    if (message.registration.kind !== "legacy_jwt") {
      const seen = uses.get(message.registration.token_id) ?? 0;
      uses.set(message.registration.token_id, Math.max(seen, message.received_at));
    }
  }
  try {
    await new ProjectsRepo(env.DB).touchTokens(uses);
  } catch (err) {
    log("warn", "could not record token use", { error: String(err) });
  }
}

function parseAll(batch: MessageBatch<unknown>) {
  const valid: { raw: Message<unknown>; message: WebhookMessage }[] = [];
  const feedback: { raw: Message<unknown>; message: FeedbackMessage }[] = [];
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    if (parsed.success) {
      const message = parsed.data;
      if (message.type === "gitlab_webhook") {
        valid.push({ raw, message });
      } else {
        feedback.push({ raw, message });
      }
    } else {
      // Retrying cannot fix a message that fails the schema.
      log("error", "malformed queue message acked", {
        queue: batch.queue,
        queue_message_id: raw.id,
        issue: parsed.error.issues[0]?.message,
      });
      raw.ack();
    }
  }
  return { valid, feedback };
}

export async function consumeEvents(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: ConsumerDeps = consumerDeps(env),
): Promise<void> {
  const { valid, feedback } = parseAll(batch);
  await touchTokens(
    valid.map((v) => v.message),
    env,
  );
  await Promise.all([
    ...valid.map(async ({ raw, message }) => {
      try {
        const decision = await deliver(message, deps);
        if (decision.action === "ack") {
          raw.ack();
        } else {
          raw.retry({ delaySeconds: decision.delaySeconds });
        }
      } catch (err) {
        log("error", "delivery failed unexpectedly; retrying", {
          delivery_id: message.delivery_id,
          error: String(err),
        });
        raw.retry({ delaySeconds: backoffSeconds(raw.attempts, deps.random) });
      }
    }),
    ...feedback.map(async ({ raw, message }) => {
      try {
        const decision = await processFeedback(message.feedback_id, feedbackDeps(env));
        if (decision.action === "ack") {
          raw.ack();
        } else {
          raw.retry({ delaySeconds: decision.delaySeconds });
        }
      } catch (err) {
        log("error", "feedback failed unexpectedly; retrying", {
          feedback_id: message.feedback_id,
          error: String(err),
        });
        raw.retry({ delaySeconds: backoffSeconds(raw.attempts, deps.random) });
      }
    }),
  ]);
}

/** Messages that exhausted the queue's retries: recorded as dead, replayable from admin. */
export async function consumeDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: ConsumerDeps = consumerDeps(env),
): Promise<void> {
  const { valid, feedback } = parseAll(batch);
  for (const { raw, message } of feedback) {
    await new FeedbackRepo(env.DB).record(
      message.feedback_id,
      { state: "failed", attempted: false, lastError: "queue retries exhausted" },
      deps.now(),
    );
    raw.ack();
  }
  for (const { raw, message } of valid) {
    try {
      // Forced: whatever copy may still hold a lease, the queue has given up on this one.
      const { delivery } = await claim(message, deps, crypto.randomUUID());
      await deps.deliveries.record(
        delivery.id,
        delivery.generation,
        [],
        {
          status: "dead",
          reason: "queue retries exhausted",
        },
        deps.now(),
      );
      log("error", "delivery dead-lettered", { delivery_id: message.delivery_id });
      raw.ack();
    } catch (err) {
      log("error", "could not record a dead letter; retrying", {
        delivery_id: message.delivery_id,
        error: String(err),
      });
      raw.retry();
    }
  }
}
