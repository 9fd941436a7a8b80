/**
 * The delivery log's vocabulary: a delivery's statuses, each destination's, and what one
 * consumer run records. Shared by storage, the delivery core and the admin API.
 */

export const DELIVERY_STATUSES = [
  "queued",
  "retrying",
  "delivered",
  "duplicate",
  "skipped",
  "rejected",
  "dead",
  "undeliverable",
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** Statuses a delivery keeps until a replay: every one but queued and retrying. */
export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set(
  DELIVERY_STATUSES.filter((s) => s !== "queued" && s !== "retrying"),
);

/** What the console counts per minute: the consumer's outcomes, and ingress's ignored events. */
export const OUTCOMES = [
  "delivered",
  "duplicate",
  "ignored",
  "retrying",
  "dead",
  "rejected",
  "skipped",
  "undeliverable",
] as const;

export const TARGET_STATUSES = [
  "pending",
  "delivered",
  "retrying",
  "rejected",
  "skipped",
  "dead",
] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];

export type AttemptRecord = {
  destination: string;
  targetStatus: TargetStatus;
  outcome: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
};

export type Finish = {
  status: DeliveryStatus;
  reason?: string | null;
  nextAttemptAt?: number | null;
  lastStatusCode?: number | null;
  lastError?: string | null;
  attempted?: boolean;
};
