import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt, jwtVerify } from "jose";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PURGE_CRON } from "../../src/cron";
import { INBOX_GRACE_MS } from "../../src/events/inbox-sweep";
import { normalizedEvent } from "../../src/events/normalized-event";
import worker from "../../src/index";
import { admin, field, registerNamespace, registerProject } from "../helpers/admin";
import { capturingQueue, consume, ingest } from "../helpers/deliveries";
import {
  destinations,
  EVENTS_SECRET,
  maxInFlight,
  newScope,
  received,
  script,
} from "../helpers/doubles";
import { incompressible, mergeRequest, note, push, tagPush } from "../helpers/gitlab-payloads";
import { captureLogs } from "../helpers/logs";
import { asJson, BASE, call, refusingQueue } from "../helpers/relay";

const PROJECT = { id: 5050, path: "packaging/hello-world" };
let token = "";

beforeAll(async () => {
  ({ token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path }));
});

afterEach(() => {
  vi.useRealTimers();
});

async function delivery(id: string) {
  const res = await admin("GET", `/deliveries/${id}`);
  expect(res.status).toBe(200);
  return res.body as {
    status: string;
    attempts: number;
    reason: string | null;
    last_status_code: number | null;
    last_error: string | null;
    last_attempt_at: string | null;
    next_attempt_at: string | null;
    duplicate_of: string | null;
    destinations: { destination: string; status: string; attempts: number }[];
    history: { destination: string; outcome: string; status_code: number | null }[];
  };
}

/**
 * The delay the consumer chose, as the delivery log records it. (The test pool's
 * getQueueResult does not report delaySeconds, so the log is where it shows.)
 */
function retryDelay(d: { last_attempt_at: string | null; next_attempt_at: string | null }): number {
  if (!d.last_attempt_at || !d.next_attempt_at) {
    return -1;
  }
  return (Date.parse(d.next_attempt_at) - Date.parse(d.last_attempt_at)) / 1000;
}

describe("packit-compat forwarding", () => {
  it("sends packit-service exactly what it accepts today", async () => {
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(PROJECT), null, 1);
    const message = await ingest({
      token,
      event: "Merge Request Hook",
      body: raw,
      headers: {
        "x-gitlab-instance": "https://gitlab.example.com",
        "idempotency-key": "a1b2c3d4-0000-4000-8000-000000000001",
        "x-gitlab-event-uuid": "e1e2e3e4-0000-4000-8000-000000000001",
      },
    });
    const result = await consume([{ body: message }], destinations(scope));
    expect(result.explicitAcks).toHaveLength(1);

    const [req] = await received(scope, "/api/webhooks/gitlab");
    expect(req?.body).toBe(raw);
    expect(req?.headers).toMatchObject({
      "content-type": "application/json",
      "x-gitlab-event": "Merge Request Hook",
      "x-gitlab-instance": "https://gitlab.example.com",
      // The sender's key, scoped to its registration: stable across GitLab's retries.
      "idempotency-key": message.dedupe_key,
      "x-gitlab-event-uuid": "e1e2e3e4-0000-4000-8000-000000000001",
      "x-relay-delivery-id": message.delivery_id,
      "user-agent": "packit-gitlab-relay/0.1.0",
    });
    // packit-service's validate_token: HS256 with gitlab_token_secret, claims against git_http_url.
    const { payload } = await jwtVerify(
      req?.headers["x-gitlab-token"] ?? "",
      new TextEncoder().encode("gitlab-token-secret"),
      {
        algorithms: ["HS256"],
      },
    );
    const url = new URL(JSON.parse(raw).project.git_http_url);
    const path = url.pathname.replace(/^\/|\.git$/g, "");
    expect(payload).toEqual({
      namespace: path.slice(0, path.lastIndexOf("/")),
      repo_name: path.slice(path.lastIndexOf("/") + 1),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    // Minutes, not forever: PyJWT refuses it once `exp` has passed.
    expect(Number(payload.exp) - Number(payload.iat)).toBe(300);
    expect(Math.abs(Number(payload.iat) - Date.now() / 1000)).toBeLessThan(60);

    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("delivered");
    expect(d.last_status_code).toBe(202);
    expect(d.destinations).toEqual([
      expect.objectContaining({ destination: "packit", status: "delivered", attempts: 1 }),
    ]);
  });

  it("forwards a body kept in R2 byte for byte", async () => {
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(PROJECT, "open", `ü€😀 ${incompressible(150_000)}`));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    expect(message.body.storage).toBe("r2");
    await consume([{ body: message }], destinations(scope));
    const [req] = await received(scope, "/api/webhooks/gitlab");
    expect(req?.body).toBe(raw);
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
  });

  it("does not send tag pushes to packit-service, which does not take them", async () => {
    const scope = newScope();
    const message = await ingest({ token, event: "Tag Push Hook", body: tagPush(PROJECT) });
    await consume([{ body: message }], destinations(scope));
    expect(await received(scope)).toHaveLength(0);
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("skipped");
    expect(d.reason).toMatch(/Tag Push Hook/);
  });

  it("records a delivery with no destination as undeliverable, and replay delivers it later", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "2".repeat(40) }),
    });
    await consume([{ body: message }], { PACKIT_SERVICE_URL: "", EVENTS_URL: "" });
    expect((await delivery(message.delivery_id)).status).toBe("undeliverable");

    const replay = await admin("POST", `/deliveries/${message.delivery_id}/replay`, undefined);
    expect(replay.status).toBe(202);
    const replayed = { ...message, generation: field<number>(replay.body, "generation") };
    await consume([{ body: replayed }], destinations(scope));
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
  });

  it("skips notes written by the relay's own bot users", async () => {
    const scope = newScope();
    const botNote = {
      ...note(PROJECT, "Build succeeded"),
      user: { username: "Packit-As-A-Service", name: "Packit" },
    };
    const message = await ingest({ token, event: "Note Hook", body: botNote });
    await consume([{ body: message }], {
      ...destinations(scope),
      BOT_USERNAMES: "someone, packit-as-a-service",
    });
    expect(await received(scope)).toHaveLength(0);
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("skipped");
    expect(d.reason).toMatch(/bot user/);
  });
});

describe("normalized CloudEvents", () => {
  it("sends a signed CloudEvents 1.0 structured event with the normalized data", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Merge Request Hook",
      body: mergeRequest(PROJECT, "update"),
      headers: { "idempotency-key": "f0f0f0f0-0000-4000-8000-000000000002" },
    });
    await consume([{ body: message }], destinations(scope, { packit: false, events: true }));
    const [req] = await received(scope, "/events");
    expect(req?.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    // Standard Webhooks: the reference implementation verifies our signature.
    const verified = new Webhook(EVENTS_SECRET).verify(req?.body ?? "", {
      "webhook-id": req?.headers["webhook-id"] ?? "",
      "webhook-timestamp": req?.headers["webhook-timestamp"] ?? "",
      "webhook-signature": req?.headers["webhook-signature"] ?? "",
    });
    // The cloudevents SDK (in the double) accepted it.
    expect(req?.cloudevent).toEqual({
      valid: true,
      type: "dev.packit.gitlab.merge_request",
      id: message.dedupe_key,
      source: `https://gitlab.example.com/${PROJECT.path}`,
    });
    const data = normalizedEvent.parse(field(verified, "data"));
    expect(data).toMatchObject({
      kind: "merge_request",
      action: "update",
      code_changed: true,
      iid: 7,
    });
    expect(field(verified, "subject")).toBe("merge_requests/7");
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
  });

  it("sends tag pushes as normalized events while packit-compat skips them", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Tag Push Hook",
      body: { ...tagPush(PROJECT), ref: "refs/tags/v2.0.0" },
    });
    await consume([{ body: message }], destinations(scope, { events: true }));
    const requests = await received(scope);
    expect(requests.map((r) => r.path)).toEqual(["/events"]);
    expect(requests[0]?.cloudevent?.type).toBe("dev.packit.gitlab.tag_push");
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("delivered");
    expect(d.destinations.map((t) => [t.destination, t.status])).toEqual([
      ["events", "delivered"],
      ["packit", "skipped"],
    ]);
  });

  it("retries only the destination that failed", async () => {
    const scope = newScope();
    const down = newScope();
    await script(down, [{ status: 503 }]);
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "3".repeat(40) }),
    });
    const first = await consume([{ body: message }], {
      ...destinations(scope, { events: true }),
      EVENTS_URL: `${env.TEST_DOUBLES_URL}/${down}/events`,
    });
    expect(first.retryMessages).toHaveLength(1);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    // The events receiver is back; packit-service, already served, is not called again.
    await consume([{ body: message, attempts: 2 }], destinations(scope, { events: true }));
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    expect(await received(scope, "/events")).toHaveLength(1);
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("delivered");
    expect(d.destinations.map((t) => [t.destination, t.status, t.attempts])).toEqual([
      ["events", "delivered", 2],
      ["packit", "delivered", 1],
    ]);
  });
});

describe("outcomes", () => {
  it.each([500, 502, 503, 408, 425, 429])(
    "retries a %i with a delay and records it",
    async (status) => {
      const scope = newScope();
      await script(scope, [{ status, body: "busy" }]);
      const message = await ingest({
        token,
        event: "Push Hook",
        body: push(PROJECT, { after: `${status}`.padEnd(40, "a") }),
      });
      const result = await consume([{ body: message }], destinations(scope));
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      const d = await delivery(message.delivery_id);
      expect(retryDelay(d)).toBeGreaterThanOrEqual(0);
      expect(retryDelay(d)).toBeLessThanOrEqual(30);
      expect(d.status).toBe("retrying");
      expect(d.last_status_code).toBe(status);
      expect(d.history).toEqual([
        expect.objectContaining({ outcome: "transient", status_code: status }),
      ]);
    },
  );

  it("honours Retry-After", async () => {
    const scope = newScope();
    await script(scope, [{ status: 429, headers: { "retry-after": "120" } }]);
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "4".repeat(40) }),
    });
    const result = await consume([{ body: message }], destinations(scope));
    expect(result.retryMessages).toHaveLength(1);
    expect(retryDelay(await delivery(message.delivery_id))).toBeGreaterThanOrEqual(120);
  });

  it("retries network errors", async () => {
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "5".repeat(40) }),
    });
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    const result = await consume([{ body: message }], {
      PACKIT_SERVICE_URL: "http://127.0.0.1:9",
      EVENTS_URL: "",
    });
    expect(result.retryMessages).toHaveLength(1);
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("retrying");
    expect(d.last_status_code).toBeNull();
    expect(d.last_error).toBeTruthy();
  });

  it.each([400, 401, 404, 410, 422, 302])(
    "records a %i as rejected, acked, with status and truncated body",
    async (status) => {
      const scope = newScope();
      await script(scope, [
        { status, body: "x".repeat(5000), headers: { location: "http://elsewhere.example" } },
      ]);
      const message = await ingest({
        token,
        event: "Push Hook",
        body: push(PROJECT, { after: `${status}`.padEnd(40, "b") }),
      });
      const result = await consume([{ body: message }], destinations(scope));
      expect(result.explicitAcks).toHaveLength(1);
      expect(result.retryMessages).toEqual([]);
      const d = await delivery(message.delivery_id);
      expect(d.status).toBe("rejected");
      expect(d.last_status_code).toBe(status);
      expect(d.last_error?.length).toBeLessThanOrEqual(501);
    },
  );

  it.each([
    [
      302,
      { location: "https://prod.packit.dev/api/webhooks/gitlab" },
      /redirected \(302\) to https:\/\/prod\.packit\.dev/,
    ],
    [404, {}, /packit-service answered 404; PACKIT_SERVICE_URL must be its public https base URL/],
  ] as const)(
    "names a %i from packit-service as a configuration error (delivery, stats, log)",
    async (status, headers, hint) => {
      const logs = captureLogs();
      const scope = newScope();
      await script(scope, [{ status, headers: { ...headers }, body: "Not Found" }]);
      const message = await ingest({
        token,
        event: "Push Hook",
        body: push(PROJECT, { after: `c${status}`.padEnd(40, "c") }),
      });
      await consume([{ body: message }], destinations(scope));
      const d = await delivery(message.delivery_id);
      expect(d.status).toBe("rejected");
      expect(d.reason).toMatch(/^configuration error: /);
      expect(d.reason).toMatch(hint);
      const stats = await admin("GET", "/stats");
      const errors = field<{ reason: string; count: number }[]>(stats.body, "destination_errors");
      expect(errors.some((e) => hint.test(e.reason) && e.count >= 1)).toBe(true);
      expect(logs.some((l) => l.includes('"level":"error"') && hint.test(l))).toBe(true);
    },
  );

  it("forwards the canonical X-Gitlab-Event whatever spelling GitLab sent", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "push hook",
      body: push(PROJECT, { after: "ca11".padEnd(40, "0") }),
    });
    await consume([{ body: message }], destinations(scope));
    const [forwarded] = await received(scope, "/api/webhooks/gitlab");
    expect(forwarded?.headers["x-gitlab-event"]).toBe("Push Hook");
    expect(JSON.parse(forwarded?.body ?? "null")).toMatchObject({ object_kind: "push" });
  });

  it("rejects when packit-service refuses the token (a relay bug must not look like an outage)", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "6".repeat(40) }),
    });
    await consume([{ body: message }], {
      ...destinations(scope),
      PACKIT_GITLAB_TOKEN_SECRET: "another-secret",
    });
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("rejected");
    expect(d.last_status_code).toBe(401);
    expect(d.last_error).toMatch(/Can't decode X-Gitlab-Token/);
  });

  it("grows the backoff with each attempt and keeps it jittered", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "7".repeat(40) }),
    });
    const delays: number[] = [];
    // The backoff alone: the circuit breaker (tested on its own) would park after 5 failures.
    const noBreaker = { ...destinations(scope), CIRCUIT_FAILURES: "1000" };
    for (let attempt = 1; attempt <= 10; attempt++) {
      await script(scope, [{ status: 503 }]);
      const result = await consume([{ body: message, attempts: attempt }], noBreaker);
      expect(result.retryMessages).toHaveLength(1);
      delays.push(retryDelay(await delivery(message.delivery_id)));
    }
    const ceilings = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600];
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(ceilings[i] ?? 0);
    });
    expect(delays.slice(5).some((d) => d > 30)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(5);
    expect((await delivery(message.delivery_id)).attempts).toBe(10);
  });

  it("goes dead after 24 hours of failures, and the dead-letter queue records dead too", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "8".repeat(40) }),
    });
    await script(scope, [{ status: 500 }, { status: 500 }]);
    await consume([{ body: message }], destinations(scope));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 24 * 3600 * 1000 + 1000);
    const result = await consume([{ body: message, attempts: 40 }], destinations(scope));
    vi.useRealTimers();
    expect(result.explicitAcks).toHaveLength(1);
    const d = await delivery(message.delivery_id);
    expect(d.status).toBe("dead");
    expect(d.destinations).toEqual([
      expect.objectContaining({ destination: "packit", status: "dead" }),
    ]);

    const other = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "9".repeat(40) }),
    });
    const dlq = await consume(
      [{ body: other }],
      destinations(scope),
      "packit-gitlab-relay-events-dlq",
    );
    expect(dlq.explicitAcks).toHaveLength(1);
    const dead = await delivery(other.delivery_id);
    expect(dead.status).toBe("dead");
    expect(dead.reason).toMatch(/retries exhausted/);
  });

  it("never lets one bad message make the batch's good ones retry", async () => {
    const scope = newScope();
    const good = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "c".repeat(40) }),
    });
    const failing = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "d".repeat(40) }),
    });
    const failingScope = newScope();
    await script(failingScope, [{ status: 500 }]);
    // The failing one points at a scope that answers 500: give it its own env by sending it
    // with a different instance of the batch? Both share env, so script the shared scope:
    // first request (order is not guaranteed) must not matter: use a body the double rejects.
    const broken = { ...failing, body: { ...failing.body, sha256: "0".repeat(64) } };
    const result = await consume(
      [
        { body: good, id: "good" },
        { body: { nonsense: true }, id: "malformed" },
        { body: broken, id: "broken" },
      ],
      destinations(scope),
    );
    expect(result.explicitAcks.sort()).toEqual(["broken", "good", "malformed"]);
    expect(result.retryMessages).toEqual([]);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    expect((await delivery(good.delivery_id)).status).toBe("delivered");
    expect((await delivery(failing.delivery_id)).status).toBe("dead");
  });
});

describe("never twice", () => {
  it("forwards a GitLab redelivery (same Idempotency-Key) once", async () => {
    const scope = newScope();
    const input = {
      token,
      event: "Merge Request Hook",
      body: mergeRequest(PROJECT, "reopen"),
      headers: { "idempotency-key": "11111111-0000-4000-8000-000000000003" },
    };
    const first = await ingest(input);
    const second = await ingest(input);
    expect(second.delivery_id).not.toBe(first.delivery_id);
    await consume([{ body: first }, { body: second }], destinations(scope));
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    const statuses = [
      (await delivery(first.delivery_id)).status,
      (await delivery(second.delivery_id)).status,
    ].sort();
    expect(statuses).toEqual(["delivered", "duplicate"]);
  });

  it("forwards once when a project hook and a group hook both fire for one event", async () => {
    const scope = newScope();
    const p = { id: 6060, path: "fedora/rpms/bash" };
    const projectHook = await registerProject({ projectId: p.id, path: p.path });
    const groupHook = await registerNamespace({ namespace: "fedora" });
    const body = JSON.stringify(note(p, "/packit build"));
    const a = await ingest({
      token: projectHook.token,
      event: "Note Hook",
      body,
      headers: { "idempotency-key": "aaaaaaaa-0000-4000-8000-000000000004" },
    });
    const b = await ingest({
      token: groupHook.token,
      event: "Note Hook",
      body,
      headers: { "idempotency-key": "bbbbbbbb-0000-4000-8000-000000000004" },
    });
    await consume([{ body: a }], destinations(scope));
    await consume([{ body: b }], destinations(scope));
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    const dup = await delivery(b.delivery_id);
    expect(dup.status).toBe("duplicate");
    expect(dup.duplicate_of).toBe(a.delivery_id);
  });

  it("treats the same content as new once the dedupe window has passed", async () => {
    const scope = newScope();
    const body = JSON.stringify(push(PROJECT, { after: "e".repeat(40) }));
    const first = await ingest({ token, event: "Push Hook", body });
    await consume([{ body: first }], destinations(scope));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 25 * 3600 * 1000);
    const later = await ingest({ token, event: "Push Hook", body });
    await consume([{ body: later }], destinations(scope));
    vi.useRealTimers();
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);
  });

  it("forwards once when Queues delivers the same message twice, also after a crash before the ack", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "f".repeat(40) }),
    });
    // Concurrent copies of one message (at-least-once delivery).
    await Promise.all([
      consume([{ body: message }], destinations(scope)),
      consume([{ body: message }], destinations(scope)),
    ]);
    // The forward succeeded and was recorded, then the worker died before acking: Queues redelivers.
    const redelivered = await consume([{ body: message, attempts: 2 }], destinations(scope));
    expect(redelivered.explicitAcks).toHaveLength(1);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
  });

  it("forwards once when one queue batch holds two copies of a new message", async () => {
    // Both claims go to D1 in one call: the first copy's insert takes the lease with the row,
    // the second finds it held and waits for it instead of forwarding too.
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "ab".repeat(20) }),
    });
    const result = await consume([{ body: message }, { body: message }], destinations(scope));
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
  });
});

describe("replay", () => {
  it("replays dead deliveries in bulk once the destination recovers, each exactly once", async () => {
    const scope = newScope();
    const p = { id: 8080, path: "replay/bulk" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const messages = [];
    for (let i = 0; i < 3; i++) {
      messages.push(
        await ingest({ token: reg.token, event: "Note Hook", body: note(p, `/packit test ${i}`) }),
      );
    }
    await consume(
      messages.map((m) => ({ body: m })),
      destinations(scope),
      "packit-gitlab-relay-events-dlq",
    );
    for (const m of messages) {
      expect((await delivery(m.delivery_id)).status).toBe("dead");
    }
    const { queue, sent } = capturingQueue();
    const res = await admin(
      "POST",
      "/deliveries/replay",
      { status: "dead", project_id: p.id },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ replayed: 3, failed: 0, failed_ids: [] });
    expect(new Set(sent.map((m) => m.delivery_id))).toEqual(
      new Set(messages.map((m) => m.delivery_id)),
    );
    // Queues may hand a replayed message over twice: still once each.
    await consume(
      [...sent, ...sent].map((body) => ({ body })),
      destinations(scope),
    );
    // A stale copy of the original generation is dropped.
    await consume(
      messages.map((body) => ({ body })),
      destinations(scope),
    );
    const requests = await received(scope, "/api/webhooks/gitlab");
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.headers["x-relay-delivery-id"]))).toEqual(
      new Set(messages.map((m) => m.delivery_id)),
    );
    for (const m of messages) {
      expect((await delivery(m.delivery_id)).status).toBe("delivered");
    }
  });

  it("replays a delivered delivery on request, and refuses unknown ids and bulk without status", async () => {
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "0a".repeat(20) }),
    });
    await consume([{ body: message }], destinations(scope));
    const { queue, sent } = capturingQueue();
    const res = await admin("POST", `/deliveries/${message.delivery_id}/replay`, undefined, {
      EVENTS_QUEUE: queue,
    });
    expect(res.status).toBe(202);
    await consume(
      sent.map((body) => ({ body })),
      destinations(scope),
    );
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);
    expect((await admin("POST", "/deliveries/nope/replay")).status).toBe(404);
    expect((await admin("POST", "/deliveries/replay", {})).status).toBe(400);
  });
});

describe("delivery log", () => {
  it("lists by project, status and time with pagination, never with a secret", async () => {
    const scope = newScope();
    const p = { id: 7070, path: "listing/project" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await ingest({
        token: reg.token,
        event: "Push Hook",
        body: push(p, { after: `${i}`.repeat(40) }),
      });
      await consume([{ body: m }], destinations(scope));
      ids.push(m.delivery_id);
    }
    const page1 = await admin("GET", `/deliveries?project_id=${p.id}&status=delivered&limit=2`);
    expect(page1.status).toBe(200);
    const first = field<{ id: string }[]>(page1.body, "deliveries");
    expect(first).toHaveLength(2);
    const cursor = field<string>(page1.body, "next_cursor");
    const page2 = await admin(
      "GET",
      `/deliveries?project_id=${p.id}&status=delivered&limit=2&cursor=${cursor}`,
    );
    const page3 = await admin(
      "GET",
      `/deliveries?project_id=${p.id}&status=delivered&limit=2&cursor=${field(page2.body, "next_cursor")}`,
    );
    const all = [
      ...first,
      ...field<{ id: string }[]>(page2.body, "deliveries"),
      ...field<{ id: string }[]>(page3.body, "deliveries"),
    ];
    expect(new Set(all.map((d) => d.id))).toEqual(new Set(ids));
    expect(field(page3.body, "next_cursor")).toBeNull();
    const future = await admin(
      "GET",
      `/deliveries?project_id=${p.id}&since=${new Date(Date.now() + 60_000).toISOString()}`,
    );
    expect(field<unknown[]>(future.body, "deliveries")).toHaveLength(0);
    expect((await admin("GET", "/deliveries?status=bogus")).status).toBe(400);
    expect((await admin("GET", "/deliveries?cursor=!!")).status).toBe(400);

    const detail = await admin("GET", `/deliveries/${ids[0]}`);
    const text = JSON.stringify(detail.body);
    expect(text).not.toContain(reg.token);
    expect(text).not.toContain("gitlab-token-secret");
    expect(text).not.toMatch(/eyJ/);
    expect(field(detail.body, "body_storage")).toBe("r2");
  });

  it("purges deliveries and R2 bodies older than RETENTION_DAYS", async () => {
    const scope = newScope();
    const big = await ingest({
      token,
      event: "Merge Request Hook",
      body: mergeRequest(PROJECT, "close", incompressible(150_000)),
    });
    await consume([{ body: big }], destinations(scope));
    expect(big.body.storage).toBe("r2");
    const key = big.body.storage === "r2" ? big.body.key : "";
    expect(await env.BODIES.head(key)).not.toBeNull();
    const controller = createScheduledController({
      cron: PURGE_CRON,
      scheduledTime: Date.now() + 15 * 24 * 3600 * 1000,
    });
    await worker.scheduled(controller, env, createExecutionContext());
    expect((await admin("GET", `/deliveries/${big.delivery_id}`)).status).toBe(404);
    expect(await env.BODIES.head(key)).toBeNull();
  });
});

describe("replay when the queue refuses", () => {
  it("the replayed delivery's message waits in the inbox and is delivered after the sweep", async () => {
    const scope = newScope();
    const p = { id: 8090, path: "replay/refused" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const message = await ingest({ token: reg.token, event: "Note Hook", body: note(p, "again") });
    await consume([{ body: message }], destinations(scope), "packit-gitlab-relay-events-dlq");
    expect((await delivery(message.delivery_id)).status).toBe("dead");

    const res = await admin("POST", `/deliveries/${message.delivery_id}/replay`, undefined, {
      EVENTS_QUEUE: refusingQueue(),
    });
    expect(res.status).toBe(202);
    expect((await delivery(message.delivery_id)).status).toBe("queued");
    const inbox = await env.DB.prepare("SELECT message FROM inbox WHERE delivery_id = ?1")
      .bind(message.delivery_id)
      .first<{ message: string }>();
    expect(JSON.parse(inbox?.message ?? "{}").generation).toBe(1);

    const { queue, sent } = capturingQueue();
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + INBOX_GRACE_MS }),
      { ...env, EVENTS_QUEUE: queue },
      createExecutionContext(),
    );
    expect(sent.map((m) => m.generation)).toEqual([1]);
    await consume(
      sent.map((body) => ({ body })),
      destinations(scope),
    );
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
  });
});

describe("one configuration contract", () => {
  it("a destination with its URL but not its secret is off: not attempted, not retried, reported", async () => {
    const scope = newScope();
    const after = crypto.randomUUID().replaceAll("-", "").padEnd(40, "0");
    const message = await ingest({ token, event: "Push Hook", body: push(PROJECT, { after }) });
    const overrides = {
      ...destinations(scope, { packit: false, events: true }),
      EVENTS_SIGNING_SECRET: "",
    };
    const result = await consume([{ body: message }], overrides);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    const d = await delivery(message.delivery_id);
    expect(d).toMatchObject({ status: "skipped", attempts: 0 });
    expect(d.reason).toContain("EVENTS_SIGNING_SECRET");
    expect(await received(scope, "/events")).toEqual([]);

    const health = await asJson(await call(new Request(`${BASE}/healthz`), overrides));
    expect(health.status).toBe(200);
    expect(health.body).toEqual({
      status: "degraded",
      problems: [expect.stringContaining("EVENTS_SIGNING_SECRET is not a whsec_ secret")],
    });
    const stats = await admin("GET", "/stats", undefined, overrides);
    expect(field<string[]>(stats.body, "config_problems")).toEqual([
      expect.stringContaining("EVENTS_URL is set"),
    ]);

    // Fixed and replayed: delivered.
    const replayQueue = capturingQueue();
    await admin("POST", `/deliveries/${message.delivery_id}/replay`, undefined, {
      EVENTS_QUEUE: replayQueue.queue,
    });
    await consume(
      replayQueue.sent.map((body) => ({ body })),
      destinations(scope, { packit: false, events: true }),
    );
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
    expect(await received(scope, "/events")).toHaveLength(1);
  });
});

describe("a slow destination", () => {
  it("is waited for and gets the event once, where a 15 s timeout used to send it twice", async () => {
    const scope = newScope();
    // packit-service busy: the answer comes after 16 s.
    await script(scope, [{ status: 202, body: '"accepted"', delayMs: 16_000 }]);
    const after = crypto.randomUUID().replaceAll("-", "").padEnd(40, "1");
    const message = await ingest({ token, event: "Push Hook", body: push(PROJECT, { after }) });
    const result = await consume([{ body: message }], destinations(scope));
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await delivery(message.delivery_id)).toMatchObject({ status: "delivered", attempts: 1 });
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
  }, 60_000); // a destination that answers after 16 s
});

describe("a batch bigger than an invocation's six connections", () => {
  it("forwards six at a time, each prepared (its JWT minted) only once it may go out", async () => {
    const scope = newScope();
    // Ten slow answers, each held two seconds: long enough for all six first ones to be out.
    await script(
      scope,
      Array.from({ length: 10 }, () => ({ status: 202, body: '"accepted"', delayMs: 2000 })),
    );
    const messages = [];
    for (let i = 0; i < 10; i++) {
      const after = crypto.randomUUID().replaceAll("-", "").padEnd(40, "6");
      messages.push(await ingest({ token, event: "Push Hook", body: push(PROJECT, { after }) }));
    }
    const result = await consume(
      messages.map((body) => ({ body })),
      destinations(scope),
    );
    expect(result.explicitAcks).toHaveLength(10);
    const forwarded = await received(scope, "/api/webhooks/gitlab");
    expect(forwarded).toHaveLength(10);
    expect(await maxInFlight(scope)).toBe(6);
    // The four that waited for a slot got tokens minted when they went (two seconds or more
    // after the first six: `iat` counts whole seconds), not while waiting.
    const issuedAt = forwarded.map((r) => decodeJwt(r.headers["x-gitlab-token"] ?? "").iat ?? 0);
    const first = Math.min(...issuedAt);
    expect(issuedAt.filter((iat) => iat >= first + 2)).toHaveLength(4);
  }, 30_000); // ten answers held two seconds each, six at a time
});

describe("GitLab's Resend request", () => {
  it("re-forwards an event whose first delivery was refused, instead of calling it a duplicate", async () => {
    const scope = newScope();
    const headers = { "idempotency-key": crypto.randomUUID() };
    const body = push(PROJECT, { after: crypto.randomUUID().replaceAll("-", "").padEnd(40, "2") });
    // packit-service refuses it (a bug there), then gets fixed.
    await script(scope, [{ status: 400, body: '"Bad Request"' }]);
    const first = await ingest({ token, event: "Push Hook", body, headers });
    await consume([{ body: first }], destinations(scope));
    expect((await delivery(first.delivery_id)).status).toBe("rejected");

    // The maintainer presses "Resend request": same event, same Idempotency-Key.
    const resent = await ingest({ token, event: "Push Hook", body, headers });
    expect(resent.dedupe_key).toBe(first.dedupe_key);
    await consume([{ body: resent }], destinations(scope));
    expect((await delivery(resent.delivery_id)).status).toBe("delivered");
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);

    // A third copy while the resent one is delivered is a duplicate again.
    const again = await ingest({ token, event: "Push Hook", body, headers });
    await consume([{ body: again }], destinations(scope));
    expect(await delivery(again.delivery_id)).toMatchObject({
      status: "duplicate",
      duplicate_of: resent.delivery_id,
    });
  });
});

describe("a key's owner", () => {
  it("passes to a resend once the owner failed, past the duplicates recorded of it", async () => {
    const scope = newScope();
    const headers = { "idempotency-key": crypto.randomUUID() };
    const body = push(PROJECT, { after: crypto.randomUUID().replaceAll("-", "").padEnd(40, "4") });
    await script(scope, [{ status: 503 }, { status: 400, body: '"Bad Request"' }]);
    const first = await ingest({ token, event: "Push Hook", body, headers });
    await consume([{ body: first }], destinations(scope));
    // GitLab's own retry while the first is still being retried: its duplicate.
    const retry = await ingest({ token, event: "Push Hook", body, headers });
    await consume([{ body: retry }], destinations(scope));
    expect(await delivery(retry.delivery_id)).toMatchObject({
      status: "duplicate",
      duplicate_of: first.delivery_id,
    });
    // packit-service then refuses the first for good.
    await consume([{ body: first, attempts: 2 }], destinations(scope));
    expect((await delivery(first.delivery_id)).status).toBe("rejected");

    // "Resend request": neither the refused delivery nor its duplicate holds the key now.
    const resent = await ingest({ token, event: "Push Hook", body, headers });
    await consume([{ body: resent }], destinations(scope));
    expect((await delivery(resent.delivery_id)).status).toBe("delivered");
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(3);
  });
});

describe("identical bytes", () => {
  it("from one hook with two Idempotency-Keys are two events; from two hooks, one", async () => {
    const scope = newScope();
    const p = { id: 8095, path: "identical/bytes" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const group = await registerNamespace({ namespace: "identical" });
    const body = JSON.stringify(
      push(p, { after: crypto.randomUUID().replaceAll("-", "").padEnd(40, "3") }),
    );
    const send = (tok: string) =>
      ingest({
        token: tok,
        event: "Push Hook",
        body,
        headers: { "idempotency-key": crypto.randomUUID() },
      });
    // GitLab's Test button pressed twice on the project hook: two events.
    const first = await send(reg.token);
    const second = await send(reg.token);
    // The group hook reports the first one too: the same event.
    const viaGroup = await send(group.token);
    for (const m of [first, second, viaGroup]) {
      await consume([{ body: m }], destinations(scope));
    }
    expect((await delivery(first.delivery_id)).status).toBe("delivered");
    expect((await delivery(second.delivery_id)).status).toBe("delivered");
    expect((await delivery(viaGroup.delivery_id)).status).toBe("duplicate");
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);

    // GitLab retries the group hook's copy (its Idempotency-Key): that copy holds its key
    // although it was a duplicate by content, so the retry is its duplicate.
    const retried = await ingest({
      token: group.token,
      event: "Push Hook",
      body,
      headers: { "idempotency-key": viaGroup.headers["idempotency-key"] ?? "" },
    });
    expect(retried.dedupe_key).toBe(viaGroup.dedupe_key);
    await consume([{ body: retried }], destinations(scope));
    expect(await delivery(retried.delivery_id)).toMatchObject({
      status: "duplicate",
      duplicate_of: viaGroup.delivery_id,
    });
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);
  });
});

describe("stuck deliveries", () => {
  it("a retrying delivery whose queue message vanished is re-driven by the cron and delivered once", async () => {
    const scope = newScope();
    await script(scope, [{ status: 503 }]);
    const after = crypto.randomUUID().replaceAll("-", "").padEnd(40, "4");
    const message = await ingest({ token, event: "Push Hook", body: push(PROJECT, { after }) });
    const first = await consume([{ body: message }], destinations(scope));
    expect(first.retryMessages).toHaveLength(1);
    expect((await delivery(message.delivery_id)).status).toBe("retrying");
    // The retry message is lost (never handed back). Two hours later the cron finds the row.
    const { queue, sent } = capturingQueue();
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + 2 * 3600_000 }),
      { ...env, EVENTS_QUEUE: queue },
      createExecutionContext(),
    );
    expect(sent.map((m) => m.delivery_id)).toEqual([message.delivery_id]);
    // Re-driven once: the next sweep leaves it alone.
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + 2 * 3600_000 }),
      { ...env, EVENTS_QUEUE: queue },
      createExecutionContext(),
    );
    expect(sent).toHaveLength(1);
    // A late original copy and the re-driven one together: one forward beside the first,
    // refused attempt, never two.
    await consume([{ body: sent[0] }, { body: message }], destinations(scope));
    expect((await delivery(message.delivery_id)).status).toBe("delivered");
    const forwarded = await received(scope, "/api/webhooks/gitlab");
    expect(
      forwarded.filter((r) => r.headers["x-relay-delivery-id"] === message.delivery_id),
    ).toHaveLength(2);
  });
});
