/**
 * Durably stores one accepted webhook: the queue first, the D1 inbox when the queue
 * refuses. Bodies too large for a queue message travel gzipped when that fits, else go to R2
 * first and the message carries the key. Resolves only once one store holds the event; otherwise throws 503.
 */

import type { QueueMessage, WebhookMessage } from "../domain/queue-message";
import { bodyKey } from "../domain/stored-message";
import { AppError } from "../errors";
import { gzip } from "../lib/compression";
import { toBase64, utf8 } from "../lib/encoding";
import { log } from "../lib/logger";
import { putBody } from "../storage/bodies";
import type { InboxRepo } from "../storage/inbox-repo";

/** Queues take 128 KB per message, about 100 B of it metadata: keep a wide margin. */
export const MAX_MESSAGE_BYTES = 100_000;

/**
 * Bodies up to this size that do not fit as text are gzipped to see whether they fit so:
 * GitLab's JSON (a pipeline's jobs, a pasted log) shrinks 5 to 20 times, and the queue then
 * carries it without an R2 write before GitLab is answered. Larger ones go to R2 at once
 * (compressing megabytes to find they do not fit would cost more than the write).
 */
const GZIP_UP_TO_BYTES = 1024 * 1024;

export type EnqueueDeps = {
  queue: Pick<Queue<QueueMessage>, "send">;
  bodies: Pick<R2Bucket, "put">;
  inbox: Pick<InboxRepo, "insert">;
};

export type StoredIn = "queue" | "inbox";

const inlineDecoder = new TextDecoder();

/**
 * A bound on the JSON size of a message whose inline text came from `bodyBytes` of UTF-8:
 * escaping turns a byte into at most 6 characters (`\u00XX`), each one byte, and the rest of
 * the message is metadata of a few KB at most. Under the limit by this bound, the message is
 * never serialized here just to be measured.
 */
function surelyFits(bodyBytes: number): boolean {
  return bodyBytes * 6 + 8192 <= MAX_MESSAGE_BYTES;
}

export async function buildMessage(
  draft: Omit<WebhookMessage, "body">,
  body: { bytes: Uint8Array<ArrayBuffer>; sha256: string },
  bodies: EnqueueDeps["bodies"],
): Promise<WebhookMessage> {
  const meta = { size: body.bytes.byteLength, sha256: body.sha256 };
  if (body.bytes.byteLength < MAX_MESSAGE_BYTES) {
    const message: WebhookMessage = {
      ...draft,
      // Small bodies only: decoded here, once, to travel inline (ingress checked the UTF-8).
      body: { storage: "inline", text: inlineDecoder.decode(body.bytes), ...meta },
    };
    if (
      surelyFits(body.bytes.byteLength) ||
      utf8(JSON.stringify(message)).byteLength <= MAX_MESSAGE_BYTES
    ) {
      return message;
    }
  }
  if (body.bytes.byteLength <= GZIP_UP_TO_BYTES) {
    const data = toBase64(await gzip(body.bytes));
    // Base64 needs no escaping: its length is its JSON size.
    if (data.length + 8192 <= MAX_MESSAGE_BYTES) {
      return { ...draft, body: { storage: "gzip", data, ...meta } };
    }
  }
  const key = bodyKey(body.sha256, draft.received_at);
  try {
    await putBody(bodies, key, body.bytes, body.sha256);
  } catch (err) {
    throw new AppError(
      "unavailable",
      "the relay cannot store this event right now",
      { "Retry-After": "30" },
      { cause: err },
    );
  }
  return { ...draft, body: { storage: "r2", key, ...meta } };
}

/** `id` names the message in the inbox and in logs: a delivery id or a feedback id. */
export async function storeMessage(
  deps: EnqueueDeps,
  id: string,
  message: QueueMessage,
  now: number,
): Promise<StoredIn> {
  try {
    await deps.queue.send(message, { contentType: "json" });
    return "queue";
  } catch (queueError) {
    log("warn", "queue refused a message, writing it to the inbox", {
      id,
      error: String(queueError),
    });
  }
  try {
    // Serialized only on this rare path: the queue takes the object as it is.
    await deps.inbox.insert(id, JSON.stringify(message), now);
    return "inbox";
  } catch (inboxError) {
    throw new AppError(
      "unavailable",
      "the relay cannot store this event right now",
      { "Retry-After": "30" },
      { cause: inboxError },
    );
  }
}

/**
 * Hands the queue a message that is already durable in the inbox (written with the change it
 * belongs to), then clears the inbox row. Should the queue refuse, or the row stay, the cron
 * sweep sends it a minute later: never lost, at worst late.
 */
export async function sendStored(
  deps: Pick<EnqueueDeps, "queue"> & { inbox: Pick<InboxRepo, "delete"> },
  id: string,
  message: QueueMessage,
  delaySeconds?: number,
): Promise<void> {
  try {
    await deps.queue.send(message, {
      contentType: "json",
      ...(delaySeconds ? { delaySeconds } : {}),
    });
  } catch (err) {
    log("warn", "queue refused a stored message; the inbox sweep will send it", {
      id,
      error: String(err),
    });
    return;
  }
  await deps.inbox.delete([id]).catch((err) => {
    log("warn", "could not clear an inbox row", { id, error: String(err) });
  });
}
