/** The small pure functions the relay's decisions rest on, with injected randomness and time. */
import { describe, expect, it } from "vitest";
import { attempt, classifyStatus, FORWARD_TIMEOUT_MS } from "../../src/delivery/forward";
import {
  classify,
  type GitlabAnswer,
  gitlabState,
  inertMarkdown,
  neutralizeBroadMentions,
  neutralizeQuickActions,
  resumeAt,
  trimDescription,
} from "../../src/feedback/gitlab-api";
import {
  BASE_DELAY_SECONDS,
  backoffSeconds,
  CAP_DELAY_SECONDS,
  MAX_DELAY_SECONDS,
  parseRetryAfter,
} from "../../src/lib/backoff";
import { maskString, redact } from "../../src/lib/logger";

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

describe("backoffSeconds: full jitter under a doubling ceiling", () => {
  it.each([
    [1, 30],
    [2, 60],
    [3, 120],
    [7, 1920],
    [8, CAP_DELAY_SECONDS],
    [50, CAP_DELAY_SECONDS],
  ])("attempt %i waits below %i s", (attempt, ceiling) => {
    expect(backoffSeconds(attempt, () => 0)).toBe(0);
    expect(backoffSeconds(attempt, () => 0.999999)).toBe(ceiling - 1);
    expect(backoffSeconds(attempt, () => 0.5)).toBe(Math.floor(ceiling / 2));
  });

  it("never waits less than Retry-After, nor longer than Queues allows", () => {
    expect(backoffSeconds(1, () => 0, 90)).toBe(90);
    expect(backoffSeconds(1, () => 0.9, 5)).toBe(27);
    expect(backoffSeconds(1, () => 0, 10 * 24 * 3600)).toBe(MAX_DELAY_SECONDS);
    expect(backoffSeconds(0, () => 0.5)).toBe(BASE_DELAY_SECONDS / 2);
  });
});

describe("parseRetryAfter", () => {
  it.each([
    ["120", 120],
    [" 0 ", 0],
    [new Date(NOW + 90_500).toUTCString(), 90],
    [new Date(NOW - 60_000).toUTCString(), 0],
    ["soon", null],
    ["", null],
    [null, null],
    ["-5", null],
  ])("%j → %j", (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe("what a destination's status means", () => {
  it.each([
    [200, "delivered"],
    [202, "delivered"],
    [204, "delivered"],
    [301, "permanent"],
    [400, "permanent"],
    [401, "permanent"],
    [404, "permanent"],
    [408, "transient"],
    [425, "transient"],
    [429, "transient"],
    [500, "transient"],
    [503, "transient"],
  ])("%i is %s", (status, outcome) => {
    expect(classifyStatus(status)).toBe(outcome);
  });
});

function answer(status: number | null, body: unknown = null, extra: Partial<GitlabAnswer> = {}) {
  return {
    status,
    body,
    text: "",
    retryAfter: null,
    rateLimitReset: null,
    error: null,
    ...extra,
  } satisfies GitlabAnswer;
}

describe("what GitLab's answers mean", () => {
  it.each([
    ["status", answer(201, { id: 5 }), { kind: "done", gitlabId: 5 }],
    ["note", answer(201, { note: "x" }), { kind: "done", gitlabId: null }],
    ["note", answer(201, { nothing: 1 }), { kind: "unexpected" }],
    [
      "status",
      answer(400, { message: "Cannot transition status via :enqueue from :pending" }),
      { kind: "done", gitlabId: null },
    ],
    ["note", answer(400, { message: "Cannot transition status via" }), { kind: "permanent" }],
    [
      "reaction",
      answer(404, { message: "404 Award Emoji Name has already been taken" }),
      { kind: "done", gitlabId: null },
    ],
    ["status", answer(409, { message: "409 Conflict" }), { kind: "lock_contention" }],
    ["note", answer(429), { kind: "rate_limited" }],
    ["note", answer(502, null, { retryAfter: 7 }), { kind: "transient", retryAfter: 7 }],
    ["note", answer(null), { kind: "transient", retryAfter: null }],
    ["note", answer(401), { kind: "unauthorized" }],
    ["status", answer(403), { kind: "forbidden_or_missing" }],
    ["status", answer(404), { kind: "forbidden_or_missing" }],
    ["status", answer(422), { kind: "permanent" }],
  ] as const)("%s answered %j", (type, a, expected) => {
    expect(classify(type, a)).toEqual(expected);
  });

  it("resumes after Retry-After, else RateLimit-Reset, else about a minute", () => {
    expect(resumeAt(answer(429, null, { retryAfter: 30 }), NOW, () => 0)).toBe(NOW + 30_000);
    expect(resumeAt(answer(429, null, { rateLimitReset: NOW + 5000 }), NOW, () => 0)).toBe(
      NOW + 5000,
    );
    expect(resumeAt(answer(429, null, { rateLimitReset: NOW - 5000 }), NOW, () => 0)).toBe(
      NOW + 60_000,
    );
    expect(resumeAt(answer(429), NOW, () => 0.5)).toBe(NOW + 67_500);
  });
});

describe("feedback text", () => {
  it("neutralises quick actions at the start of any line", () => {
    expect(neutralizeQuickActions("/merge\n  /close now\nsee /docs")).toBe(
      "\\/merge\n  \\/close now\nsee /docs",
    );
  });

  it("breaks @all and @here, not other mentions or e-mail addresses", () => {
    expect(neutralizeBroadMentions("@all @ALL (@here) @alice a@all.example")).toBe(
      "@\u200ball @\u200bALL (@\u200bhere) @alice a@all.example",
    );
  });

  it("writes status fields as one inert line", () => {
    expect(inertMarkdown("a [b](c) ![i](x) <b> #1 !2 ~l %m &e `c` @bob\n/merge")).toBe(
      "a \\[b\\]\\(c\\) \\!\\[i\\]\\(x\\) \\<b\\> \\#1 \\!2 \\~l \\%m \\&e \\`c\\` @\u200bbob /merge",
    );
    expect(inertMarkdown("rpm-build:fedora-rawhide-x86_64")).toBe(
      "rpm-build:fedora-rawhide-x86_64",
    );
  });

  it("maps packit's states and trims descriptions by characters", () => {
    expect(["error", "neutral", "failed", "success"].map((s) => gitlabState(s as never))).toEqual([
      "failed",
      "failed",
      "failed",
      "success",
    ]);
    const long = "é".repeat(300);
    expect([...(trimDescription(long) ?? "")]).toHaveLength(255);
    expect(trimDescription("short")).toBe("short");
    expect(trimDescription(undefined)).toBeUndefined();
  });
});

describe("log redaction", () => {
  it("masks credentials by shape and drops fields named like secrets", () => {
    const masked = maskString(
      "pgr_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG eyJhbGciOi.eyJzdWIi.sig glpat-1234567890abcdef Bearer abc.def https://user:pass@host/x whsec_abc=",
    );
    expect(masked).not.toMatch(/pgr_a|eyJhb|glpat-1|abc\.def|user:pass|whsec_abc/);
    // Each alone too: the quick pre-check must let every shape through to its pattern.
    for (const [secret, leak] of [
      ["pgr_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "pgr_a"],
      ["eyJhbGciOi.eyJzdWIi.sig", "eyJhb"],
      ["glagent-1234567890abcdef", "glagent-1"],
      ["glsoat-1234567890abcdef", "glsoat-1"],
      ["basic dXNlcjpwYXNz", "dXNlcjpw"],
      ["https://user:pass@host/x", "user:pass"],
      ["whsec_abc=", "whsec_abc"],
    ]) {
      expect(maskString(`see ${secret} here`)).not.toContain(leak);
    }
    expect(maskString("group/project 4242 push")).toBe("group/project 4242 push");
    expect(redact({ api_token: "x", nested: { Authorization: "y", ok: "fine" } })).toEqual({
      api_token: "[REDACTED]",
      nested: { Authorization: "[REDACTED]", ok: "fine" },
    });
  });
});

describe("one forward attempt", () => {
  const request = () =>
    new Request("https://packit.example/api/webhooks/gitlab", { method: "POST" });
  const t = 0;
  const clock = () => t;

  it("waits for a slow destination, and after giving up waits as long again before retrying", async () => {
    const timeout = Object.assign(new Error("The operation was aborted due to timeout"), {
      name: "TimeoutError",
    });
    const gaveUp = await attempt(request(), async () => Promise.reject(timeout), clock);
    expect(gaveUp).toMatchObject({
      outcome: "transient",
      retryAfterSeconds: FORWARD_TIMEOUT_MS / 1000,
      error: `timeout after ${FORWARD_TIMEOUT_MS} ms`,
    });
    expect(FORWARD_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
  });

  it("reads Retry-After from a 429 and keeps a refusal's text", async () => {
    const limited = await attempt(
      request(),
      async () => new Response("slow down", { status: 429, headers: { "retry-after": "42" } }),
      clock,
    );
    expect(limited).toMatchObject({ outcome: "transient", retryAfterSeconds: 42, statusCode: 429 });
    const refused = await attempt(
      request(),
      async () => new Response("bad", { status: 400 }),
      clock,
    );
    expect(refused).toMatchObject({ outcome: "permanent", error: "bad", retryAfterSeconds: null });
  });
});
