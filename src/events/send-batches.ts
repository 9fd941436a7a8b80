/** Sends queue messages in batches within Queues' limits (100 messages, 256 KB per batch). */

import type { QueueMessage } from "../domain/queue-message";
import { utf8 } from "../lib/encoding";

const BATCH_MESSAGES = 100;
const BATCH_BYTES = 240_000;

export type Outgoing<T> = { ref: T; message: QueueMessage };

/**
 * Calls `onSent` with the refs of each batch the queue took and `onFailed` with those of a
 * batch it refused, then goes on with the next batch.
 */
export async function sendInBatches<T>(
  queue: Pick<Queue<QueueMessage>, "sendBatch">,
  items: readonly Outgoing<T>[],
  onSent: (refs: T[]) => Promise<void>,
  onFailed: (refs: T[], error: unknown) => Promise<void>,
): Promise<void> {
  let batch: Outgoing<T>[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) {
      return;
    }
    const refs = batch.map((item) => item.ref);
    try {
      await queue.sendBatch(
        batch.map((item) => ({ body: item.message, contentType: "json" as const })),
      );
      await onSent(refs);
    } catch (err) {
      await onFailed(refs, err);
    }
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    const size = utf8(JSON.stringify(item.message)).byteLength;
    if (batch.length === BATCH_MESSAGES || bytes + size > BATCH_BYTES) {
      await flush();
    }
    batch.push(item);
    bytes += size;
  }
  await flush();
}
