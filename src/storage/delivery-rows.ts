/** The delivery log's D1 rows as zod reads them (every read is validated, never cast). */
import { z } from "zod";
import { DELIVERY_STATUSES, type DeliveryStatus, TARGET_STATUSES } from "../domain/delivery-state";

export const deliveryRow = z.object({
  id: z.string(),
  generation: z.number().int(),
  dedupe_key: z.string(),
  content_hash: z.string(),
  registration_id: z.string().nullable(),
  instance_url: z.string().nullable(),
  project_id: z.number().int().nullable(),
  project_path: z.string().nullable(),
  kind: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  duplicate_of: z.string().nullable(),
  reason: z.string().nullable(),
  attempts: z.number().int(),
  received_at: z.number(),
  first_attempt_at: z.number().nullable(),
  last_attempt_at: z.number().nullable(),
  next_attempt_at: z.number().nullable(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  ingress_ms: z.number().int().nullable(),
  lease_owner: z.string().nullable(),
  lease_until: z.number().nullable(),
  message: z.string(),
  updated_at: z.number(),
});
export type DeliveryRow = z.infer<typeof deliveryRow>;

/** What the consumer reads back after a claim: the state it decides on, not the whole row. */
export const claimedRow = deliveryRow.pick({
  id: true,
  generation: true,
  status: true,
  duplicate_of: true,
  attempts: true,
  first_attempt_at: true,
  lease_owner: true,
  lease_until: true,
});
/** Its columns, for the SELECT: the schema is the one list. */
export const CLAIMED_COLUMNS = Object.keys(claimedRow.shape).join(", ");
export type ClaimedRow = z.infer<typeof claimedRow>;
/** The claim's read-back: the row, and whether its sender's registration still exists. */
export const claimedWithRegistration = claimedRow.extend({ registered: z.number() });

export const targetRow = z.object({
  destination: z.string(),
  status: z.enum(TARGET_STATUSES),
  attempts: z.number().int(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.number().nullable(),
});
export type TargetRow = z.infer<typeof targetRow>;
/** What the claim and the delivery view read of a destination: its schema's fields. */
export const TARGET_COLUMNS = Object.keys(targetRow.shape).join(", ");

export const attemptRow = z.object({
  destination: z.string(),
  attempted_at: z.number(),
  outcome: z.string(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
});
export type AttemptRow = z.infer<typeof attemptRow>;

export type DeliveryFilter = {
  projectId?: number | undefined;
  status?: DeliveryStatus | undefined;
  kind?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
};
