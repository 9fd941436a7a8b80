import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { webhookMessage } from "../../src/events/queue-message";
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
