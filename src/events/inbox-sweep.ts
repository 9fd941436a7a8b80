/**
 * Cron: moves events from the D1 inbox into the queue. A row is deleted only after its
 * send succeeded; a crash in between re-sends it next time, and the consumer's dedupe
 * key makes that harmless.
 */

import { type QueueMessage, queueMessage } from "../domain/queue-message";
import { log } from "../lib/logger";
import type { InboxRepo } from "../storage/inbox-repo";
import { type Outgoing, sendInBatches } from "./send-batches";

const SWEEP_LIMIT = 500;

export type SweepResult = { sent: number; failed: number; malformed: number };

/**
 * Rows younger than this are left alone: their writer may still be handing the same message
 * to the queue (feedback intake), and sending it twice would perform it twice.
 */
export const INBOX_GRACE_MS = 60_000;

export async function sweepInbox(
  inbox: Pick<InboxRepo, "oldest" | "delete" | "markAttempt">,
  queue: Pick<Queue<QueueMessage>, "sendBatch">,
  now: number,
): Promise<SweepResult> {
  const rows = await inbox.oldest(SWEEP_LIMIT, now - INBOX_GRACE_MS);
  const result: SweepResult = { sent: 0, failed: 0, malformed: 0 };
  const items: Outgoing<string>[] = [];
  for (const row of rows) {
    let parsed: ReturnType<typeof queueMessage.safeParse>;
    try {
      parsed = queueMessage.safeParse(JSON.parse(row.message));
    } catch {
      parsed = queueMessage.safeParse(undefined);
    }
    if (parsed.success) {
      items.push({ ref: row.delivery_id, message: parsed.data });
    } else {
      // Kept for an operator to inspect; it would fail the consumer's schema as well.
      log("error", "inbox row is not a valid queue message", { delivery_id: row.delivery_id });
      result.malformed++;
    }
  }
  await sendInBatches(
    queue,
    items,
    async (ids) => {
      await inbox.delete(ids);
      result.sent += ids.length;
    },
    async (ids, err) => {
      log("warn", "inbox sweep could not enqueue a batch", {
        count: ids.length,
        error: String(err),
      });
      await inbox.markAttempt(ids);
      result.failed += ids.length;
    },
  );
  return result;
}
