/**
 * Cron: deliveries left `queued` or `retrying` with no queue message (their next attempt is
 * long past) get their message again. Safe to send twice: the claim's lease lets one copy
 * forward at a time, and a finished delivery acks any late copy.
 */

import type { QueueMessage } from "../domain/queue-message";
import { webhookMessage } from "../domain/queue-message";
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
  const messages: { body: QueueMessage; contentType: "json" }[] = [];
  for (const row of rows) {
    let parsed: ReturnType<typeof webhookMessage.safeParse>;
    try {
      parsed = webhookMessage.safeParse(JSON.parse(row.message));
    } catch {
      parsed = webhookMessage.safeParse(undefined);
    }
    if (parsed.success) {
      messages.push({ body: { ...parsed.data, generation: row.generation }, contentType: "json" });
    } else {
      log("error", "stuck delivery has no replayable message", { delivery_id: row.id });
    }
  }
  if (messages.length > 0) {
    await queue.sendBatch(messages);
    log("warn", "stuck deliveries re-driven", { count: messages.length });
  }
  return messages.length;
}
