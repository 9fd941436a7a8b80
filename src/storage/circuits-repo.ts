/** D1 access to the destinations' circuit breakers (delivery/circuit.ts decides). */
import { z } from "zod";
import { deliveryRow } from "./delivery-rows";

const circuitRow = z.object({
  destination: z.string(),
  state: z.enum(["closed", "open", "half_open"]),
  failures: z.number().int(),
  opened_at: z.number().nullable(),
  retry_at: z.number().nullable(),
  probe_until: z.number().nullable(),
  open_count: z.number().int(),
  version: z.number().int(),
});
export type CircuitRow = z.infer<typeof circuitRow>;

export class CircuitsRepo {
  constructor(private readonly db: D1Database) {}

  async all(): Promise<CircuitRow[]> {
    const { results } = await this.db.prepare("SELECT * FROM circuits ORDER BY destination").all();
    return z.array(circuitRow).parse(results);
  }

  async get(destination: string): Promise<CircuitRow | null> {
    const row = await this.db
      .prepare("SELECT * FROM circuits WHERE destination = ?1")
      .bind(destination)
      .first();
    return row ? circuitRow.parse(row) : null;
  }

  /**
   * Deliveries parked behind `destination`'s circuit (retrying there, not leased), oldest
   * first, with their stored messages: re-driven at once when the circuit closes. Marks them
   * due now, so the stale-row sweep does not send them again.
   */
  async parked(destination: string, now: number, limit: number) {
    const { results } = await this.db
      .prepare(
        `UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?2
         WHERE id IN (SELECT d.id FROM deliveries d
           JOIN delivery_targets t ON t.delivery_id = d.id AND t.destination = ?1 AND t.status = 'retrying'
           WHERE d.status = 'retrying' AND (d.lease_until IS NULL OR d.lease_until < ?2)
           ORDER BY d.received_at LIMIT ?3)
         RETURNING *`,
      )
      .bind(destination, now, limit)
      .all();
    return z.array(deliveryRow).parse(results);
  }

  /**
   * One parked delivery due at `at` instead of after its park (its circuit closed meanwhile),
   * unless it has moved on (another copy holds it, or it finished).
   */
  async unpark(id: string, generation: number, at: number, now: number): Promise<void> {
    await this.db
      .prepare(
        `UPDATE deliveries SET next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1 AND generation = ?2
           AND status = 'retrying' AND lease_owner IS NULL`,
      )
      .bind(id, generation, at, now)
      .run();
  }

  /**
   * Writes `next` if the stored circuit is still at `next.version` (or absent, for version
   * 0): compare-and-set between concurrent consumers. True when written.
   */
  async put(next: CircuitRow, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `INSERT INTO circuits (destination, state, failures, opened_at, retry_at, probe_until, open_count, version, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 + 1, ?9)
         ON CONFLICT (destination) DO UPDATE SET state = ?2, failures = ?3, opened_at = ?4,
           retry_at = ?5, probe_until = ?6, open_count = ?7, version = ?8 + 1, updated_at = ?9
         WHERE circuits.version = ?8`,
      )
      .bind(
        next.destination,
        next.state,
        next.failures,
        next.opened_at,
        next.retry_at,
        next.probe_until,
        next.open_count,
        next.version,
        now,
      )
      .run();
    return result.meta.changes > 0;
  }
}
