/**
 * Cron: deliveries left `queued` or `retrying` with no queue message (their next attempt is
 * long past) get their message again. Safe to send twice: the claim's lease lets one copy
 * forward at a time, and a finished delivery acks any late copy.
 */

import type { QueueMessage } from "../domain/queue-message";
import { fromStored } from "../domain/stored-message";
import { type Outgoing, sendInBatches } from "../events/send-batches";
import { log } from "../lib/logger";
import type { DeliveriesRepo } from "../storage/deliveries-repo";

/** How long past its next attempt a delivery must be before it counts as stuck. */
export const STUCK_AFTER_MS = 15 * 60_000;
const LIMIT = 100;

export async function redriveStuck(
  deliveries: Pick<DeliveriesRepo, "stale">,
  queue: Pick<Queue<QueueMessage>, "sendBatch">,
  now: number,
): Promise<number> {
  const rows = await deliveries.stale({ dueBefore: now - STUCK_AFTER_MS, now, limit: LIMIT });
  const items: Outgoing<string>[] = [];
  for (const row of rows) {
    const message = fromStored(row);
    if (message) {
      items.push({ ref: row.id, message });
    } else {
      log("error", "stuck delivery has no replayable message", { delivery_id: row.id });
    }
  }
  // Within Queues' batch limits (older stored messages carry bodies up to 100 KB). A batch the
  // queue refuses stays marked: the next sweep after STUCK_AFTER_MS tries it again.
  let sent = 0;
  await sendInBatches(
    queue,
    items,
    async (ids) => {
      sent += ids.length;
    },
    async (ids, err) => {
      log("warn", "could not re-drive stuck deliveries", { count: ids.length, error: String(err) });
    },
  );
  if (sent > 0) {
    log("warn", "stuck deliveries re-driven", { count: sent });
  }
  return sent;
}
