/** D1 side of a delivery replay, and of re-driving deliveries whose queue message is gone. */
import { z } from "zod";
import { type DeliveryRow, deliveryRow } from "./delivery-rows";

export type ReplayStart = { id: string; from: number; message: string; now: number };

/**
 * Starts a replay of generation `from`: the delivery goes back to `queued` under the next
 * generation and the message to send (`message`, built by the caller for that generation)
 * is written to the inbox in the same transaction, so a replay never leaves a delivery
 * waiting with no message. False when the delivery is gone or another replay came first.
 */
export async function beginReplay(db: D1Database, input: ReplayStart): Promise<boolean> {
  const { id, from, message, now } = input;
  const [updated] = await db.batch([
    db
      .prepare(
        `UPDATE deliveries SET generation = ?2 + 1, status = 'queued', duplicate_of = NULL,
           reason = NULL, next_attempt_at = NULL, first_attempt_at = NULL, lease_owner = NULL,
           lease_until = NULL, updated_at = ?3
         WHERE id = ?1 AND generation = ?2`,
      )
      .bind(id, from, now),
    db
      .prepare(
        `DELETE FROM delivery_targets WHERE delivery_id = ?1
           AND (SELECT generation FROM deliveries WHERE id = ?1) = ?2 + 1`,
      )
      .bind(id, from),
    db
      .prepare(
        `INSERT INTO inbox (delivery_id, message, created_at)
         SELECT ?1, ?3, ?4 WHERE (SELECT generation FROM deliveries WHERE id = ?1) = ?2 + 1
         ON CONFLICT (delivery_id) DO UPDATE SET message = excluded.message,
           created_at = excluded.created_at, attempts = 0`,
      )
      .bind(id, from, message, now),
  ]);
  return (updated?.meta.changes ?? 0) > 0;
}

/**
 * Deliveries still `queued` or `retrying` whose next attempt is long past and that nobody
 * holds a lease on: their queue message is gone (a replay whose send failed, local queues
 * lost on restart). Each is marked re-driven now, so the next sweep leaves it a while. In the
 * status index's order (oldest first within each status): no sort of the whole backlog.
 */
export async function staleDeliveries(
  db: D1Database,
  input: { dueBefore: number; now: number; limit: number },
): Promise<DeliveryRow[]> {
  const { results } = await db
    .prepare(
      `UPDATE deliveries SET updated_at = ?2, next_attempt_at = ?2
       WHERE id IN (SELECT id FROM deliveries
         WHERE status IN ('queued', 'retrying') AND coalesce(next_attempt_at, updated_at) < ?1
           AND (lease_until IS NULL OR lease_until < ?2)
         LIMIT ?3)
       RETURNING *`,
    )
    .bind(input.dueBefore, input.now, input.limit)
    .all();
  return z.array(deliveryRow).parse(results);
}
