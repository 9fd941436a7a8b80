/**
 * Queue batches, routed by queue name: the events queue (webhooks to deliver, feedback to
 * perform) and its dead-letter queue. Each message is handled on its own: one bad message
 * never makes the batch's good ones retry. Bodies are untrusted until the schema says
 * otherwise; a message that fails it is acked (retrying cannot fix it) and logged.
 */
import { type ConsumerDeps, claimForDeadLetter, deliver } from "./delivery/consumer";
import { consumerDeps, feedbackDeps, repos } from "./deps";
import type { QueueDecision } from "./domain/queue-decision";
import { type FeedbackMessage, queueMessage, type WebhookMessage } from "./domain/queue-message";
import type { FeedbackDeps } from "./feedback/feedback-deps";
import { processFeedback } from "./feedback/process-feedback";
import { backoffSeconds } from "./lib/backoff";
import { log } from "./lib/logger";
import type { ProjectsRepo } from "./storage/projects-repo";

/**
 * Applies a decision to the message; an unexpected error retries it with backoff. Says what
 * became of it, for the batch's log line.
 */
async function settle(
  raw: Message<unknown>,
  run: () => Promise<QueueDecision>,
  context: Record<string, string>,
  random: () => number,
): Promise<QueueDecision["action"]> {
  try {
    const decision = await run();
    if (decision.action === "ack") {
      raw.ack();
    } else {
      raw.retry({ delaySeconds: decision.delaySeconds });
    }
    return decision.action;
  } catch (err) {
    log("error", "message failed unexpectedly; retrying", {
      ...context,
      error: String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    raw.retry({ delaySeconds: backoffSeconds(raw.attempts, random) });
    return "retry";
  }
}

/** What the queue handlers need, built once per batch by the composition root. */
export type QueueDeps = {
  delivery: ConsumerDeps;
  feedback: FeedbackDeps;
  projects: Pick<ProjectsRepo, "touchTokens">;
};

export function queueDeps(env: Env): QueueDeps {
  return {
    delivery: consumerDeps(env),
    feedback: feedbackDeps(env),
    projects: repos(env.DB).projects,
  };
}

async function touchTokens(
  messages: readonly WebhookMessage[],
  projects: QueueDeps["projects"],
): Promise<void> {
  const uses = new Map<string, number>();
  for (const message of messages) {
    if (message.registration.kind !== "legacy_jwt") {
      const seen = uses.get(message.registration.token_id) ?? 0;
      uses.set(message.registration.token_id, Math.max(seen, message.received_at));
    }
  }
  try {
    await projects.touchTokens(uses);
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

export async function consumeEvents(batch: MessageBatch<unknown>, deps: QueueDeps): Promise<void> {
  const started = Date.now();
  const { valid, feedback } = parseAll(batch);
  const random = deps.delivery.random;
  const ids = [
    ...valid.map((v) => v.message.delivery_id),
    ...feedback.map((f) => f.message.feedback_id),
  ];
  // Token use is bookkeeping no delivery waits on: alongside them, not before.
  const [, ...actions] = await Promise.all([
    touchTokens(
      valid.map((v) => v.message),
      deps.projects,
    ),
    ...valid.map(({ raw, message }) =>
      settle(
        raw,
        () => deliver(message, deps.delivery, raw.attempts > 1),
        { delivery_id: message.delivery_id },
        random,
      ),
    ),
    ...feedback.map(({ raw, message }) =>
      settle(
        raw,
        () => processFeedback(message.feedback_id, deps.feedback),
        { feedback_id: message.feedback_id },
        random,
      ),
    ),
  ]);
  // One line per batch, not per delivery: what went wrong has its own lines, and each
  // delivery's attempts are in the delivery log (GET /admin/deliveries/{id}).
  log("info", "queue batch", {
    queue: batch.queue,
    messages: batch.messages.length,
    acked: ids.filter((_, i) => actions[i] === "ack"),
    retried: ids.filter((_, i) => actions[i] === "retry"),
    duration_ms: Date.now() - started,
  });
}

/** Messages that exhausted the queue's retries: recorded as dead, replayable from admin. */
export async function consumeDeadLetters(
  batch: MessageBatch<unknown>,
  queue: QueueDeps,
): Promise<void> {
  const deps = queue.delivery;
  const { valid, feedback } = parseAll(batch);
  for (const { raw, message } of feedback) {
    await queue.feedback.repo.record(
      message.feedback_id,
      { state: "failed", attempted: false, lastError: "queue retries exhausted" },
      deps.now(),
    );
    raw.ack();
  }
  for (const { raw, message } of valid) {
    try {
      // Forced: whatever copy may still hold a lease, the queue has given up on this one.
      const { delivery } = await claimForDeadLetter(message, deps);
      await deps.deliveries.record({
        id: delivery.id,
        generation: delivery.generation,
        attempts: [],
        finish: { status: "dead", reason: "queue retries exhausted" },
        now: deps.now(),
      });
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

const EVENTS_QUEUE_SUFFIX = "-events";
const DEAD_LETTER_QUEUE_SUFFIX = "-events-dlq";

/** The queue handler: by queue name, and a queue this Worker does not know is an error. */
export async function consumeQueue(batch: MessageBatch<unknown>, deps: QueueDeps): Promise<void> {
  if (batch.queue.endsWith(DEAD_LETTER_QUEUE_SUFFIX)) {
    await consumeDeadLetters(batch, deps);
  } else if (batch.queue.endsWith(EVENTS_QUEUE_SUFFIX)) {
    await consumeEvents(batch, deps);
  } else {
    throw new Error(`no consumer for queue ${batch.queue}`);
  }
}
