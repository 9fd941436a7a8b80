import { describe, expect, it } from "vitest";
import { decideOutcome, needsAttempt, targetStatusOf } from "../../src/delivery/delivery-outcome";
import type { AttemptRecord, TargetStatus } from "../../src/domain/delivery-state";

/** The documented defaults (RETRY_BASE_SECONDS 30, RETRY_CAP_SECONDS 3600, a 24 h window). */
const DEFAULT_TIMINGS = {
  backoff: { baseSeconds: 30, capSeconds: 3600 },
  retryWindowMs: 24 * 3600 * 1000,
};
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const HOUR = 3600_000;
const half = () => 0.5;

function rec(destination: string, targetStatus: TargetStatus, extra: Partial<AttemptRecord> = {}) {
  return {
    destination,
    targetStatus,
    outcome:
      targetStatus === "delivered"
        ? "delivered"
        : targetStatus === "skipped"
          ? "skipped"
          : targetStatus === "rejected"
            ? "permanent"
            : "transient",
    statusCode: targetStatus === "delivered" ? 202 : targetStatus === "rejected" ? 400 : 503,
    error: targetStatus === "delivered" ? null : `${destination} said no`,
    durationMs: 10,
    ...extra,
  } satisfies AttemptRecord;
}

type Row = {
  name: string;
  destinations: string[];
  prior?: [string, TargetStatus][];
  records: AttemptRecord[];
  attempts?: number;
  firstAttemptAt?: number | null;
  retryAfter?: number | null;
  status: string;
  decision: { action: "ack" } | { action: "retry"; delaySeconds: number };
  reason?: string | null;
};

const rows: Row[] = [
  {
    name: "every destination delivered",
    destinations: ["packit", "events"],
    records: [rec("packit", "delivered"), rec("events", "delivered")],
    status: "delivered",
    decision: { action: "ack" },
    reason: null,
  },
  {
    name: "one delivered now, the other delivered before",
    destinations: ["packit", "events"],
    prior: [["events", "delivered"]],
    records: [rec("packit", "delivered")],
    status: "delivered",
    decision: { action: "ack" },
  },
  {
    name: "a refusal wins over a delivery",
    destinations: ["packit", "events"],
    records: [rec("packit", "rejected"), rec("events", "delivered")],
    status: "rejected",
    decision: { action: "ack" },
    reason: "a destination refused the event",
  },
  {
    name: "a transient failure retries (full jitter over 30 s first), even next to a refusal",
    destinations: ["packit", "events"],
    records: [rec("packit", "rejected"), rec("events", "retrying")],
    attempts: 0,
    status: "retrying",
    decision: { action: "retry", delaySeconds: 15 },
  },
  {
    name: "Retry-After is honoured as the floor",
    destinations: ["packit"],
    records: [rec("packit", "retrying")],
    attempts: 0,
    retryAfter: 600,
    status: "retrying",
    decision: { action: "retry", delaySeconds: 600 },
  },
  {
    name: "after 24 hours of failures: dead, and the failing destinations too",
    destinations: ["packit"],
    records: [rec("packit", "retrying")],
    attempts: 30,
    firstAttemptAt: NOW - 24 * HOUR,
    status: "dead",
    decision: { action: "ack" },
    reason: "destinations kept failing for 24 hours",
  },
  {
    name: "every destination skipped: the reasons joined",
    destinations: ["packit", "events"],
    records: [rec("packit", "skipped"), rec("events", "skipped", { error: "bot note" })],
    status: "skipped",
    decision: { action: "ack" },
    reason: "packit said no; bot note",
  },
  {
    name: "skipped and delivered is delivered",
    destinations: ["packit", "events"],
    records: [rec("packit", "skipped"), rec("events", "delivered")],
    status: "delivered",
    decision: { action: "ack" },
  },
];

describe("decideOutcome", () => {
  it.each(rows)("$name", (row) => {
    const outcome = decideOutcome({
      destinations: row.destinations,
      prior: new Map(row.prior ?? []),
      records: row.records,
      retryAfterSeconds: row.retryAfter ?? null,
      attempts: row.attempts ?? 0,
      firstAttemptAt: row.firstAttemptAt ?? null,
      now: NOW,
      random: half,
      timings: DEFAULT_TIMINGS,
    });
    expect(outcome.finish.status).toBe(row.status);
    expect(outcome.decision).toEqual(row.decision);
    if (row.reason !== undefined) {
      expect(outcome.finish.reason ?? null).toBe(row.reason);
    }
    if (row.status === "retrying" && outcome.decision.action === "retry") {
      expect(outcome.finish.nextAttemptAt).toBe(NOW + outcome.decision.delaySeconds * 1000);
    }
    if (row.status === "dead") {
      expect(outcome.records.every((r) => r.targetStatus !== "retrying")).toBe(true);
      expect(outcome.records.map((r) => r.targetStatus)).toEqual(["dead"]);
    }
  });

  it("summarises the last failure, and whether anything was attempted", () => {
    const outcome = decideOutcome({
      destinations: ["packit", "events"],
      prior: new Map(),
      records: [rec("packit", "retrying", { statusCode: 502 }), rec("events", "delivered")],
      retryAfterSeconds: null,
      attempts: 2,
      firstAttemptAt: NOW - HOUR,
      now: NOW,
      random: half,
      timings: DEFAULT_TIMINGS,
    });
    expect(outcome.finish).toMatchObject({
      attempted: true,
      lastStatusCode: 502,
      lastError: "packit said no",
    });
  });

  it("reads each attempt's outcome and which destinations still need one", () => {
    expect(targetStatusOf("delivered")).toBe("delivered");
    expect(targetStatusOf("transient")).toBe("retrying");
    expect(targetStatusOf("permanent")).toBe("rejected");
    expect(
      [undefined, "pending", "retrying", "delivered", "skipped", "rejected"].map((s) =>
        needsAttempt(s as TargetStatus | undefined),
      ),
    ).toEqual([true, true, true, false, false, false]);
  });
});
