import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { webhookMessage } from "../../src/domain/queue-message";
import worker from "../../src/index";
import { admin, field, registerProject } from "../helpers/admin";
import { push } from "../helpers/gitlab-payloads";
import { recordingQueue } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

describe("the Worker's main module", () => {
  it("exports only the handler object (workerd refuses any other export)", async () => {
    expect(Object.keys(await import("../../src/index"))).toEqual(["default"]);
  });
});

describe("queue consumer bookkeeping", () => {
  it("records last_used_at from the messages, not on the request GitLab waits on", async () => {
    const p = { id: 2121, path: "used/project" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const { queue, sent } = recordingQueue();
    expect(
      (
        await sendWebhook(
          { token: reg.token, event: "Push Hook", body: push(p) },
          { EVENTS_QUEUE: queue },
        )
      ).status,
    ).toBe(202);

    const before = await admin("GET", `/projects/${reg.id}`);
    expect(field(before.body, "tokens", 0, "last_used_at")).toBeNull();

    const message = webhookMessage.parse(sent[0]);
    const batch = createMessageBatch("packit-gitlab-relay-events", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await getQueueResult(batch, ctx);

    const after = await admin("GET", `/projects/${reg.id}`);
    expect(field(after.body, "tokens", 0, "last_used_at")).toBe(
      new Date(message.received_at).toISOString(),
    );
  });

  it("acks a malformed message instead of retrying it forever", async () => {
    const batch = createMessageBatch("packit-gitlab-relay-events", [
      { id: "bad", timestamp: new Date(), attempts: 1, body: { v: 99, nonsense: true } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["bad"]);
    expect(result.retryMessages).toEqual([]);
  });
});

describe("the delivery log's lease", () => {
  it("writes nothing for a copy whose lease passed to another copy", async () => {
    const { DeliveriesRepo } = await import("../../src/storage/deliveries-repo");
    const p = { id: 2222, path: "lease/project" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const { queue, sent } = recordingQueue();
    await sendWebhook(
      { token: reg.token, event: "Push Hook", body: push(p) },
      { EVENTS_QUEUE: queue },
    );
    const message = webhookMessage.parse(sent[0]);
    const repo = new DeliveriesRepo(env.DB);
    const t0 = Date.now();
    const claim = (now: number, owner: string, until: number) =>
      repo.claim({
        message,
        contentHash: "h1",
        stored: "{}",
        windowStart: 0,
        now,
        lease: { owner, until },
      });
    const first = await claim(t0, "A", t0 + 1000);
    expect(first.leased).toBe(true);
    // A's lease ran out; B takes over.
    const second = await claim(t0 + 2000, "B", t0 + 60_000);
    expect(second.leased).toBe(true);
    const attempt = {
      destination: "packit",
      targetStatus: "delivered" as const,
      outcome: "delivered",
      statusCode: 202,
      error: null,
      durationMs: 5,
    };
    expect(
      await repo.record({
        id: message.delivery_id,
        generation: 0,
        attempts: [attempt],
        finish: { status: "delivered", attempted: true },
        now: t0 + 3000,
        leaseOwner: "A",
      }),
    ).toBe(false);
    expect((await repo.details(message.delivery_id)).attempts).toEqual([]);
    expect(
      await repo.record({
        id: message.delivery_id,
        generation: 0,
        attempts: [attempt],
        finish: { status: "delivered", attempted: true },
        now: t0 + 3000,
        leaseOwner: "B",
      }),
    ).toBe(true);
    expect((await repo.details(message.delivery_id)).attempts).toHaveLength(1);
    expect((await repo.get(message.delivery_id))?.status).toBe("delivered");
  });
});
