/** Producing queue messages through the real ingress and consuming them with real batches. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import {
  type FeedbackMessage,
  type QueueMessage,
  queueMessage,
  type WebhookMessage,
} from "../../src/domain/queue-message";
import worker from "../../src/index";
import { sendWebhook, type WebhookInput } from "./webhooks";

export const EVENTS_QUEUE_NAME = "packit-gitlab-relay-events";

/**
 * A producer binding that keeps messages instead of sending them, so miniflare's own
 * consumer never races the test's explicit batches.
 */
export function capturingQueue() {
  const sent: WebhookMessage[] = [];
  const feedback: FeedbackMessage[] = [];
  const keep = (body: unknown) => {
    const message: QueueMessage = queueMessage.parse(body);
    if (message.type === "gitlab_webhook") {
      sent.push(message);
    } else {
      feedback.push(message);
    }
  };
  const queue: Queue = {
    metrics: () => env.EVENTS_QUEUE.metrics(),
    async send(message) {
      keep(message);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
    async sendBatch(messages) {
      for (const m of messages) {
        keep(m.body);
      }
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
  };
  return { queue, sent, feedback };
}

/** Sends a webhook through ingress and returns the message it queued. */
export async function ingest(input: WebhookInput): Promise<WebhookMessage> {
  const { queue, sent } = capturingQueue();
  const res = await sendWebhook(input, { EVENTS_QUEUE: queue });
  expect(res.status).toBe(202);
  expect(sent).toHaveLength(1);
  const [message] = sent;
  if (!message) {
    throw new Error("nothing queued");
  }
  return message;
}

let counter = 0;

/** Runs one real queue batch through the consumer and returns what it acked and retried. */
export async function consume(
  messages: { body: unknown; attempts?: number; id?: string }[],
  overrides: Partial<Env> = {},
  queueName = EVENTS_QUEUE_NAME,
) {
  const batch = createMessageBatch(
    queueName,
    messages.map((m) => ({
      id: m.id ?? `msg-${++counter}`,
      timestamp: new Date(),
      attempts: m.attempts ?? 1,
      body: m.body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides }, ctx);
  return getQueueResult(batch, ctx);
}
