/**
 * The delivery log's larger queries. Listing: newest first, with keyset pagination. The SQL names only the filters
 * given, so SQLite picks the index that fits: `deliveries_project` for a project,
 * `deliveries_status` for a status, `deliveries_received` otherwise (the console's query
 * plans are tested).
 */
import { z } from "zod";
import {
  type AttemptRow,
  attemptRow,
  type DeliveryFilter,
  type DeliveryRow,
  deliveryRow,
  TARGET_COLUMNS,
  type TargetRow,
  targetRow,
} from "./delivery-rows";

export function deliveryLogQuery(
  filter: DeliveryFilter,
  limit: number,
  before?: { receivedAt: number; id: string },
): { sql: string; binds: (string | number)[] } {
  const where: string[] = [];
  const binds: (string | number)[] = [];
  const param = (value: string | number) => `?${binds.push(value)}`;
  if (filter.projectId !== undefined) {
    where.push(`project_id = ${param(filter.projectId)}`);
  }
  if (filter.status !== undefined) {
    where.push(`status = ${param(filter.status)}`);
  }
  if (filter.kind !== undefined) {
    where.push(`kind = ${param(filter.kind)}`);
  }
  if (filter.since !== undefined) {
    where.push(`received_at >= ${param(filter.since)}`);
  }
  if (filter.until !== undefined) {
    where.push(`received_at < ${param(filter.until)}`);
  }
  if (before) {
    const at = param(before.receivedAt);
    where.push(`(received_at < ${at} OR (received_at = ${at} AND id < ${param(before.id)}))`);
  }
  const limitParam = param(limit);
  return {
    sql: `SELECT * FROM deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY received_at DESC, id DESC LIMIT ${limitParam}`,
    binds,
  };
}

export async function listDeliveries(
  db: D1Database,
  filter: DeliveryFilter,
  limit: number,
  before?: { receivedAt: number; id: string },
): Promise<DeliveryRow[]> {
  const { sql, binds } = deliveryLogQuery(filter, limit, before);
  const { results } = await db
    .prepare(sql)
    .bind(...binds)
    .all();
  return z.array(deliveryRow).parse(results);
}

export async function deliveryDetails(
  db: D1Database,
  id: string,
): Promise<{ targets: TargetRow[]; attempts: AttemptRow[] }> {
  const [targets, attempts] = await db.batch([
    db
      .prepare(
        `SELECT ${TARGET_COLUMNS} FROM delivery_targets WHERE delivery_id = ?1 ORDER BY destination`,
      )
      .bind(id),
    db
      .prepare(
        "SELECT destination, attempted_at, outcome, status_code, error, duration_ms FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempted_at, destination",
      )
      .bind(id),
  ]);
  return {
    targets: z.array(targetRow).parse(targets?.results ?? []),
    attempts: z.array(attemptRow).parse(attempts?.results ?? []),
  };
}

/** Rows per purge statement, and statements per purge run (500,000 rows a night at most). */
export const PURGE_CHUNK = 1000;
const PURGE_MAX_CHUNKS = 500;

/**
 * Deletes deliveries before `cutoff` (their destinations and attempts cascade; their dedupe
 * keys go with them) and content-hash claims before `hashClaimsBefore`.
 */
export async function purgeDeliveries(
  db: D1Database,
  cutoff: number,
  hashClaimsBefore: number,
): Promise<number> {
  // In chunks on the received_at index: no statement holds D1 for long, whatever the
  // backlog; a run stops after PURGE_MAX_CHUNKS and the next night goes on.
  let deleted = 0;
  for (let chunk = 0; chunk < PURGE_MAX_CHUNKS; chunk++) {
    const [rows, hashes] = await db.batch([
      db
        .prepare(
          `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE received_at < ?1
             ORDER BY received_at LIMIT ?2)`,
        )
        .bind(cutoff, PURGE_CHUNK),
      // Content-hash claims are void after the dedupe window (the claim takes them over):
      // gone then, they cost a day of space instead of the whole retention.
      db
        .prepare(
          `DELETE FROM content_claims WHERE hash IN (SELECT hash FROM content_claims
             WHERE claimed_at < ?1 LIMIT ?2)`,
        )
        .bind(hashClaimsBefore, PURGE_CHUNK),
    ]);
    const changed = rows?.meta.changes ?? 0;
    deleted += changed;
    const more = [rows, hashes].some((r) => (r?.meta.changes ?? 0) >= PURGE_CHUNK);
    if (!more) {
      break;
    }
  }
  return deleted;
}
