import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bodyKey } from "../../src/domain/stored-message";
import { sha256Hex } from "../../src/lib/crypto";
import { utf8 } from "../../src/lib/encoding";
import { admin, field, registerNamespace, registerProject } from "../helpers/admin";
import { capturingQueue, consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, received, script } from "../helpers/doubles";
import { mergeRequest } from "../helpers/gitlab-payloads";

async function storedRow(id: string) {
  const row = await env.DB.prepare("SELECT message FROM deliveries WHERE id = ?1")
    .bind(id)
    .first<{ message: string }>();
  if (!row) {
    throw new Error(`no delivery ${id}`);
  }
  return row.message;
}

async function replayAndDeliver(id: string, overrides: Partial<Env>) {
  const { queue, sent } = capturingQueue();
  const res = await admin("POST", `/deliveries/${id}/replay`, undefined, { EVENTS_QUEUE: queue });
  expect(res.status).toBe(202);
  await consume(
    sent.map((body) => ({ body })),
    overrides,
  );
}

/** The bucket, each `put` going through `put` (handed the real one) instead. */
function bodiesWithPut(
  put: (real: (...args: unknown[]) => unknown, key: string, ...rest: unknown[]) => unknown,
): R2Bucket {
  return new Proxy(env.BODIES, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === "put") {
        const real = (...args: unknown[]) => Reflect.apply(value, target, args);
        return (key: string, ...rest: unknown[]) => put(real, key, ...rest);
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The bucket, with its writes counted. */
function countingBodies() {
  const puts: string[] = [];
  const bodies = bodiesWithPut((real, key, ...rest) => {
    puts.push(key);
    return real(key, ...rest);
  });
  return { bodies, puts };
}

describe("what the delivery log keeps", () => {
  it("keeps metadata in D1 and the body once in R2, and replays the exact bytes from there", async () => {
    const p = { id: 9301, path: "storage/metadata" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const marker = "only-in-the-body-".repeat(1000);
    const raw = JSON.stringify(mergeRequest(p, "open", marker));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    expect(message.body.storage).toBe("inline");
    await consume([{ body: message }], destinations(scope));

    const stored = await storedRow(message.delivery_id);
    expect(stored).not.toContain("only-in-the-body");
    expect(stored.length).toBeLessThan(300);
    const sha = await sha256Hex(utf8(raw));
    const object = await env.BODIES.get(bodyKey(sha, message.received_at));
    expect(await object?.text()).toBe(raw);

    await replayAndDeliver(message.delivery_id, destinations(scope));
    const got = await received(scope, "/api/webhooks/gitlab");
    expect(got.map((r) => r.body)).toEqual([raw, raw]);
  });

  it("keeps a body that travelled gzipped as the bytes GitLab sent, and replays them", async () => {
    const p = { id: 9304, path: "storage/gzipped" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(p, "open", "a pasted build log line\n".repeat(8000)));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    expect(message.body.storage).toBe("gzip");
    await consume([{ body: message }], destinations(scope));

    const sha = await sha256Hex(utf8(raw));
    expect(await (await env.BODIES.get(bodyKey(sha, message.received_at)))?.text()).toBe(raw);
    expect((await storedRow(message.delivery_id)).length).toBeLessThan(300);
    await replayAndDeliver(message.delivery_id, destinations(scope));
    const got = await received(scope, "/api/webhooks/gitlab");
    expect(got.map((r) => r.body)).toEqual([raw, raw]);
  });

  it("never forwards a gzipped body that does not inflate to its SHA-256", async () => {
    const p = { id: 9305, path: "storage/gzip-altered" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(p, "open", "line\n".repeat(40_000)));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    if (message.body.storage !== "gzip") {
      throw new Error("expected a gzipped body");
    }
    const other = JSON.stringify(mergeRequest(p, "open", "else\n".repeat(40_000)));
    const gz = new Uint8Array(
      await new Response(
        new Blob([other]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    for (const data of [btoa(String.fromCharCode(...gz)), "bm90IGd6aXA="]) {
      const altered = {
        ...message,
        delivery_id: crypto.randomUUID(),
        body: { ...message.body, data },
      };
      await consume([{ body: altered }], destinations(scope));
      const d = await admin("GET", `/deliveries/${altered.delivery_id}`);
      expect(field(d.body, "status")).toBe("dead");
    }
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(0);
  });

  it("stores the body a project hook and a group hook both deliver once", async () => {
    const p = { id: 9302, path: "storage-group/shared" };
    const project = await registerProject({ projectId: p.id, path: p.path });
    const group = await registerNamespace({ namespace: "storage-group" });
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(p, "open", "shared by two hooks"));
    const viaProject = await ingest({
      token: project.token,
      event: "Merge Request Hook",
      body: raw,
    });
    const viaGroup = await ingest({ token: group.token, event: "Merge Request Hook", body: raw });
    await consume([{ body: viaProject }, { body: viaGroup }], destinations(scope));

    const sha = await sha256Hex(utf8(raw));
    const day = bodyKey(sha, viaProject.received_at).split("/").slice(0, 2).join("/");
    const listed = await env.BODIES.list({ prefix: `${day}/` });
    expect(listed.objects.filter((o) => o.key.includes(sha))).toHaveLength(1);
    for (const m of [viaProject, viaGroup]) {
      expect(await storedRow(m.delivery_id)).not.toContain("shared by two hooks");
    }
    // Either copy replays from that one object.
    await replayAndDeliver(viaGroup.delivery_id, destinations(scope));
    const got = await received(scope, "/api/webhooks/gitlab");
    expect(got.at(-1)?.body).toBe(raw);
  });

  it("delivers when R2 refuses the body, and then keeps the whole message in the row", async () => {
    const p = { id: 9303, path: "storage/r2-down" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(p, "open", "kept inline while R2 is down"));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    const refusingBodies = bodiesWithPut(async () => {
      throw new Error("R2 put failed: 503 Service Unavailable");
    });
    const result = await consume([{ body: message }], {
      ...destinations(scope),
      BODIES: refusingBodies,
    });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await storedRow(message.delivery_id)).toContain("kept inline while R2 is down");
    const detail = await admin("GET", `/deliveries/${message.delivery_id}`);
    expect(field(detail.body, "status")).toBe("delivered");

    await replayAndDeliver(message.delivery_id, destinations(scope));
    const got = await received(scope, "/api/webhooks/gitlab");
    expect(got.map((r) => r.body)).toEqual([raw, raw]);
  });

  it("writes a body to R2 once, however often the queue hands its message back", async () => {
    const p = { id: 9307, path: "storage/write-once" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const raw = JSON.stringify(mergeRequest(p, "open", "retried until packit-service is back"));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    expect(message.body.storage).toBe("inline");
    await script(scope, [{ status: 503 }, { status: 503 }]);
    const { bodies, puts } = countingBodies();
    const env2 = { ...destinations(scope), BODIES: bodies };

    const first = await consume([{ body: message, attempts: 1 }], env2);
    expect(first.retryMessages).toHaveLength(1);
    expect(puts).toHaveLength(1);
    // The queue's retries of a delivery recorded as retrying: no further writes.
    const second = await consume([{ body: message, attempts: 2 }], env2);
    expect(second.retryMessages).toHaveLength(1);
    await consume([{ body: message, attempts: 3 }], env2);
    expect(puts).toHaveLength(1);
    const detail = await admin("GET", `/deliveries/${message.delivery_id}`);
    expect(field(detail.body, "status")).toBe("delivered");
    // The one write is what replay reads back.
    await replayAndDeliver(message.delivery_id, destinations(scope));
    const got = await received(scope, "/api/webhooks/gitlab");
    expect(got.map((r) => r.body)).toEqual([raw, raw, raw, raw]);
  });

  it("writes the body on a retry whose delivery no earlier pass recorded", async () => {
    // The first pass died before it recorded anything (its write may not have happened).
    const p = { id: 9308, path: "storage/first-pass-lost" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const raw = JSON.stringify(mergeRequest(p, "open", "the first pass never finished"));
    const message = await ingest({ token, event: "Merge Request Hook", body: raw });
    const { bodies, puts } = countingBodies();
    await consume([{ body: message, attempts: 2 }], {
      ...destinations(newScope()),
      BODIES: bodies,
    });
    expect(puts).toHaveLength(1);
    const sha = await sha256Hex(utf8(raw));
    expect(await (await env.BODIES.get(bodyKey(sha, message.received_at)))?.text()).toBe(raw);
  });
});
