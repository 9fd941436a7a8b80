/**
 * The /connect page: forms, CSRF, and signing in with GitLab (OAuth code + PKCE) against the
 * GitLab double's provider, including a declined consent and forged or replayed callbacks.
 */
import { describe, expect, it } from "vitest";
import { admin, field } from "../helpers/admin";
import { gitlabWorld, MAINTAINER_TOKEN, worldOf } from "../helpers/connect";
import { BASE, call } from "../helpers/relay";

const ORIGIN = { origin: BASE };

function post(
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = ORIGIN,
) {
  return call(
    new Request(`${BASE}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "cf-connecting-ip": `203.0.113.${Math.floor(Math.random() * 250)}`,
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    }),
  );
}

const get = (path: string, headers: Record<string, string> = {}) =>
  call(new Request(new URL(path, BASE), { headers, redirect: "manual" }));

/** A world whose instance has an OAuth application registered by ops. */
async function oauthWorld() {
  const world = await gitlabWorld({
    oauthApps: [{ client_id: "relay-app", client_secret: "gloas-relay-app-secret" }],
  });
  const list = field<{ id: string; url: string }[]>(
    (await admin("GET", "/instances")).body,
    "instances",
  );
  const id = list.find((i) => i.url === world.instanceUrl)?.id;
  const res = await admin("PATCH", `/instances/${id}`, {
    oauth_client_id: "relay-app",
    oauth_client_secret: "gloas-relay-app-secret",
  });
  expect(res.status).toBe(200);
  expect(field(res.body, "oauth_client_id")).toBe("relay-app");
  return world;
}

/** Starts the sign-in on the page, then answers GitLab's consent page; returns the callback. */
async function signIn(url: string, decision: "approve" | "deny") {
  const start = await post("/connect", { url, action: "oauth", grant_bot: "yes" });
  expect(start.status).toBe(303);
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const authorize = new URL(start.headers.get("location") ?? "");
  const consent = await fetch(authorize.href.split("?")[0] ?? "", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams([...authorize.searchParams, ["decision", decision]]).toString(),
    redirect: "manual",
  });
  expect(consent.status).toBe(302);
  return { start, cookie, authorize, callback: consent.headers.get("location") ?? "" };
}

describe("the /connect page", () => {
  it("shows a labelled form with the served instances, under a strict CSP", async () => {
    const { instanceUrl } = await gitlabWorld();
    const res = await get("/connect");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<label for="url">');
    expect(html).toContain(instanceUrl);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("connects with a pasted token and links to a status page that follows verification", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await post("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      action: "token",
      gitlab_token: MAINTAINER_TOKEN,
    });
    expect(res.status).toBe(201);
    const html = await res.text();
    expect(html).toContain("Connected fedora/python-rpm");
    expect(html).toContain("Webhook: hook created");
    expect(html).not.toContain(MAINTAINER_TOKEN);
    const statusPath = /href="(\/connect\/status\/[^"]+)"/.exec(html)?.[1] ?? "";
    const status = await get(statusPath);
    expect(await status.text()).toContain("Not verified yet");
    expect((await worldOf(scope)).hooks).toHaveLength(1);
  });

  it("refuses a form posted from another site (CSRF) and changes nothing", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await post(
      "/connect",
      { url: `${instanceUrl}/fedora/python-rpm`, action: "token", gitlab_token: MAINTAINER_TOKEN },
      { origin: "https://evil.example" },
    );
    expect(res.status).toBe(403);
    expect((await worldOf(scope)).hooks).toHaveLength(0);
  });

  it("answers bad input with a page, not a stack trace", async () => {
    await gitlabWorld();
    const res = await post("/connect", {
      url: "https://nowhere.example/a/b",
      action: "token",
      gitlab_token: "x",
    });
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(html).toContain("not a GitLab instance this relay serves");
    expect(html).not.toMatch(/at .*\.ts:\d+/);
  });

  it("says when an instance has no sign-in and a token is needed", async () => {
    const { instanceUrl } = await gitlabWorld();
    const res = await post("/connect", {
      url: `${instanceUrl}/fedora/python-rpm`,
      action: "oauth",
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("paste an access token");
  });
});

describe("signing in with GitLab", () => {
  it("asks for the api scope with PKCE S256, connects, and revokes the OAuth token", async () => {
    const { scope, instanceUrl } = await oauthWorld();
    const { start, cookie, authorize, callback } = await signIn(
      `${instanceUrl}/fedora/python-rpm`,
      "approve",
    );
    expect(start.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    expect(start.headers.get("set-cookie")).toMatch(/SameSite=Lax/i);
    expect(authorize.searchParams.get("scope")).toBe("api");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${BASE}/connect/callback`);
    const done = await get(callback, { cookie });
    expect(done.status).toBe(201);
    expect(await done.text()).toContain("Connected fedora/python-rpm");
    const world = await worldOf(scope);
    expect(world.hooks).toHaveLength(1);
    expect(world.revoked.filter((t) => t.startsWith("oauth-"))).toHaveLength(1);
    expect(world.members).toContainEqual({ on: "project:10", user: 9, level: 30 });
  });

  it("a declined consent connects nothing and says so", async () => {
    const { scope, instanceUrl } = await oauthWorld();
    const { cookie, callback } = await signIn(`${instanceUrl}/fedora/python-rpm`, "deny");
    const res = await get(callback, { cookie });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("you declined the access on GitLab");
    expect((await worldOf(scope)).hooks).toHaveLength(0);
  });

  it("refuses a forged state, a callback without its cookie, and a replayed code", async () => {
    const { scope, instanceUrl } = await oauthWorld();
    const { cookie, callback } = await signIn(`${instanceUrl}/fedora/python-rpm`, "approve");
    const forged = new URL(callback);
    forged.searchParams.set("state", "attacker-chosen-state-value-123456");
    const forgedRes = await get(forged.href, { cookie });
    expect(forgedRes.status).toBe(400);
    expect(await forgedRes.text()).toContain("this sign-in is not valid here");
    const noCookie = await get(callback);
    expect(noCookie.status).toBe(400);
    expect((await worldOf(scope)).hooks).toHaveLength(0);
    // The real callback works once; replaying it (even with the old cookie) does not.
    expect((await get(callback, { cookie })).status).toBe(201);
    const replay = await get(callback, { cookie });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("did not accept the sign-in");
    expect((await worldOf(scope)).hooks).toHaveLength(1);
  });

  it("a cookie sealed for another purpose or tampered with is not a flow", async () => {
    const { instanceUrl } = await oauthWorld();
    const { cookie, callback } = await signIn(`${instanceUrl}/fedora/python-rpm`, "approve");
    const tampered = `${cookie.slice(0, -4)}AAAA`;
    expect((await get(callback, { cookie: tampered })).status).toBe(400);
  });
});
