/**
 * The delivery log, newest first, with keyset pagination. The SQL names only the filters
 * given, so SQLite picks the index that fits: `deliveries_project` for a project,
 * `deliveries_status` for a status, `deliveries_received` otherwise (the console's query
 * plans are tested).
 */
import { z } from "zod";
import { type DeliveryFilter, type DeliveryRow, deliveryRow } from "./delivery-rows";

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
