/**
 * Connect and disconnect through the public API against a GitLab double that keeps real
 * state: roles, hooks, members, hook tests that deliver a push event.
 */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { admin, field, registerProject } from "../helpers/admin";
import {
  BOT_TOKEN,
  connectApi,
  DEVELOPER_TOKEN,
  deliverHookTests,
  gitlabWorld,
  MAINTAINER_TOKEN,
  READ_ONLY_TOKEN,
  seed,
  worldOf,
} from "../helpers/connect";
import { script } from "../helpers/doubles";
import { captureLogs } from "../helpers/logs";
import { asJson, BASE, call } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const pushFor = (instanceUrl: string, id: number, path: string) => ({
  object_kind: "push",
  event_name: "push",
  ref: "refs/heads/main",
  before: "0000000000000000000000000000000000000000",
  after: "1111111111111111111111111111111111111111",
  project_id: id,
  project: {
    id,
    path_with_namespace: path,
    web_url: `${instanceUrl}/${path}`,
    git_http_url: `${instanceUrl}/${path}.git`,
  },
  commits: [],
});

async function status(url: string) {
  return asJson(await call(new Request(url)));
}

describe("connect a project", () => {
  it("registers, installs one hook with the triggers packit needs, grants the bot, and the test event verifies it", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm/-/tree/main`,
      gitlab_token: MAINTAINER_TOKEN,
      grant_bot: true,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: "project",
      path: "fedora/python-rpm",
      mode: "project",
      connected_by: "maria",
      hook: "hook created",
      bot: { state: "granted" },
      test: { sent: true },
    });
    const world = await worldOf(scope);
    expect(world.hooks).toHaveLength(1);
    expect(world.hooks[0]).toMatchObject({
      on: "project:10",
      url: `${BASE}/webhooks/gitlab`,
      push_events: true,
      tag_push_events: true,
      merge_requests_events: true,
      note_events: true,
      issues_events: true,
      pipeline_events: true,
      releases_events: true,
      confidential_issues_events: false,
      enable_ssl_verification: true,
    });
    expect(world.members).toContainEqual({ on: "project:10", user: 9, level: 30 });

    const statusUrl = field<string>(res.body, "status_url");
    expect(field(await status(statusUrl).then((r) => r.body), "verified_at")).toBeNull();
    // GitLab's test delivery reaches ingress with the installed token and is relayed.
    expect(await deliverHookTests(scope)).toEqual([202]);
    const after = await status(statusUrl);
    expect(after.status).toBe(200);
    expect(field<string>(after.body, "verified_at")).toMatch(/^\d{4}-/);

    const project = await admin("GET", `/projects/${field<string>(res.body, "registration_id")}`);
    expect(project.body).toMatchObject({
      kind: "project",
      project_id: 10,
      path: "fedora/python-rpm",
    });
  });

  it("connecting twice leaves one hook and one working token", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    expect((await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN })).status).toBe(
      201,
    );
    const firstToken = (await worldOf(scope)).hooks[0]?.token ?? "";
    const again = await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN });
    expect(again.status).toBe(201);
    expect(field(again.body, "hook")).toBe("hook updated");
    const { hooks } = await worldOf(scope);
    expect(hooks).toHaveLength(1);
    const secondToken = hooks[0]?.token ?? "";
    expect(secondToken).not.toBe(firstToken);
    const body = pushFor(instanceUrl, 10, "fedora/python-rpm");
    const old = await sendWebhook({ token: firstToken, event: "Push Hook", body });
    expect(old.status).toBe(401);
    const fresh = await sendWebhook({ token: secondToken, event: "Push Hook", body });
    expect(fresh.status).toBe(202);
    const registration = await admin(
      "GET",
      `/projects/${field<string>(again.body, "registration_id")}`,
    );
    const states = field<{ state: string }[]>(registration.body, "tokens").map((t) => t.state);
    expect(states.filter((s) => s === "active")).toHaveLength(1);
  });

  it("refuses a Developer, naming the role needed, and changes nothing", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      gitlab_token: DEVELOPER_TOKEN,
    });
    expect(res.status).toBe(403);
    expect(field<string>(res.body, "error", "message")).toMatch(
      /needs the Maintainer or Owner role.*@dev is Developer/,
    );
    expect((await worldOf(scope)).hooks).toHaveLength(0);
    const projects = field<{ instance_url: string }[]>(
      (await admin("GET", "/projects")).body,
      "projects",
    );
    expect(projects.filter((p) => p.instance_url === instanceUrl)).toEqual([]);
  });

  it("refuses a token without the api scope and one GitLab does not know", async () => {
    const { instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    const readOnly = await connectApi("/connect", { url, gitlab_token: READ_ONLY_TOKEN });
    expect(readOnly.status).toBe(403);
    expect(field<string>(readOnly.body, "error", "message")).toMatch(/api scope.*read_api/);
    const unknown = await connectApi("/connect", { url, gitlab_token: "glpat-expired-or-typo" });
    expect(unknown.status).toBe(401);
    expect(field<string>(unknown.body, "error", "message")).toMatch(/expired, revoked or mistyped/);
  });

  it("reports a missing bot without granting it when not asked", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(field(res.body, "bot")).toMatchObject({ state: "missing" });
    expect(field<string>(res.body, "bot", "detail")).toMatch(
      /@packit-bot is not a member.*Developer/,
    );
    expect((await worldOf(scope)).members.some((m) => m.user === 9)).toBe(false);
  });

  it("says what GitLab answered when its hook test fails (an empty repository)", async () => {
    const { instanceUrl } = await gitlabWorld({
      members: [{ on: "project:12", user: 1, level: 40 }],
    });
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/empty`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(res.status).toBe(201);
    expect(field(res.body, "test")).toEqual({
      sent: false,
      result: "GitLab's test did not reach the relay: Ensure the project has at least one commit.",
    });
  });
});

describe("connect a group", () => {
  it("installs one group hook where the tier has group hooks", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/groups/gnome`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: "group", path: "gnome", mode: "group" });
    const { hooks } = await worldOf(scope);
    expect(hooks.map((h) => h.on)).toEqual(["group:200"]);
    expect(await deliverHookTests(scope)).toEqual([202]);
  });

  it("hooks every project of the group and its subgroups where the tier has none", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: "group", mode: "projects", hooks: { installed: 3 } });
    const { hooks } = await worldOf(scope);
    expect(hooks.map((h) => h.on).sort()).toEqual(["project:10", "project:11", "project:12"]);
    expect(new Set(hooks.map((h) => h.token)).size).toBe(1);
    // The namespace token covers projects in subgroups.
    const sub = await sendWebhook({
      token: hooks[0]?.token,
      event: "Push Hook",
      body: pushFor(instanceUrl, 11, "fedora/sub/tool"),
    });
    expect(sub.status).toBe(202);
  });
});

describe("disconnect", () => {
  it("removes the hook and the registration; the token stops working", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN });
    const token = (await worldOf(scope)).hooks[0]?.token;
    const res = await connectApi("/disconnect", { url, gitlab_token: MAINTAINER_TOKEN });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ hooks_removed: 1, registration_removed: true });
    expect((await worldOf(scope)).hooks).toHaveLength(0);
    const sent = await sendWebhook({
      token,
      event: "Push Hook",
      body: pushFor(instanceUrl, 10, "fedora/python-rpm"),
    });
    expect(sent.status).toBe(401);
  });

  it("needs the same proof: a Developer cannot disconnect", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN });
    const res = await connectApi("/disconnect", { url, gitlab_token: DEVELOPER_TOKEN });
    expect(res.status).toBe(403);
    expect((await worldOf(scope)).hooks).toHaveLength(1);
  });
});

describe("the connect API describes itself", () => {
  it("publishes an OpenAPI document with its three routes and no security scheme", async () => {
    const doc = await asJson(await call(new Request(`${BASE}/connect/api/openapi.json`)));
    expect(doc.status).toBe(200);
    expect(Object.keys(field<Record<string, unknown>>(doc.body, "paths")).sort()).toEqual([
      "/connect",
      "/disconnect",
      "/status/{ticket}",
    ]);
    expect(JSON.stringify(doc.body)).not.toContain("securitySchemes");
  });
});

describe("bad input gets a clear answer", () => {
  it("an instance the relay does not serve, and a URL that names nothing", async () => {
    const { instanceUrl } = await gitlabWorld();
    const unknown = await connectApi("/connect", {
      url: "https://gitlab.unknown.example/group/project",
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(unknown.status).toBe(404);
    expect(field<string>(unknown.body, "error", "message")).toMatch(
      /not a GitLab instance this relay serves/,
    );
    const nothing = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/no-such-project`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(nothing.status).toBe(404);
    expect(field<string>(nothing.body, "error", "message")).toMatch(/not a project or group/);
    const notUrl = await connectApi("/connect", { url: "python-rpm", gitlab_token: "x" });
    expect(notUrl.status).toBe(400);
  });

  it("GitLab rate-limiting: 429 with GitLab's own wait; GitLab down: 503", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    await script(scope, [{ status: 429, headers: { "retry-after": "17" }, body: "Retry later" }]);
    const limited = await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("17");
    await script(scope, [{ status: 502, body: "bad gateway" }]);
    const down = await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN });
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("60");
  });
});

describe("the maintainer's credential is used once", () => {
  it("never appears in D1, a log line or a response", async () => {
    const logs = captureLogs();
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    const bodies = [
      await connectApi("/connect", { url, gitlab_token: MAINTAINER_TOKEN, grant_bot: true }),
      await connectApi("/connect", { url, gitlab_token: DEVELOPER_TOKEN }),
      await connectApi("/disconnect", { url, gitlab_token: MAINTAINER_TOKEN }),
    ].map((r) => JSON.stringify(r.body));
    await deliverHookTests(scope);
    // The status ticket is a capability: fetched, but never written to a log line.
    const ticketUrl = field<string>(JSON.parse(bodies[0] ?? "{}"), "status_url");
    await call(new Request(ticketUrl));
    expect(logs.join("\n")).not.toContain(ticketUrl.split("/").at(-1));
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'd1_%'",
    ).all<{ name: string }>();
    const dump: string[] = [];
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      dump.push(JSON.stringify(rows.results));
    }
    for (const secret of [MAINTAINER_TOKEN, DEVELOPER_TOKEN, BOT_TOKEN]) {
      expect(dump.join("\n")).not.toContain(secret);
      expect(logs.join("\n")).not.toContain(secret);
      expect(bodies.join("\n")).not.toContain(secret);
    }
  });
});

/** The every-minute cron at a minute that also runs the group sync and the hook health read. */
async function runSync() {
  const controller = createScheduledController({
    scheduledTime: new Date("2026-11-29T10:20:00Z"),
    cron: "* * * * *",
  });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("groups hooked project by project stay in sync", () => {
  const projects = [
    { id: 10, path: "fedora/python-rpm" },
    { id: 11, path: "fedora/sub/tool" },
    { id: 12, path: "fedora/empty", empty: true },
    { id: 13, path: "fedora/sub/new-tool" },
  ];

  it("a project added later gets the hook when the bot may install it", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect((await worldOf(scope)).hooks).toHaveLength(3);
    await seed(scope, {
      projects,
      members: [
        { on: "group:100", user: 1, level: 40 },
        { on: "group:100", user: 9, level: 40 },
      ],
    });
    await runSync();
    const { hooks } = await worldOf(scope);
    const added = hooks.find((h) => h.on === "project:13");
    expect(added?.url).toBe(`${BASE}/webhooks/gitlab`);
    expect(hooks).toHaveLength(4);
    const event = await sendWebhook({
      token: added?.token,
      event: "Push Hook",
      body: pushFor(instanceUrl, 13, "fedora/sub/new-tool"),
    });
    expect(event.status).toBe(202);
    const view = await admin("GET", `/projects/${field<string>(res.body, "registration_id")}`);
    expect(
      field<{ path: string; problem: string | null }[]>(view.body, "connection", "project_hooks"),
    ).toContainEqual(expect.objectContaining({ path: "fedora/sub/new-tool", problem: null }));
  });

  it("lists the project for a reconnect when the bot may not install hooks", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora`,
      gitlab_token: MAINTAINER_TOKEN,
      grant_bot: true,
    });
    await seed(scope, { projects });
    await runSync();
    expect((await worldOf(scope)).hooks.some((h) => h.on === "project:13")).toBe(false);
    const view = await admin("GET", `/projects/${field<string>(res.body, "registration_id")}`);
    const pending = field<{ path: string; problem: string | null }[]>(
      view.body,
      "connection",
      "project_hooks",
    ).find((h) => h.path === "fedora/sub/new-tool");
    expect(pending?.problem).toMatch(/needs a reconnect by a maintainer/);
    // The token minted for the refused hook is not left valid.
    const states = field<{ state: string }[]>(view.body, "tokens").map((t) => t.state);
    expect(states.filter((s) => s === "active")).toHaveLength(1);
  });
});

describe("hook health", () => {
  it("shows an auto-disabled hook and re-enables it with GitLab's test, through the bot", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    const id = field<string>(res.body, "registration_id");
    await seed(scope, {
      members: [
        { on: "group:100", user: 1, level: 40 },
        { on: "project:10", user: 9, level: 40 },
      ],
      hookStatus: { alert_status: "disabled", disabled_until: null },
    });
    const before = await admin("GET", `/projects/${id}/hook`);
    expect(before.status).toBe(200);
    expect(field(before.body, "hooks", 0)).toMatchObject({
      on: "fedora/python-rpm",
      alert_status: "disabled",
      problem: null,
    });
    const test = await admin("POST", `/projects/${id}/hook/test`);
    expect(field(test.body, "results", 0)).toMatchObject({ sent: true });
    const after = await admin("GET", `/projects/${id}/hook`);
    expect(field(after.body, "hooks", 0, "alert_status")).toBe("executable");
  });

  it("the cron reads hook health, so the project view shows an auto-disabled hook", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/gnome/shell`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    const id = field<string>(res.body, "registration_id");
    await seed(scope, {
      members: [
        { on: "group:200", user: 1, level: 50 },
        { on: "project:20", user: 9, level: 40 },
      ],
      hookStatus: { alert_status: "temporarily_disabled", disabled_until: "2026-11-29T11:00:00Z" },
    });
    await runSync();
    const view = await admin("GET", `/projects/${id}`);
    expect(field(view.body, "connection", "hook_health")).toMatchObject({
      alert_status: "temporarily_disabled",
      disabled_until: "2026-11-29T11:00:00.000Z",
    });
  });

  it("says when the bot may not read the hook", async () => {
    const { instanceUrl } = await gitlabWorld();
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      gitlab_token: MAINTAINER_TOKEN,
      grant_bot: true,
    });
    const health = await admin(
      "GET",
      `/projects/${field<string>(res.body, "registration_id")}/hook`,
    );
    expect(field<string>(health.body, "hooks", 0, "problem")).toMatch(/bot cannot read this hook/);
  });
});

describe("connecting a project ops registered by hand", () => {
  it("takes over its registration; a signing secret the new hook cannot match is dropped", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const manual = await registerProject({
      instanceUrl,
      projectId: 10,
      path: "fedora/python-rpm",
      signingSecret: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
    });
    const res = await connectApi("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(field(res.body, "registration_id")).toBe(manual.id);
    expect(field<string>(res.body, "hook")).toMatch(/signing secret registered before was dropped/);
    const token = (await worldOf(scope)).hooks[0]?.token;
    const body = pushFor(instanceUrl, 10, "fedora/python-rpm");
    expect((await sendWebhook({ token, event: "Push Hook", body })).status).toBe(202);
    expect((await sendWebhook({ token: manual.token, event: "Push Hook", body })).status).toBe(401);
  });
});
