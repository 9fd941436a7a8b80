import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type WebhookMessage, webhookMessage } from "../../src/domain/queue-message";
import { bodyKey } from "../../src/domain/stored-message";
import { INBOX_GRACE_MS } from "../../src/events/inbox-sweep";
import worker from "../../src/index";
import { forgetTokens } from "../../src/ingress/authenticate";
import { admin, field, registerNamespace, registerProject } from "../helpers/admin";
import {
  bigPipeline,
  ignoredEvents,
  incompressible,
  mergeRequest,
  note,
  push,
  relayedEvents,
} from "../helpers/gitlab-payloads";
import {
  asJson,
  call,
  d1FailingOn,
  recordingQueue,
  refusingBucket,
  refusingQueue,
} from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const PROJECT = { id: 4242, path: "packit/hello-world" };
let token = "";

beforeAll(async () => {
  ({ token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path }));
});

function onlyMessage(sent: unknown[]): WebhookMessage {
  expect(sent).toHaveLength(1);
  return webhookMessage.parse(sent[0]);
}

async function bytesOf(message: WebhookMessage): Promise<string> {
  if (message.body.storage === "inline") {
    return message.body.text;
  }
  if (message.body.storage === "gzip") {
    const gz = Uint8Array.from(atob(message.body.data), (c) => c.charCodeAt(0));
    const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  const object = await env.BODIES.get(message.body.key);
  return object ? object.text() : "";
}

describe("accepted events", () => {
  it.each(relayedEvents(PROJECT))("queues a $name event with the exact bytes", async (event) => {
    // Unusual but valid JSON spacing: the relay must not re-serialise.
    const raw = JSON.stringify(event.body, null, 3).replace(/"id": /, '"id" :  ');
    const { queue, sent } = recordingQueue();
    const res = await asJson(
      await sendWebhook({ token, event: event.header, body: raw }, { EVENTS_QUEUE: queue }),
    );
    expect(res.status).toBe(202);
    expect(field(res.body, "status")).toBe("queued");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const message = onlyMessage(sent);
    expect(message.delivery_id).toBe(field(res.body, "delivery_id"));
    expect(await bytesOf(message)).toBe(raw);
    expect(message.project).toEqual({
      id: PROJECT.id,
      path: PROJECT.path,
      web_url: `https://gitlab.example.com/${PROJECT.path}`,
    });
    expect(message.registration).toMatchObject({ kind: "project", gitlab_project_id: PROJECT.id });
    expect(message.instance_url).toBe("https://gitlab.example.com");
  });

  it("answers on packit-service's own path too", async () => {
    const { queue, sent } = recordingQueue();
    const res = await sendWebhook(
      { token, event: "Push Hook", body: push(PROJECT), path: "/api/webhooks/gitlab" },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    expect(onlyMessage(sent).kind).toBe("push");
  });

  it("keeps GitLab's delivery headers and derives the dedupe key from them", async () => {
    const { queue, sent } = recordingQueue();
    const headers = {
      "x-gitlab-instance": "https://GITLAB.example.com/",
      "x-gitlab-event-uuid": "5b0c4b4a-7a1d-4bd4-9c52-0f6c44e0ad8f",
      "x-gitlab-webhook-uuid": "0a1b2c3d-7a1d-4bd4-9c52-0f6c44e0ad8f",
      "idempotency-key": "6f8a0d5e-1c2b-4b7a-9d3e-2f1a0b9c8d7e",
    };
    const res = await sendWebhook(
      { token, event: "Merge Request Hook", body: mergeRequest(PROJECT), headers },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    const message = onlyMessage(sent);
    // Scoped to this sender: a hash of its registration and the key, never the key itself.
    expect(message.dedupe_key).toMatch(/^ik_[0-9a-f]{48}$/);
    expect(message.dedupe_key).not.toContain(headers["idempotency-key"]);
    expect(message.dedupe_source).toBe("idempotency-key");
    expect(message.headers).toMatchObject({
      "x-gitlab-event": "Merge Request Hook",
      "x-gitlab-event-uuid": headers["x-gitlab-event-uuid"],
      "x-gitlab-instance": headers["x-gitlab-instance"],
    });
    expect(JSON.stringify(message.headers)).not.toContain(token);
  });

  it("hashes instance, project, event and body into the dedupe key for GitLab before 17.4", async () => {
    const { queue, sent } = recordingQueue();
    const body = JSON.stringify(push(PROJECT));
    for (let i = 0; i < 2; i++) {
      expect(
        (await sendWebhook({ token, event: "Push Hook", body }, { EVENTS_QUEUE: queue })).status,
      ).toBe(202);
    }
    await sendWebhook(
      { token, event: "Push Hook", body: JSON.stringify(push(PROJECT, { after: "f".repeat(40) })) },
      { EVENTS_QUEUE: queue },
    );
    const [first, second, third] = sent.map((m) => webhookMessage.parse(m));
    expect(first?.dedupe_source).toBe("content-hash");
    expect(first?.dedupe_key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second?.dedupe_key).toBe(first?.dedupe_key);
    expect(second?.delivery_id).not.toBe(first?.delivery_id);
    expect(third?.dedupe_key).not.toBe(first?.dedupe_key);
  });

  it("accepts concurrent deliveries, each queued once", async () => {
    const { queue, sent } = recordingQueue();
    const responses = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        sendWebhook(
          { token, event: "Note Hook", body: note(PROJECT, `/packit build ${i}`) },
          { EVENTS_QUEUE: queue },
        ),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(25).fill(202));
    const bodies = await Promise.all(sent.map((m) => bytesOf(webhookMessage.parse(m))));
    expect(new Set(bodies).size).toBe(25);
    const ids = sent.map((m) => webhookMessage.parse(m).delivery_id);
    expect(new Set(ids).size).toBe(25);
  });
});

describe("ignored events", () => {
  it.each(ignoredEvents(PROJECT))(
    "answers a $name event 202 ignored and queues nothing",
    async (event) => {
      const { queue, sent } = recordingQueue();
      const res = await asJson(
        await sendWebhook(
          { token, event: event.header, body: event.body },
          { EVENTS_QUEUE: queue },
        ),
      );
      expect(res.status).toBe(202);
      expect(field(res.body, "status")).toBe("ignored");
      expect(field<string>(res.body, "reason")).toMatch(/not relayed/);
      expect(sent).toHaveLength(0);
    },
  );
});

describe("request checks, in SPEC order", () => {
  function expectError(res: Awaited<ReturnType<typeof asJson>>, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(field(res.body, "error", "code")).toBe(code);
    expect(field(res.body, "error", "request_id")).toBe(res.headers.get("x-request-id"));
  }

  it("refuses a declared body over 25 MiB with 413 before authenticating", async () => {
    const res = await asJson(
      await sendWebhook({
        event: "Push Hook",
        body: "{}",
        headers: { "content-length": String(26 * 1024 * 1024) },
      }),
    );
    expectError(res, 413, "payload_too_large");
  });

  it("refuses a streamed body over 25 MiB with 413", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sentChunks = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sentChunks++ < 26) {
          controller.enqueue(chunk);
        } else {
          controller.close();
        }
      },
    });
    const { queue, sent } = recordingQueue();
    const req = new Request("https://relay.test/webhooks/gitlab", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-gitlab-event": "Push Hook",
        "x-gitlab-token": token,
      },
      body: stream,
    });
    expectError(await asJson(await call(req, { EVENTS_QUEUE: queue })), 413, "payload_too_large");
    expect(sent).toHaveLength(0);
  });

  it("refuses a body that is not JSON with 415", async () => {
    const res = await asJson(
      await sendWebhook({
        token,
        event: "Push Hook",
        body: "a=b",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    expectError(res, 415, "unsupported_media_type");
  });

  it("refuses a request without X-Gitlab-Event with 400", async () => {
    expectError(
      await asJson(await sendWebhook({ token, body: push(PROJECT) })),
      400,
      "missing_event_header",
    );
  });

  it.each([
    ["no token", undefined],
    ["an empty token", ""],
    ["a wrong token", "pgr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["a token without the prefix", "not-a-relay-token"],
    [
      "a JWT signed with another secret",
      "eyJhbGciOiJIUzI1NiJ9.eyJuYW1lc3BhY2UiOiJwYWNraXQifQ.c2lnbmF0dXJl",
    ],
  ])("refuses %s with 401", async (_name, badToken) => {
    const { queue, sent } = recordingQueue();
    const res = await asJson(
      await sendWebhook(
        { token: badToken, event: "Push Hook", body: push(PROJECT) },
        { EVENTS_QUEUE: queue },
      ),
    );
    expectError(res, 401, "unauthorized");
    expect(sent).toHaveLength(0);
  });

  it("authenticates before parsing: garbage from a stranger is 401, not 400", async () => {
    expectError(
      await asJson(await sendWebhook({ event: "Push Hook", body: "{nope" })),
      401,
      "unauthorized",
    );
  });

  it.each([
    ["malformed JSON", '{"object_kind": "push",', "invalid_json"],
    ["an empty body", "", "invalid_json"],
    ["a JSON array", "[1,2,3]", "invalid_payload"],
    ["a JSON string", '"push"', "invalid_payload"],
    ["null", "null", "invalid_payload"],
    ["deeply nested JSON", `${"[".repeat(100_000)}${"]".repeat(100_000)}`, "invalid_json"],
  ])("answers %s with 400 for the token holder", async (_name, body, code) => {
    const { queue, sent } = recordingQueue();
    const res = await asJson(
      await sendWebhook({ token, event: "Push Hook", body }, { EVENTS_QUEUE: queue }),
    );
    expectError(res, 400, code);
    expect(sent).toHaveLength(0);
  });

  it("refuses JSON nested deeper than GitLab ever sends (64) before parsing it", async () => {
    const { queue, sent } = recordingQueue();
    const deep = `{"project":${'{"a":'.repeat(64)}1${"}".repeat(64)}}`;
    const res = await asJson(
      await sendWebhook({ token, event: "Push Hook", body: deep }, { EVENTS_QUEUE: queue }),
    );
    expectError(res, 400, "invalid_json");
    expect(field<string>(res.body, "error", "message")).toContain("deeper than 64");
    expect(sent).toHaveLength(0);
    // 64 levels in all is fine (here ignored later, for naming no project).
    const fits = `{"x":${'{"a":'.repeat(62)}1${"}".repeat(62)}}`;
    const parsed = await asJson(await sendWebhook({ token, event: "Push Hook", body: fits }));
    expect(parsed).toMatchObject({ status: 202, body: { status: "ignored" } });
  });

  it("answers invalid UTF-8 with 400", async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    expectError(
      await asJson(await sendWebhook({ token, event: "Push Hook", body: bytes })),
      400,
      "invalid_json",
    );
  });

  it("refuses a header that contradicts the payload's object_kind with 400", async () => {
    expectError(
      await asJson(await sendWebhook({ token, event: "Push Hook", body: mergeRequest(PROJECT) })),
      400,
      "invalid_payload",
    );
  });

  it("refuses another project's event with 403", async () => {
    const { queue, sent } = recordingQueue();
    const other = { id: 999, path: "someone/else" };
    const res = await asJson(
      await sendWebhook({ token, event: "Push Hook", body: push(other) }, { EVENTS_QUEUE: queue }),
    );
    expectError(res, 403, "forbidden");
    expect(sent).toHaveLength(0);
  });

  it("refuses a mismatching X-Gitlab-Instance with 403", async () => {
    const res = await asJson(
      await sendWebhook({
        token,
        event: "Push Hook",
        body: push(PROJECT),
        headers: { "x-gitlab-instance": "https://gitlab.com" },
      }),
    );
    expectError(res, 403, "forbidden");
  });
});

describe("tokens", () => {
  it("refuses another registered project's token for this project", async () => {
    const other = await registerProject({ projectId: 5151, path: "other/project" });
    const res = await asJson(
      await sendWebhook({ token: other.token, event: "Push Hook", body: push(PROJECT) }),
    );
    expect(res.status).toBe(403);
  });

  it("stops a revoked token at once", async () => {
    const reg = await registerProject({ projectId: 6161, path: "revoke/me" });
    const p = { id: 6161, path: "revoke/me" };
    expect(
      (await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) })).status,
    ).toBe(202);
    expect((await admin("DELETE", `/projects/${reg.id}/tokens/${reg.tokenId}`)).status).toBe(200);
    expect(
      (await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) })).status,
    ).toBe(401);
  });

  it("keeps a rotated-out token during its grace period and refuses it after", async () => {
    const reg = await registerProject({ projectId: 7171, path: "rotate/me" });
    const p = { id: 7171, path: "rotate/me" };
    const rotated = await admin("POST", `/projects/${reg.id}/tokens`, {
      grace_period_seconds: 3600,
    });
    expect(rotated.status).toBe(201);
    const newToken = field<string>(rotated.body, "token");
    expect(
      (await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) })).status,
    ).toBe(202);
    expect((await sendWebhook({ token: newToken, event: "Push Hook", body: push(p) })).status).toBe(
      202,
    );

    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 3601 * 1000);
      expect(
        (await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) })).status,
      ).toBe(401);
      expect(
        (await sendWebhook({ token: newToken, event: "Push Hook", body: push(p) })).status,
      ).toBe(202);
    } finally {
      vi.useRealTimers();
    }
  });

  it("lets a namespace token cover projects in its subgroups, and nothing outside", async () => {
    const reg = await registerNamespace({ namespace: "redhat/centos-stream" });
    const inside = { id: 8181, path: "redhat/centos-stream/rpms/bash" };
    const direct = { id: 8182, path: "redhat/centos-stream/src" };
    const lookalike = { id: 8183, path: "redhat/centos-stream-extras/x" };
    const { queue, sent } = recordingQueue();
    expect(
      (
        await sendWebhook(
          { token: reg.token, event: "Push Hook", body: push(inside) },
          { EVENTS_QUEUE: queue },
        )
      ).status,
    ).toBe(202);
    expect(
      (
        await sendWebhook(
          { token: reg.token, event: "Push Hook", body: push(direct) },
          { EVENTS_QUEUE: queue },
        )
      ).status,
    ).toBe(202);
    expect(
      (await sendWebhook({ token: reg.token, event: "Push Hook", body: push(lookalike) })).status,
    ).toBe(403);
    expect(webhookMessage.parse(sent[0]).registration).toMatchObject({
      kind: "namespace",
      namespace: "redhat/centos-stream",
    });
  });
});

describe("legacy packit JWTs", () => {
  const secret = new TextEncoder().encode("gitlab-token-secret");
  const legacyProject = { id: 3131, path: "multi/part/namespace/repo" };

  async function jwt(claims: Record<string, string>, key = secret) {
    return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
  }

  it("accepts a project token packit-service minted", async () => {
    const { queue, sent } = recordingQueue();
    const legacy = await jwt({ namespace: "multi/part/namespace", repo_name: "repo" });
    const res = await sendWebhook(
      { token: legacy, event: "Push Hook", body: push(legacyProject) },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    const message = onlyMessage(sent);
    expect(message.registration).toEqual({
      kind: "legacy_jwt",
      namespace: "multi/part/namespace",
      repo_name: "repo",
    });
    expect(message.instance_url).toBe("https://gitlab.example.com");
  });

  it("accepts a namespace token for its exact namespace only, as packit-service does", async () => {
    const exact = await jwt({ namespace: "multi/part/namespace" });
    expect(
      (await sendWebhook({ token: exact, event: "Push Hook", body: push(legacyProject) })).status,
    ).toBe(202);
    // packit-service compares the namespace exactly: no subgroups, no other case.
    for (const namespace of ["multi", "multi/part", "Multi/Part/Namespace"]) {
      const legacy = await jwt({ namespace });
      expect(
        (await sendWebhook({ token: legacy, event: "Push Hook", body: push(legacyProject) }))
          .status,
      ).toBe(403);
    }
  });

  it("refuses a token for another repository with 403", async () => {
    const legacy = await jwt({ namespace: "multi/part/namespace", repo_name: "other" });
    expect(
      (await sendWebhook({ token: legacy, event: "Push Hook", body: push(legacyProject) })).status,
    ).toBe(403);
  });

  it("refuses a token signed with another secret with 401", async () => {
    const legacy = await jwt({ namespace: "multi" }, new TextEncoder().encode("not-the-secret"));
    expect(
      (await sendWebhook({ token: legacy, event: "Push Hook", body: push(legacyProject) })).status,
    ).toBe(401);
  });

  it("refuses every JWT when PACKIT_GITLAB_TOKEN_SECRET is unset", async () => {
    const legacy = await jwt({ namespace: "multi" });
    const res = await sendWebhook(
      { token: legacy, event: "Push Hook", body: push(legacyProject) },
      { PACKIT_GITLAB_TOKEN_SECRET: "" },
    );
    expect(res.status).toBe(401);
  });
});

describe("GitLab 19 signed webhooks", () => {
  const signingSecret = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`;
  const signedProject = { id: 9191, path: "signed/project" };
  let signedToken = "";

  beforeAll(async () => {
    ({ token: signedToken } = await registerProject({
      projectId: signedProject.id,
      path: signedProject.path,
      signingSecret,
    }));
  });

  function signed(body: string, at = new Date(), id = "0d3f1a8e-2b7c-4c5d-8e9f-1a2b3c4d5e6f") {
    const signature = new Webhook(signingSecret).sign(id, at, body);
    return {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
    };
  }

  it("accepts a valid signature and uses webhook-id as the dedupe key", async () => {
    const body = JSON.stringify(push(signedProject));
    const { queue, sent } = recordingQueue();
    const res = await sendWebhook(
      { token: signedToken, event: "Push Hook", body, headers: signed(body) },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    const message = onlyMessage(sent);
    expect(message.dedupe_source).toBe("webhook-id");
    expect(message.dedupe_key).toMatch(/^wh_[0-9a-f]{48}$/);
  });

  it("accepts when any of several signatures matches (rotation)", async () => {
    const body = JSON.stringify(push(signedProject));
    const headers = signed(body);
    headers["webhook-signature"] = `v1,${btoa("x".repeat(32))} ${headers["webhook-signature"]}`;
    expect(
      (await sendWebhook({ token: signedToken, event: "Push Hook", body, headers })).status,
    ).toBe(202);
  });

  it("refuses a tampered body", async () => {
    const body = JSON.stringify(push(signedProject));
    const headers = signed(body);
    const res = await asJson(
      await sendWebhook({
        token: signedToken,
        event: "Push Hook",
        body: body.replace("main", "evil"),
        headers,
      }),
    );
    expect(res.status).toBe(401);
    expect(field(res.body, "error", "message")).toMatch(/signature/);
  });

  it("refuses a stale timestamp", async () => {
    const body = JSON.stringify(push(signedProject));
    const headers = signed(body, new Date(Date.now() - 6 * 60 * 1000));
    const res = await asJson(
      await sendWebhook({ token: signedToken, event: "Push Hook", body, headers }),
    );
    expect(res.status).toBe(401);
    expect(field(res.body, "error", "message")).toMatch(/timestamp/);
  });

  it("refuses an unsigned request once a signing secret is registered", async () => {
    const res = await asJson(
      await sendWebhook({ token: signedToken, event: "Push Hook", body: push(signedProject) }),
    );
    expect(res.status).toBe(401);
    expect(field(res.body, "error", "message")).toMatch(/signed/);
  });
});

describe("durability", () => {
  it("puts a body over the queue limit in R2 and the message references it byte for byte", async () => {
    const big = JSON.stringify(mergeRequest(PROJECT, "open", incompressible(200_000)));
    const { queue, sent } = recordingQueue();
    const res = await sendWebhook(
      { token, event: "Merge Request Hook", body: big },
      { EVENTS_QUEUE: queue },
    );
    expect(res.status).toBe(202);
    const message = onlyMessage(sent);
    expect(message.body.storage).toBe("r2");
    expect(JSON.stringify(message).length).toBeLessThan(10_000);
    expect(await bytesOf(message)).toBe(big);
  });

  it("counts escaped characters: a body that grows past the limit when serialised goes gzipped", async () => {
    const quoted = JSON.stringify(note(PROJECT, '"'.repeat(60_000)));
    const { queue, sent } = recordingQueue();
    expect(
      (await sendWebhook({ token, event: "Note Hook", body: quoted }, { EVENTS_QUEUE: queue }))
        .status,
    ).toBe(202);
    const message = onlyMessage(sent);
    expect(message.body.storage).toBe("gzip");
    expect(JSON.stringify(message).length).toBeLessThan(10_000);
    expect(await bytesOf(message)).toBe(quoted);
    // Nothing written to R2 before GitLab got its answer.
    expect(await env.BODIES.head(bodyKey(message.body.sha256, message.received_at))).toBeNull();
  });

  it("gzips a 600 KB pipeline into the queue message; past 1 MiB, R2 without trying", async () => {
    const { queue, sent } = recordingQueue();
    const mid = JSON.stringify(bigPipeline(PROJECT, 600 * 1024));
    const large = JSON.stringify(bigPipeline(PROJECT, 1100 * 1024));
    for (const body of [mid, large]) {
      const res = await sendWebhook(
        { token, event: "Pipeline Hook", body },
        { EVENTS_QUEUE: queue },
      );
      expect(res.status).toBe(202);
    }
    const [first, second] = sent.map((m) => webhookMessage.parse(m));
    expect(first?.body.storage).toBe("gzip");
    expect(JSON.stringify(first).length).toBeLessThan(100_000);
    expect(first && (await bytesOf(first))).toBe(mid);
    expect(second?.body.storage).toBe("r2");
    expect(second && (await bytesOf(second))).toBe(large);
  });

  it("writes the event to the D1 inbox when the queue refuses, and the cron sweep queues it", async () => {
    const body = JSON.stringify(push(PROJECT, { after: "1".repeat(40) }));
    const res = await asJson(
      await sendWebhook({ token, event: "Push Hook", body }, { EVENTS_QUEUE: refusingQueue() }),
    );
    expect(res.status).toBe(202);
    expect(field(res.body, "status")).toBe("queued");
    const deliveryId = field<string>(res.body, "delivery_id");
    const row = await env.DB.prepare("SELECT message FROM inbox WHERE delivery_id = ?1")
      .bind(deliveryId)
      .first<{ message: string }>();
    expect(row).not.toBeNull();

    const { queue, sent } = recordingQueue();
    // A sweep right away leaves the row alone (its writer may still be queueing it)...
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }),
      { ...env, EVENTS_QUEUE: queue },
      createExecutionContext(),
    );
    expect(sent).toEqual([]);
    // ...the next minute's sends it.
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + INBOX_GRACE_MS }),
      { ...env, EVENTS_QUEUE: queue },
      createExecutionContext(),
    );
    const message = onlyMessage(sent);
    expect(message.delivery_id).toBe(deliveryId);
    expect(await bytesOf(message)).toBe(body);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM inbox").first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("keeps inbox rows when the sweep's queue send fails, for the next sweep", async () => {
    const res = await asJson(
      await sendWebhook(
        { token, event: "Push Hook", body: push(PROJECT) },
        { EVENTS_QUEUE: refusingQueue() },
      ),
    );
    const deliveryId = field<string>(res.body, "delivery_id");
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + INBOX_GRACE_MS }),
      { ...env, EVENTS_QUEUE: refusingQueue() },
      createExecutionContext(),
    );
    const row = await env.DB.prepare("SELECT attempts FROM inbox WHERE delivery_id = ?1")
      .bind(deliveryId)
      .first<{ attempts: number }>();
    expect(row?.attempts).toBe(1);
    await env.DB.prepare("DELETE FROM inbox").run();
  });

  it("answers 503 with Retry-After only when neither the queue nor the inbox takes the event", async () => {
    const res = await asJson(
      await sendWebhook(
        { token, event: "Push Hook", body: push(PROJECT) },
        { EVENTS_QUEUE: refusingQueue(), DB: d1FailingOn(/INSERT INTO inbox/) },
      ),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(field(res.body, "error", "code")).toBe("unavailable");
  });

  it("answers 503 when R2 refuses a large body, and queues nothing", async () => {
    const { queue, sent } = recordingQueue();
    const res = await sendWebhook(
      {
        token,
        event: "Merge Request Hook",
        body: mergeRequest(PROJECT, "open", incompressible(150_000)),
      },
      { EVENTS_QUEUE: queue, BODIES: refusingBucket() },
    );
    expect(res.status).toBe(503);
    expect(sent).toHaveLength(0);
  });

  it("answers 503 with Retry-After when D1 cannot authenticate a cold token", async () => {
    const reg = await registerProject({ projectId: 4343, path: "cold/token" });
    const res = await asJson(
      await sendWebhook(
        { token: reg.token, event: "Push Hook", body: push({ id: 4343, path: "cold/token" }) },
        { DB: d1FailingOn(/FROM tokens/) },
      ),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
  });

  it("answers a warm token without reading D1", async () => {
    expect((await sendWebhook({ token, event: "Push Hook", body: push(PROJECT) })).status).toBe(
      202,
    );
    const res = await sendWebhook(
      { token, event: "Push Hook", body: push(PROJECT) },
      { DB: d1FailingOn(/./) },
    );
    expect(res.status).toBe(202);
  });
});

describe("the relay's own faults", () => {
  it("a signing secret no configured key opens answers 503 with Retry-After, never 500", async () => {
    const secret = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`;
    const reg = await registerProject({
      projectId: 9393,
      path: "signed/rotated",
      signingSecret: secret,
    });
    forgetTokens();
    // ENCRYPTION_KEY rotated and the old key dropped before re-encryption.
    const res = await asJson(
      await sendWebhook(
        { token: reg.token, event: "Push Hook", body: push({ id: 9393, path: "signed/rotated" }) },
        { ENCRYPTION_KEY: "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" },
      ),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("300");
    expect(field(res.body, "error", "code")).toBe("unavailable");
    forgetTokens();
  });
});
