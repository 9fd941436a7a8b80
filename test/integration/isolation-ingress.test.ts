/**
 * Tenant isolation at ingress, written as the attacks it stops: a sender holding one
 * ordinary token (project, namespace, or a packit-service JWT) tries to make the relay act
 * for another project. Each attack is answered 403 with nothing queued, and the
 * packit-service double never receives a JWT for a project the token does not own.
 */
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { type WebhookMessage, webhookMessage } from "../../src/domain/queue-message";
import { admin, field, registerNamespace, registerProject } from "../helpers/admin";
import { consume } from "../helpers/deliveries";
import { destinations, gitlabProjects, newScope, received } from "../helpers/doubles";
import {
  bigPipeline,
  mergeRequest,
  note,
  pipeline,
  projectObject,
  push,
} from "../helpers/gitlab-payloads";
import { asJson, recordingQueue } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const OWN = { id: 5101, path: "tenant-a/own" };
const VICTIM = { id: 5102, path: "victim/repo" };
const OTHER_HOST = "https://gitlab.evil.example";
let token = "";
let nsToken = "";

beforeAll(async () => {
  ({ token } = await registerProject({ projectId: OWN.id, path: OWN.path }));
  ({ token: nsToken } = await registerNamespace({ namespace: "tenant-b" }));
});

type Attempt = { token: string; event: string; body: unknown; headers?: Record<string, string> };

/** Sends the webhook, runs whatever was queued through the consumer, returns both ends. */
async function attempt(input: Attempt) {
  const { queue, sent } = recordingQueue();
  const res = await asJson(await sendWebhook(input, { EVENTS_QUEUE: queue }));
  const scope = newScope();
  const messages = sent.map((m) => webhookMessage.parse(m));
  if (messages.length > 0) {
    await consume(
      messages.map((body) => ({ body })),
      destinations(scope),
    );
  }
  const packit = await received(scope, "/api/webhooks/gitlab");
  return { res, messages, packit };
}

async function jwtClaims(token: string | undefined) {
  const [, payload] = (token ?? "").split(".");
  return JSON.parse(atob((payload ?? "").replace(/-/g, "+").replace(/_/g, "/")));
}

function expectRefused(
  outcome: Awaited<ReturnType<typeof attempt>>,
  fieldName: string,
  status = 403,
) {
  expect(outcome.res.status).toBe(status);
  expect(field<string>(outcome.res.body, "error", "message")).toContain(fieldName);
  expect(outcome.messages).toEqual([]);
  expect(outcome.packit).toEqual([]);
}

describe("a project token cannot speak for another project", () => {
  const victimUrls = (host = "https://gitlab.example.com") => ({
    web_url: `${host}/${VICTIM.path}`,
    git_http_url: `${host}/${VICTIM.path}.git`,
    http_url: `${host}/${VICTIM.path}.git`,
  });

  it.each([
    ["project.web_url", { web_url: victimUrls().web_url }],
    ["project.git_http_url", { git_http_url: victimUrls().git_http_url }],
    ["project.http_url", { http_url: victimUrls().http_url }],
    ["project.git_http_url", { git_http_url: victimUrls(OTHER_HOST).git_http_url }],
    ["project.web_url", { web_url: victimUrls(OTHER_HOST).web_url }],
    ["project.path_with_namespace", { path_with_namespace: VICTIM.path }],
  ])("own project.id with %s of another project: 403, no JWT minted", async (name, override) => {
    const body = push(OWN);
    const outcome = await attempt({
      token,
      event: "Push Hook",
      body: { ...body, project: { ...body.project, ...override } },
    });
    expectRefused(outcome, name);
  });

  it("own URLs with another project's id: 403", async () => {
    const body = push(OWN);
    expectRefused(
      await attempt({ token, event: "Push Hook", body: { ...body, project_id: VICTIM.id } }),
      "project_id",
    );
  });

  it("repository.homepage of another project: 403", async () => {
    const body = push(OWN);
    expectRefused(
      await attempt({
        token,
        event: "Push Hook",
        body: { ...body, repository: { ...body.repository, homepage: victimUrls().web_url } },
      }),
      "repository.homepage",
    );
  });

  it("an issue whose object_attributes.project_id names another project: 403", async () => {
    const body = note(OWN, "hi");
    expectRefused(
      await attempt({
        token,
        event: "Note Hook",
        body: { ...body, object_attributes: { ...body.object_attributes, project_id: VICTIM.id } },
      }),
      "object_attributes.project_id",
    );
  });

  it("an MR whose source (fork) is on another instance: 403", async () => {
    const body = mergeRequest(OWN);
    const source = projectObject({ ...VICTIM, instance: OTHER_HOST });
    expectRefused(
      await attempt({
        token,
        event: "Merge Request Hook",
        body: { ...body, object_attributes: { ...body.object_attributes, source } },
      }),
      "object_attributes.source",
    );
  });

  it("an MR from a fork on the same instance is accepted, and the JWT names the target", async () => {
    const body = mergeRequest(OWN);
    const source = projectObject({ id: 7777, path: "contributor/own" });
    const outcome = await attempt({
      token,
      event: "Merge Request Hook",
      body: {
        ...body,
        object_attributes: { ...body.object_attributes, source, source_project_id: 7777 },
      },
    });
    expect(outcome.res.status).toBe(202);
    expect(outcome.packit).toHaveLength(1);
    expect(await jwtClaims(outcome.packit[0]?.headers["x-gitlab-token"])).toMatchObject({
      namespace: "tenant-a",
      repo_name: "own",
    });
  });

  it("X-Gitlab-Instance of another instance: 403", async () => {
    expectRefused(
      await attempt({
        token,
        event: "Push Hook",
        body: push(OWN),
        headers: { "x-gitlab-instance": OTHER_HOST },
      }),
      "X-Gitlab-Instance",
    );
  });

  it("a payload that names no project at all: 202 ignored, nothing queued or forwarded", async () => {
    // GitLab counts a 4xx as a failure and pauses the hook; there is nothing to relay.
    const { res, messages, packit } = await attempt({
      token,
      event: "Push Hook",
      body: { object_kind: "push", ref: "refs/heads/x" },
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      status: "ignored",
      reason: expect.stringMatching(/names no project/),
    });
    expect(messages).toEqual([]);
    expect(packit).toEqual([]);
  });
});

describe("a namespace token cannot climb out of its namespace", () => {
  const inside = { id: 5201, path: "tenant-b/app" };

  it.each([
    ["dot segments", "tenant-b/../victim/repo"],
    ["a single dot", "tenant-b/./victim"],
    ["an empty segment", "tenant-b//victim"],
    ["percent-encoded dots", "tenant-b/%2e%2e/victim/repo"],
    ["a percent-encoded slash", "tenant-b%2F..%2Fvictim/repo"],
    ["backslashes", "tenant-b\\..\\victim\\repo"],
  ])("path_with_namespace with %s: 403", async (_name, path) => {
    const body = push(inside);
    expectRefused(
      await attempt({
        token: nsToken,
        event: "Push Hook",
        body: { ...body, project: { ...body.project, path_with_namespace: path } },
      }),
      "project.path_with_namespace",
    );
  });

  it.each([
    ["dot segments", `https://gitlab.example.com/tenant-b/../${VICTIM.path}.git`],
    ["encoded dots", `https://gitlab.example.com/tenant-b/%2E%2E/${VICTIM.path}.git`],
    ["backslashes", "https://gitlab.example.com/tenant-b\\..\\victim\\repo.git"],
  ])("git_http_url with %s: 403, no JWT for the victim", async (_name, url) => {
    const body = push(inside);
    expectRefused(
      await attempt({
        token: nsToken,
        event: "Push Hook",
        body: { ...body, project: { ...body.project, git_http_url: url } },
      }),
      "project.git_http_url",
    );
  });

  it("accepts a project in a subgroup, and the JWT names exactly it", async () => {
    const deep = { id: 5202, path: "Tenant-B/sub/tool" };
    const outcome = await attempt({ token: nsToken, event: "Push Hook", body: push(deep) });
    expect(outcome.res.status).toBe(202);
    // A namespace token vouches for the path; the payload's id is not part of the identity.
    expect(outcome.messages[0]?.project).toEqual({
      id: null,
      path: deep.path,
      web_url: `https://gitlab.example.com/${deep.path}`,
    });
    expect(await jwtClaims(outcome.packit[0]?.headers["x-gitlab-token"])).toMatchObject({
      namespace: "Tenant-B/sub",
      repo_name: "tool",
    });
  });
});

describe("dedupe claims belong to their sender", () => {
  it("project A's Idempotency-Key (or unsigned webhook-id) never suppresses B's event", async () => {
    const b = await registerProject({ projectId: 5301, path: "tenant-c/b" });
    const scope = newScope();
    const key = "shared-key-0000-4000-8000-000000000001";
    const variants = [
      { headers: { "idempotency-key": key }, after: "1".repeat(40) },
      { headers: { "webhook-id": `msg_${key}` }, after: "2".repeat(40) },
    ];
    for (const { headers, after } of variants) {
      const { queue, sent } = recordingQueue();
      // A sends first, with the key it expects B to use.
      await sendWebhook(
        { token, event: "Push Hook", body: push(OWN, { after }), headers },
        { EVENTS_QUEUE: queue },
      );
      await sendWebhook(
        {
          token: b.token,
          event: "Push Hook",
          body: push({ id: 5301, path: "tenant-c/b" }, { after }),
          headers,
        },
        { EVENTS_QUEUE: queue },
      );
      const [fromA, fromB] = sent.map((m) => webhookMessage.parse(m)) as WebhookMessage[];
      expect(fromA?.dedupe_key).not.toBe(fromB?.dedupe_key);
      await consume([{ body: fromA }], destinations(scope));
      await consume([{ body: fromB }], destinations(scope));
      const delivered = await admin("GET", `/deliveries/${fromB?.delivery_id}`);
      expect(field(delivered.body, "status")).toBe("delivered");
    }
    const forB = (await received(scope, "/api/webhooks/gitlab")).filter(
      (r) => JSON.parse(r.body).project.id === 5301,
    );
    expect(forB).toHaveLength(2);
  });

  it("GitLab's retries of one event keep one key, so the second is a duplicate", async () => {
    const scope = newScope();
    const headers = { "idempotency-key": "retry-key-0000-4000-8000-000000000002" };
    const messages: WebhookMessage[] = [];
    for (let i = 0; i < 2; i++) {
      const { queue, sent } = recordingQueue();
      await sendWebhook(
        { token, event: "Note Hook", body: note(OWN, `retry ${i}`), headers },
        { EVENTS_QUEUE: queue },
      );
      messages.push(webhookMessage.parse(sent[0]));
    }
    expect(messages[0]?.dedupe_key).toBe(messages[1]?.dedupe_key);
    await consume([{ body: messages[0] }], destinations(scope));
    await consume([{ body: messages[1] }], destinations(scope));
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(1);
  });
});

describe("legacy packit-service JWTs cover what packit-service covers, nothing more", () => {
  const secret = new TextEncoder().encode("gitlab-token-secret");
  const jwt = (claims: Record<string, string>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
  const legacy = { id: 5401, path: "packit-ns/repo" };

  it("a spoofed X-Gitlab-Instance is refused", async () => {
    expectRefused(
      await attempt({
        token: await jwt({ namespace: "packit-ns", repo_name: "repo" }),
        event: "Push Hook",
        body: push(legacy),
        headers: { "x-gitlab-instance": OTHER_HOST },
      }),
      "X-Gitlab-Instance",
    );
  });

  it("a web_url of another project is refused even though git_http_url matches the token", async () => {
    const body = push(legacy);
    expectRefused(
      await attempt({
        token: await jwt({ namespace: "packit-ns", repo_name: "repo" }),
        event: "Push Hook",
        body: {
          ...body,
          project: { ...body.project, web_url: `https://gitlab.example.com/${VICTIM.path}` },
        },
      }),
      "project.web_url",
    );
  });

  it("keeps ogr's fork rule: forks/<user>/<ns>/<repo> is covered by a token for <ns>/<repo>", async () => {
    const fork = { id: 5402, path: "forks/alice/packit-ns/repo" };
    const outcome = await attempt({
      token: await jwt({ namespace: "packit-ns", repo_name: "repo" }),
      event: "Push Hook",
      body: push(fork),
    });
    expect(outcome.res.status).toBe(202);
    expect(outcome.messages[0]?.project.path).toBe(fork.path);
    // packit-service's own validate_token (the double) accepts the JWT the relay minted.
    expect(outcome.packit).toHaveLength(1);
    expect(await jwtClaims(outcome.packit[0]?.headers["x-gitlab-token"])).toMatchObject({
      namespace: "packit-ns",
      repo_name: "repo",
    });
    const d = await admin("GET", `/deliveries/${outcome.messages[0]?.delivery_id}`);
    expect(field(d.body, "status")).toBe("delivered");
  });
});

describe("a registered project that GitLab renamed", () => {
  it("follows the rename GitLab confirms, and refuses one GitLab does not", async () => {
    const scope = newScope();
    const instanceUrl = `${env.TEST_DOUBLES_URL}/${scope}`;
    const guessed = await registerProject({ instanceUrl, projectId: 5501, path: "old-group/app" });
    const moved = await registerProject({ instanceUrl, projectId: 5502, path: "old-group/lib" });
    await gitlabProjects(scope, [
      { id: 5501, path_with_namespace: "old-group/app" },
      { id: 5502, path_with_namespace: "new-group/lib" },
    ]);

    // GitLab does not know this path for the id: a guess, refused, registration unchanged.
    const refused = await asJson(
      await sendWebhook({
        token: guessed.token,
        event: "Push Hook",
        body: push({ id: 5501, path: "new-group/app", instance: instanceUrl }),
      }),
    );
    expect(refused.status).toBe(403);
    expect(field(await admin("GET", `/projects/${guessed.id}`), "body", "path")).toBe(
      "old-group/app",
    );

    // GitLab confirms this one: accepted, and the registration follows.
    const { queue, sent } = recordingQueue();
    const accepted = await sendWebhook(
      {
        token: moved.token,
        event: "Push Hook",
        body: push({ id: 5502, path: "new-group/lib", instance: instanceUrl }),
      },
      { EVENTS_QUEUE: queue },
    );
    expect(accepted.status).toBe(202);
    expect(webhookMessage.parse(sent[0]).project.path).toBe("new-group/lib");
    expect(field(await admin("GET", `/projects/${moved.id}`), "body", "path")).toBe(
      "new-group/lib",
    );
    const lookups = (await received(scope)).filter((r) => r.path.startsWith("/api/v4/projects/"));
    expect(lookups.map((r) => r.path).sort()).toEqual([
      "/api/v4/projects/5501",
      "/api/v4/projects/5502",
    ]);
    expect(lookups[0]?.headers["private-token"]).toBe("glpat-instance-api-token-1");
  });
});

describe("a body at GitLab's 25 MiB cap", () => {
  it("is accepted, stored in R2 and forwarded byte for byte", async () => {
    const big = { id: 5601, path: "tenant-a/big" };
    const reg = await registerProject({ projectId: big.id, path: big.path });
    const raw = JSON.stringify(bigPipeline(big, 25 * 1024 * 1024 - 64 * 1024));
    expect(raw.length).toBeGreaterThan(24 * 1024 * 1024);
    const outcome = await attempt({ token: reg.token, event: "Pipeline Hook", body: raw });
    expect(outcome.res.status).toBe(202);
    expect(outcome.messages[0]?.body.storage).toBe("r2");
    expect(outcome.packit).toHaveLength(1);
    expect(outcome.packit[0]?.body.length).toBe(raw.length);
    expect(outcome.packit[0]?.body === raw).toBe(true);
    const d = await admin("GET", `/deliveries/${outcome.messages[0]?.delivery_id}`);
    expect(field(d.body, "status")).toBe("delivered");
  }, 60_000); // 25 MiB through ingress, R2 and the consumer on a shared machine
});

describe("a registration removed between ingress and delivery", () => {
  it("gets nothing forwarded: its token no longer speaks for anyone", async () => {
    const gone = { id: 5701, path: "tenant-a/removed" };
    const reg = await registerProject({ projectId: gone.id, path: gone.path });
    const { queue, sent } = recordingQueue();
    expect(
      (
        await sendWebhook(
          { token: reg.token, event: "Push Hook", body: push(gone) },
          { EVENTS_QUEUE: queue },
        )
      ).status,
    ).toBe(202);
    expect((await admin("DELETE", `/projects/${reg.id}`)).status).toBe(204);
    const scope = newScope();
    const message = webhookMessage.parse(sent[0]);
    await consume([{ body: message }], destinations(scope));
    expect(await received(scope, "/api/webhooks/gitlab")).toEqual([]);
    const d = await admin("GET", `/deliveries/${message.delivery_id}`);
    expect(field(d.body, "status")).toBe("undeliverable");
    expect(field<string>(d.body, "reason")).toContain("registration was removed");
  });
});

describe("a namespace token and a payload naming its project by id only", () => {
  // Older issue and note payloads carry no project object: only object_attributes.project_id.
  const idOnlyIssue = (id: number) => ({
    object_kind: "issue",
    event_type: "issue",
    user: { username: "ada" },
    object_attributes: {
      id: 301,
      iid: 23,
      project_id: id,
      title: "t",
      state: "opened",
      action: "open",
    },
  });

  it("is placed by GitLab: inside the namespace it is relayed, outside it is refused", async () => {
    const scope = newScope();
    const instanceUrl = `${env.TEST_DOUBLES_URL}/${scope}`;
    const ns = await registerNamespace({ instanceUrl, namespace: "id-only" });
    await gitlabProjects(scope, [
      { id: 6101, path_with_namespace: "id-only/app" },
      { id: 6102, path_with_namespace: "victim/app" },
    ]);
    const inside = await attempt({ token: ns.token, event: "Issue Hook", body: idOnlyIssue(6101) });
    expect(inside.res.status).toBe(202);
    expect(inside.messages[0]?.project).toMatchObject({ id: 6101, path: "id-only/app" });
    const outside = await attempt({
      token: ns.token,
      event: "Issue Hook",
      body: idOnlyIssue(6102),
    });
    expect(outside.res.status).toBe(403);
    expect(field<string>(outside.res.body, "error", "message")).toMatch(
      /not in the namespace id-only/,
    );
    expect(outside.messages).toEqual([]);
    const unknown = await attempt({
      token: ns.token,
      event: "Issue Hook",
      body: idOnlyIssue(6199),
    });
    expect(unknown.res.status).toBe(403);
  });
});

describe("payload shapes older GitLab versions sent, under a correct registration", () => {
  const project = { id: 6201, path: "shapes/app" };
  const web = `https://gitlab.example.com/${project.path}`;

  it("a merge request without a project object (identity in object_attributes.target)", async () => {
    const { token } = await registerProject({ projectId: project.id, path: project.path });
    const mr = mergeRequest(project) as Record<string, unknown>;
    const { project: _p, repository: _r, ...rest } = mr;
    const body = {
      ...rest,
      object_attributes: {
        ...(mr.object_attributes as object),
        target: { path_with_namespace: project.path, web_url: web, http_url: `${web}.git` },
        source: { path_with_namespace: project.path, web_url: web, http_url: `${web}.git` },
      },
    };
    const { res, messages } = await attempt({ token, event: "Merge Request Hook", body });
    expect(res.status).toBe(202);
    expect(messages[0]?.project).toMatchObject({ id: project.id, path: project.path });
  });

  it("a pipeline whose project has no id", async () => {
    const { token } = await registerNamespace({ namespace: "shapes-ns" });
    const pl = pipeline({ id: 6202, path: "shapes-ns/app" }) as Record<string, unknown>;
    const { id: _id, ...projectWithoutId } = pl.project as Record<string, unknown>;
    const { res } = await attempt({
      token,
      event: "Pipeline Hook",
      body: { ...pl, project: projectWithoutId },
    });
    expect(res.status).toBe(202);
  });
});
