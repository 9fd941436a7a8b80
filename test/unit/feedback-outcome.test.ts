import { describe, expect, it } from "vitest";
import { type FeedbackAttempt, settleFeedback } from "../../src/feedback/feedback-outcome";
import { classify, type GitlabAnswer } from "../../src/feedback/gitlab-api";

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const HOUR = 3600_000;

function attempt(status: number | null, body: unknown = null, extra: Partial<GitlabAnswer> = {}) {
  const answer: GitlabAnswer = {
    status,
    body,
    text: status === null ? "" : `answer ${status}`,
    retryAfter: null,
    rateLimitReset: null,
    error: status === null ? "connection refused" : null,
    ...extra,
  };
  return { answer, classified: classify("status", answer) } satisfies FeedbackAttempt;
}

type Row = {
  name: string;
  attempt: FeedbackAttempt;
  firstAttemptAt?: number;
  usedProjectToken?: boolean;
  state: string;
  decision: { action: "ack" } | { action: "retry"; delaySeconds: number };
  effects?: unknown[];
  lastError?: string | null;
};

const rows: Row[] = [
  {
    name: "created: done",
    attempt: attempt(201, { id: 9 }),
    state: "done",
    decision: { action: "ack" },
    lastError: null,
  },
  {
    name: "the status already holds: done",
    attempt: attempt(400, { message: "Cannot transition status via :run from :running" }),
    state: "done",
    decision: { action: "ack" },
  },
  {
    name: "GitLab's per-commit lock: retried after 1-2 s",
    attempt: attempt(409, { message: "409 Conflict" }),
    state: "retrying",
    decision: { action: "retry", delaySeconds: 2 },
  },
  {
    name: "429 with Retry-After: the instance pauses, no attempt spent",
    attempt: attempt(429, null, { retryAfter: 120 }),
    state: "retrying",
    decision: { action: "retry", delaySeconds: 120 },
    effects: [{ type: "pause_instance", until: NOW + 120_000 }],
  },
  {
    name: "5xx within 6 hours: backoff",
    attempt: attempt(502),
    firstAttemptAt: NOW - HOUR,
    state: "retrying",
    decision: { action: "retry", delaySeconds: 29 }, // full jitter under 30 s
  },
  {
    name: "network error after 6 hours: failed",
    attempt: attempt(null),
    firstAttemptAt: NOW - 6 * HOUR,
    state: "failed",
    decision: { action: "ack" },
    lastError: "gave up after 6 hours: connection refused",
  },
  {
    name: "401 with the project's token: that credential is broken",
    attempt: attempt(401),
    usedProjectToken: true,
    state: "failed",
    decision: { action: "ack" },
    effects: [{ type: "credential_broken", which: "project" }],
  },
  {
    name: "401 with the instance's token: the instance's credential is broken",
    attempt: attempt(401),
    state: "failed",
    decision: { action: "ack" },
    effects: [{ type: "credential_broken", which: "instance" }],
  },
  {
    name: "a 2xx without what GitLab returns: a recorded failure",
    attempt: attempt(200, { nothing: true }),
    state: "failed",
    decision: { action: "ack" },
    lastError: "unexpected GitLab response: answer 200",
  },
  {
    name: "403 without a fallback: failed",
    attempt: attempt(403),
    state: "failed",
    decision: { action: "ack" },
  },
];

describe("settleFeedback", () => {
  it.each(rows)("$name", (row) => {
    const settled = settleFeedback({
      attempt: row.attempt,
      attempts: 0,
      firstAttemptAt: row.firstAttemptAt ?? null,
      usedProjectToken: row.usedProjectToken ?? false,
      now: NOW,
      random: () => 0.999,
    });
    expect(settled.outcome.state).toBe(row.state);
    expect(settled.decision).toEqual(row.decision);
    expect(settled.effects).toEqual(row.effects ?? []);
    if (row.lastError !== undefined) {
      expect(settled.outcome.lastError ?? null).toBe(row.lastError);
    }
    if (settled.decision.action === "retry" && row.state === "retrying") {
      expect(settled.outcome.nextAttemptAt).toBe(NOW + settled.decision.delaySeconds * 1000);
    }
    expect(settled.outcome.attempted).toBe(row.attempt.classified.kind !== "rate_limited");
  });
});
