/** How the delivery log is shown by the admin API, its cursors and filters. */
import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES, TARGET_STATUSES } from "../domain/delivery-state";
import { AppError } from "../errors";
import { fromBase64, toBase64Url, utf8 } from "../lib/encoding";
import { isoOrNull } from "../lib/time";
import type { DeliveryFilter, DeliveryRow } from "../storage/deliveries-repo";

export const deliverySchema = z
  .object({
    id: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    kind: z.string(),
    instance_url: z.string().nullable(),
    project_id: z.number().int().nullable(),
    project_path: z.string().nullable(),
    registration_id: z.string().nullable(),
    dedupe_key: z.string(),
    duplicate_of: z.string().nullable(),
    reason: z.string().nullable(),
    attempts: z.number().int(),
    received_at: z.string(),
    first_attempt_at: z.string().nullable(),
    last_attempt_at: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
  })
  .openapi("Delivery");

export const deliveryDetailSchema = deliverySchema
  .extend({
    generation: z.number().int(),
    body_storage: z.enum(["inline", "r2", "unknown"]),
    destinations: z.array(
      z.object({
        destination: z.string(),
        status: z.enum(TARGET_STATUSES),
        attempts: z.number().int(),
        last_status_code: z.number().int().nullable(),
        last_error: z.string().nullable(),
        delivered_at: z.string().nullable(),
      }),
    ),
    history: z.array(
      z.object({
        destination: z.string(),
        attempted_at: z.string(),
        outcome: z.string(),
        status_code: z.number().int().nullable(),
        error: z.string().nullable(),
        duration_ms: z.number().int(),
      }),
    ),
  })
  .openapi("DeliveryDetail");

export function summary(row: DeliveryRow): z.infer<typeof deliverySchema> {
  return {
    id: row.id,
    status: row.status,
    kind: row.kind,
    instance_url: row.instance_url,
    project_id: row.project_id,
    project_path: row.project_path,
    registration_id: row.registration_id,
    dedupe_key: row.dedupe_key,
    duplicate_of: row.duplicate_of,
    reason: row.reason,
    attempts: row.attempts,
    received_at: new Date(row.received_at).toISOString(),
    first_attempt_at: isoOrNull(row.first_attempt_at),
    last_attempt_at: isoOrNull(row.last_attempt_at),
    next_attempt_at: isoOrNull(row.next_attempt_at),
    last_status_code: row.last_status_code,
    last_error: row.last_error,
  };
}

export function encodeCursor(row: DeliveryRow): string {
  return toBase64Url(utf8(`${row.received_at}:${row.id}`));
}

export function decodeCursor(cursor: string): { receivedAt: number; id: string } {
  const bytes = fromBase64(cursor);
  const match = bytes ? /^(\d+):(.+)$/.exec(new TextDecoder().decode(bytes)) : null;
  if (!match?.[1] || !match[2]) {
    throw new AppError("validation_failed", "cursor: not a cursor this API returned");
  }
  return { receivedAt: Number(match[1]), id: match[2] };
}

export function toFilter(input: {
  project_id?: number | undefined;
  status?: DeliveryFilter["status"];
  kind?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
}): DeliveryFilter {
  return {
    projectId: input.project_id,
    status: input.status,
    kind: input.kind,
    since: input.since,
    until: input.until,
  };
}
