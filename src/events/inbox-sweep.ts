/**
 * Cron: moves events from the D1 inbox into the queue. A row is deleted only after its
 * send succeeded; a crash in between re-sends it next time, and the consumer's dedupe
 * key makes that harmless.
 */
import { utf8 } from "../lib/encoding";
import { log } from "../lib/logger";
import type { InboxRepo } from "../storage/inbox-repo";
import { type QueueMessage, queueMessage } from "./queue-message";

const SWEEP_LIMIT = 500;
/** sendBatch takes at most 100 messages and 256 KB. */
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 240_000;

export type SweepResult = { sent: number; failed: number; malformed: number };

export async function sweepInbox(
  inbox: Pick<InboxRepo, "oldest" | "delete" | "markAttempt">,
  queue: Pick<Queue<QueueMessage>, "sendBatch">,
): Promise<SweepResult> {
  const rows = await inbox.oldest(SWEEP_LIMIT);
  const result: SweepResult = { sent: 0, failed: 0, malformed: 0 };
  let batch: { id: string; message: QueueMessage; bytes: number }[] = [];
  let batchBytes = 0;

  const flush = async () => {
    if (batch.length === 0) {
      return;
    }
    const ids = batch.map((item) => item.id);
    try {
      await queue.sendBatch(
        batch.map((item) => ({ body: item.message, contentType: "json" as const })),
      );
      await inbox.delete(ids);
      result.sent += ids.length;
    } catch (err) {
      log("warn", "inbox sweep could not enqueue a batch", {
        count: ids.length,
        error: String(err),
      });
      await inbox.markAttempt(ids);
      result.failed += ids.length;
    }
    batch = [];
    batchBytes = 0;
  };

  for (const row of rows) {
    let parsed: ReturnType<typeof queueMessage.safeParse>;
    try {
      parsed = queueMessage.safeParse(JSON.parse(row.message));
    } catch {
      parsed = queueMessage.safeParse(undefined);
    }
    if (!parsed.success) {
      // Kept for an operator to inspect; it would fail the consumer's schema as well.
      log("error", "inbox row is not a valid queue message", { delivery_id: row.delivery_id });
      result.malformed++;
      continue;
    }
    const bytes = utf8(row.message).byteLength;
    if (batch.length === BATCH_MESSAGES || batchBytes + bytes > BATCH_BYTES) {
      await flush();
    }
    batch.push({ id: row.delivery_id, message: parsed.data, bytes });
    batchBytes += bytes;
  }
  await flush();
  return result;
}
