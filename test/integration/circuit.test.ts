/**
 * The circuit breaker through the real consumer and D1: an outage opens it after a few
 * failures, deliveries then park without calling the destination, one probe tests it, and
 * the probe's success re-drives every parked delivery at once, each delivered exactly once.
 */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env as cloudflareEnv } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { admin, field, registerProject } from "../helpers/admin";
import { capturingQueue, consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, received, script } from "../helpers/doubles";
import { push } from "../helpers/gitlab-payloads";
import { BASE, call, d1FailingOn } from "../helpers/relay";

const PROJECT = { id: 7070, path: "circuit/app" };

afterEach(() => {
  vi.useRealTimers();
});

describe("a destination that keeps failing", () => {
  it("is left alone once the circuit opens, probed once, and drained when it recovers", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path });
    const scope = newScope();
    const env = {
      ...destinations(scope),
      EVENTS_URL: "",
      CIRCUIT_FAILURES: "3",
      CIRCUIT_OPEN_SECONDS: "30",
    };
    const events = [];
    for (let i = 0; i < 10; i++) {
      events.push(
        await ingest({
          token,
          event: "Push Hook",
          body: push(PROJECT, { after: `c${i}`.padEnd(40, "3") }),
        }),
      );
    }
    // packit-service is down: the calls it gets answer 503 (three are all it will get).
    await script(
      scope,
      Array.from({ length: 3 }, () => ({ status: 503 })),
    );
    for (const message of events) {
      const result = await consume([{ body: message }], env);
      expect(result.retryMessages).toHaveLength(1);
    }
    // Three calls opened the circuit; the other seven deliveries never called.
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(3);
    const parked = await admin("GET", `/deliveries/${events[9]?.delivery_id}`);
    expect(field(parked.body, "status")).toBe("retrying");
    expect(field(parked.body, "attempts")).toBe(0);
    expect(field<string>(parked.body, "destinations", 0, "last_error")).toMatch(/^circuit open/);
    const stats = await admin("GET", "/stats");
    expect(field<{ state: string }[]>(stats.body, "circuits")).toContainEqual(
      expect.objectContaining({ state: "open" }),
    );

    const health = await call(new Request(`${BASE}/healthz`));
    expect(await health.json()).toMatchObject({
      status: "degraded",
      problems: expect.arrayContaining([
        expect.stringMatching(/^packit: circuit open after 3 failures/),
      ]),
    });

    // Before retry_at nobody probes, even a new event.
    const early = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "d0".padEnd(40, "3") }),
    });
    await consume([{ body: early }], env);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(3);

    // packit-service is back; 31 s later the next delivery probes, succeeds, and the parked
    // ones are sent to the queue at once.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31_000);
    const { queue, sent } = capturingQueue();
    const probe = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "e0".padEnd(40, "3") }),
    });
    const probed = await consume([{ body: probe }], { ...env, EVENTS_QUEUE: queue });
    expect(probed.explicitAcks).toHaveLength(1);
    const drained = sent.map((m) => m.delivery_id).sort();
    expect(drained).toEqual([...events, early].map((m) => m.delivery_id).sort());
    await consume(
      sent.map((body) => ({ body })),
      env,
    );
    vi.useRealTimers();

    const forwarded = await received(scope, "/api/webhooks/gitlab");
    // 3 failed calls, the probe, then each of the 11 parked deliveries exactly once.
    expect(forwarded).toHaveLength(3 + 1 + 11);
    for (const message of [...events, early]) {
      const d = await admin("GET", `/deliveries/${message.delivery_id}`);
      expect(field(d.body, "status")).toBe("delivered");
    }
  });
});

describe("an outage that ends while no event arrives", () => {
  it("is noticed by the minute's cron: one parked delivery probes once the wait is over, the rest drain", async () => {
    const p = { id: 7180, path: "circuit/quiet" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const env = {
      ...destinations(scope),
      EVENTS_URL: "",
      CIRCUIT_FAILURES: "2",
      CIRCUIT_OPEN_SECONDS: "30",
    };
    const events = [];
    for (let i = 0; i < 4; i++) {
      events.push(
        await ingest({
          token,
          event: "Push Hook",
          body: push(p, { after: `q${i}`.padEnd(40, "5") }),
        }),
      );
    }
    await script(scope, [{ status: 503 }, { status: 503 }]);
    for (const message of events) {
      await consume([{ body: message }], env);
    }
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);

    const minute = async (queue: Queue) => {
      const ctx = createExecutionContext();
      await worker.scheduled(
        createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }),
        { ...cloudflareEnv, ...env, EVENTS_QUEUE: queue },
        ctx,
      );
      await waitOnExecutionContext(ctx);
    };
    // Before the wait is over the cron sends nothing.
    const early = capturingQueue();
    await minute(early.queue);
    expect(early.sent).toEqual([]);

    // packit-service is back and nothing new arrives; after the wait the cron sends one.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31_000);
    const probes = capturingQueue();
    await minute(probes.queue);
    expect(probes.sent).toHaveLength(1);
    const drained = capturingQueue();
    await consume(
      probes.sent.map((body) => ({ body })),
      { ...env, EVENTS_QUEUE: drained.queue },
    );
    // The probe succeeded and closed the circuit: the other parked deliveries come back.
    await consume(
      drained.sent.map((body) => ({ body })),
      env,
    );
    vi.useRealTimers();
    for (const message of events) {
      const d = await admin("GET", `/deliveries/${message.delivery_id}`);
      expect(field(d.body, "status")).toBe("delivered");
    }
    // Two failed calls, then each of the four exactly once.
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2 + 4);
  });
});

describe("delivery timings are configuration", () => {
  it("the whole dead-letter path with short timings: retry, dead after the window, the DLQ, replay", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id + 1, path: "circuit/timed" });
    const scope = newScope();
    const env = {
      ...destinations(scope),
      EVENTS_URL: "",
      RETRY_BASE_SECONDS: "1",
      RETRY_CAP_SECONDS: "2",
      RETRY_WINDOW_SECONDS: "60",
      CIRCUIT_FAILURES: "100",
    };
    const body = (after: string) =>
      push({ id: PROJECT.id + 1, path: "circuit/timed" }, { after: after.padEnd(40, "4") });
    const first = await ingest({ token, event: "Push Hook", body: body("f1") });
    await script(scope, [{ status: 503 }, { status: 503 }]);
    await consume([{ body: first }], env);
    const retrying = await admin("GET", `/deliveries/${first.delivery_id}`);
    expect(field(retrying.body, "status")).toBe("retrying");
    const wait =
      Date.parse(field(retrying.body, "next_attempt_at")) -
      Date.parse(field(retrying.body, "last_attempt_at"));
    expect(wait).toBeLessThanOrEqual(1000);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    await consume([{ body: first, attempts: 2 }], env);
    vi.useRealTimers();
    const dead = await admin("GET", `/deliveries/${first.delivery_id}`);
    expect(field(dead.body, "status")).toBe("dead");
    expect(field(dead.body, "reason")).toBe("destinations kept failing for 1 minute");

    // The queue gave up on another one: its dead-letter consumer records it dead too.
    const second = await ingest({ token, event: "Push Hook", body: body("f2") });
    await consume([{ body: second, attempts: 100 }], env, "packit-gitlab-relay-events-dlq");
    expect(field((await admin("GET", `/deliveries/${second.delivery_id}`)).body, "status")).toBe(
      "dead",
    );

    // packit-service is back: replaying the dead delivers both, once each.
    const { queue, sent } = capturingQueue();
    for (const message of [first, second]) {
      const res = await admin("POST", `/deliveries/${message.delivery_id}/replay`, undefined, {
        EVENTS_QUEUE: queue,
      });
      expect(res.status).toBe(202);
    }
    const before = (await received(scope, "/api/webhooks/gitlab")).length;
    await consume(
      sent.map((m) => ({ body: m })),
      env,
    );
    for (const message of [first, second]) {
      expect(field((await admin("GET", `/deliveries/${message.delivery_id}`)).body, "status")).toBe(
        "delivered",
      );
    }
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(before + 2);
  });
});

describe("a destination back after a few failures (the circuit never opened)", () => {
  it("the first success re-drives what was waiting for it at once", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id + 2, path: "circuit/brief" });
    const scope = newScope();
    const env = { ...destinations(scope), EVENTS_URL: "" };
    const body = (after: string) =>
      push({ id: PROJECT.id + 2, path: "circuit/brief" }, { after: after.padEnd(40, "5") });
    const waiting = [
      await ingest({ token, event: "Push Hook", body: body("a1") }),
      await ingest({ token, event: "Push Hook", body: body("a2") }),
    ];
    await script(scope, [{ status: 502 }, { status: 502 }]);
    for (const message of waiting) {
      await consume([{ body: message }], env);
    }
    const { queue, sent } = capturingQueue();
    const next = await ingest({ token, event: "Push Hook", body: body("a3") });
    await consume([{ body: next }], { ...env, EVENTS_QUEUE: queue });
    expect(sent.map((m) => m.delivery_id).sort()).toEqual(waiting.map((m) => m.delivery_id).sort());
    await consume(
      sent.map((m) => ({ body: m })),
      env,
    );
    for (const message of waiting) {
      expect(field((await admin("GET", `/deliveries/${message.delivery_id}`)).body, "status")).toBe(
        "delivered",
      );
    }
  });
});

describe("a circuit that closes while a delivery parks", () => {
  it("sends the delivery back soon instead of after its park, and the isolate sees it closed", async () => {
    const p = { id: PROJECT.id + 4, path: "circuit/closing" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const env = { ...destinations(scope), EVENTS_URL: "" };
    const key = `packit ${env.PACKIT_SERVICE_URL}`;
    const body = (after: string) => push(p, { after: after.padEnd(40, "7") });
    // Opened by another consumer, a minute to go before a probe.
    await cloudflareEnv.DB.prepare(
      `INSERT INTO circuits (destination, state, failures, opened_at, retry_at, open_count, version, updated_at)
       VALUES (?1, 'open', 5, ?2, ?3, 1, 1, ?2)`,
    )
      .bind(key, Date.now(), Date.now() + 60_000)
      .run();
    const dueIn = async (id: string) => {
      const d = await admin("GET", `/deliveries/${id}`);
      expect(field(d.body, "status")).toBe("retrying");
      return (Date.parse(field<string>(d.body, "next_attempt_at")) - Date.now()) / 1000;
    };

    // Open and still open after the park is written: the park stands (15 minutes).
    const first = await ingest({ token, event: "Push Hook", body: body("f1") });
    expect((await consume([{ body: first }], env)).retryMessages).toHaveLength(1);
    expect(await dueIn(first.delivery_id)).toBeGreaterThan(800);

    // Another consumer's probe succeeds and closes it (and drains what was parked by then);
    // this isolate still holds "open" for a few seconds and parks the next delivery on it.
    await cloudflareEnv.DB.prepare(
      "UPDATE circuits SET state = 'closed', failures = 0, retry_at = NULL, version = version + 1 WHERE destination = ?1",
    )
      .bind(key)
      .run();
    const second = await ingest({ token, event: "Push Hook", body: body("f2") });
    expect((await consume([{ body: second }], env)).retryMessages).toHaveLength(1);
    const soon = await dueIn(second.delivery_id);
    expect(soon).toBeGreaterThan(0);
    expect(soon).toBeLessThanOrEqual(11);
    // Changed now, due soon: updated_at is not moved into the future with it.
    const changed = await cloudflareEnv.DB.prepare(
      "SELECT updated_at, next_attempt_at FROM deliveries WHERE id = ?1",
    )
      .bind(second.delivery_id)
      .first<{ updated_at: number; next_attempt_at: number }>();
    expect(changed?.updated_at).toBeLessThanOrEqual(Date.now());
    expect(changed?.updated_at).toBeLessThan(changed?.next_attempt_at ?? 0);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(0);

    // The fresh read corrected the isolate's view: the next delivery is forwarded.
    const third = await ingest({ token, event: "Push Hook", body: body("f3") });
    expect((await consume([{ body: third }], env)).explicitAcks).toHaveLength(1);
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
  });
});

describe("the breaker's own trouble", () => {
  it("never stops or repeats a delivery when its D1 state cannot be read or written", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id + 3, path: "circuit/d1-down" });
    const scope = newScope();
    const env = {
      ...destinations(scope),
      EVENTS_URL: "",
      DB: d1FailingOn(/circuits/),
    };
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push({ id: PROJECT.id + 3, path: "circuit/d1-down" }, { after: "d1".padEnd(40, "6") }),
    });
    await script(scope, [{ status: 503 }]);
    const first = await consume([{ body: message }], env);
    expect(first.retryMessages).toHaveLength(1);
    expect(field((await admin("GET", `/deliveries/${message.delivery_id}`)).body, "status")).toBe(
      "retrying",
    );
    const second = await consume([{ body: message, attempts: 2 }], env);
    expect(second.explicitAcks).toHaveLength(1);
    expect(field((await admin("GET", `/deliveries/${message.delivery_id}`)).body, "status")).toBe(
      "delivered",
    );
    // One failed call, one delivered: nothing sent again because the breaker could not write.
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(2);
  });
});
