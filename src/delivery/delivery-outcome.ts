/**
 * The delivery state machine, pure: given what each destination said in this run (and
 * before), decide the delivery's new status, what is recorded, and whether the queue
 * message is acked or retried, and when. No bindings, no clock, no randomness of its own.
 */

import type { DeliveryTimings } from "../config";
import type { AttemptRecord, Finish, TargetStatus } from "../domain/delivery-state";
import type { QueueDecision } from "../domain/queue-decision";
import { backoffSeconds } from "../lib/backoff";
import type { AttemptOutcome } from "./forward";

/** What an attempt's outcome makes of its destination. */
export function targetStatusOf(outcome: AttemptOutcome): TargetStatus {
  return outcome === "delivered" ? "delivered" : outcome === "transient" ? "retrying" : "rejected";
}

/** A destination already delivered, skipped or rejected is not attempted again. */
export function needsAttempt(before: TargetStatus | undefined): boolean {
  return before !== "delivered" && before !== "skipped" && before !== "rejected";
}

export type OutcomeInput = {
  /** The configured destinations, in order. */
  destinations: readonly string[];
  /** Each destination's state before this run. */
  prior: ReadonlyMap<string, TargetStatus>;
  /** What this run did, one record per destination it handled. */
  records: readonly AttemptRecord[];
  /** The largest Retry-After any destination asked for, in seconds. */
  retryAfterSeconds: number | null;
  /** The delivery's attempts before this run, and when the first one was. */
  attempts: number;
  firstAttemptAt: number | null;
  now: number;
  random: () => number;
  timings: Pick<DeliveryTimings, "backoff" | "retryWindowMs">;
};

export type Outcome = { records: AttemptRecord[]; finish: Finish; decision: QueueDecision };

/** "24 hours", "10 minutes": the retry window as the dead reason says it. */
function duration(ms: number): string {
  const [size, unit] = ms >= 3_600_000 ? [3_600_000, "hour"] : [60_000, "minute"];
  const count = Math.round(ms / size);
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

export function decideOutcome(input: OutcomeInput): Outcome {
  const { records, now } = input;
  const statusOf = (d: string) =>
    records.find((r) => r.destination === d)?.targetStatus ?? input.prior.get(d) ?? "pending";
  const states = input.destinations.map(statusOf);
  const last = records.findLast((r) => r.targetStatus !== "delivered") ?? records.at(-1);
  const summary = {
    attempted: records.some((r) => r.outcome !== "skipped"),
    lastStatusCode: last?.statusCode ?? null,
    lastError: last?.error ?? null,
  };

  if (states.includes("retrying")) {
    if (now - (input.firstAttemptAt ?? now) >= input.timings.retryWindowMs) {
      return {
        records: records.map((r) =>
          r.targetStatus === "retrying" ? { ...r, targetStatus: "dead" } : r,
        ),
        finish: {
          status: "dead",
          reason: `destinations kept failing for ${duration(input.timings.retryWindowMs)}`,
          ...summary,
        },
        decision: { action: "ack" },
      };
    }
    const delaySeconds = backoffSeconds(
      input.attempts + 1,
      input.random,
      input.retryAfterSeconds,
      input.timings.backoff,
    );
    return {
      records: [...records],
      finish: { status: "retrying", nextAttemptAt: now + delaySeconds * 1000, ...summary },
      decision: { action: "retry", delaySeconds },
    };
  }
  if (states.includes("rejected")) {
    // A refusal that names the relay's own setting says so, first, where ops look.
    const misconfigured = records.find((r) => r.error?.startsWith("configuration error"));
    return {
      records: [...records],
      finish: {
        status: "rejected",
        reason: misconfigured?.error ?? "a destination refused the event",
        ...summary,
      },
      decision: { action: "ack" },
    };
  }
  const skipped = states.every((s) => s === "skipped");
  const reason = skipped
    ? records
        .map((r) => r.error)
        .filter(Boolean)
        .join("; ") || null
    : null;
  return {
    records: [...records],
    finish: { status: skipped ? "skipped" : "delivered", reason, ...summary },
    decision: { action: "ack" },
  };
}
