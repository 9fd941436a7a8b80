// A GitLab instance, just enough of it for connect: users and their access tokens, projects,
// groups (with a tier: group hooks need Premium), members with inherited access levels,
// project and group hooks with GitLab's own test (which really delivers), members API,
// and an OAuth 2 provider (authorization code + PKCE S256, token, revoke).
// Used by the test doubles (test/doubles/server.ts) and by `npm start`'s GitLab stand-in.
// Behaviour follows GitLab's REST API (docs.gitlab.com/api: project_webhooks, group_webhooks,
// members, oauth2); statuses are GitLab's (401 bad token, 403 role, 404 unseen, 409 member
// exists, 422 failed hook test).
import { createHash, randomBytes } from "node:crypto";

const TRIGGERS = [
  "push_events",
  "tag_push_events",
  "merge_requests_events",
  "note_events",
  "issues_events",
  "pipeline_events",
  "releases_events",
  "confidential_issues_events",
  "confidential_note_events",
  "job_events",
  "wiki_page_events",
];

/**
 * @typedef {{ id: number, username: string, name?: string }} User
 * @typedef {{ id: number, path: string, tier?: "free" | "premium" }} Group
 * @typedef {{ id: number, path: string, empty?: boolean }} Project
 * @typedef {{ user: number, scopes?: string[], expired?: boolean }} TokenSeed
 * @typedef {{ on: string, user: number, level: number }} Member
 * @typedef {{ users?: User[], tokens?: Record<string, TokenSeed>, groups?: Group[],
 *   projects?: Project[], members?: Member[], oauthApps?: { client_id: string,
 *   client_secret: string }[], sessionUser?: number }} Seed
 * @typedef {{ status: number, headers?: Record<string, string>, body: unknown }} Answer
 * @typedef {(url: string, headers: Record<string, string>, body: string) =>
 *   Promise<{ status: number } | { error: string }>} Deliver
 */

const json = (status, body, headers = {}) => ({ status, body, headers });
const notFound = (what = "404 Not Found") => json(404, { message: what });

/** @param {{ instanceUrl: string, deliver: Deliver }} options */
export function createGitlabWorld({ instanceUrl, deliver }) {
  /** @type {Required<Seed>} */
  const s = {
    users: [],
    tokens: {},
    groups: [],
    projects: [],
    members: [],
    oauthApps: [],
    sessionUser: 0,
  };
  /** @type {{ id: number, on: string, url: string, token: string, alert_status: string,
   * disabled_until: string | null, [key: string]: unknown }[]} */
  const hooks = [];
  /** @type {Map<string, { client_id: string, redirect_uri: string, challenge: string,
   * user: number }>} */
  const codes = new Map();
  /** @type {string[]} */
  const revoked = [];
  /** @type {{ hook: number, status: number | string }[]} */
  const tests = [];
  let nextId = 5000;

  const user = (id) => s.users.find((u) => u.id === id);
  const project = (ref) =>
    s.projects.find((p) => String(p.id) === ref || p.path === decodeURIComponent(ref));
  const group = (ref) =>
    s.groups.find((g) => String(g.id) === ref || g.path === decodeURIComponent(ref));
  const ancestors = (path) =>
    s.groups.filter((g) => path === g.path || path.startsWith(`${g.path}/`));
  /** The effective level of a user on "project:ID" or "group:ID", inherited from groups. */
  function accessLevel(on, userId) {
    const [kind, id] = on.split(":");
    const path = kind === "project" ? project(id)?.path : group(id)?.path;
    if (!path) {
      return 0;
    }
    const places = [on, ...ancestors(path).map((g) => `group:${g.id}`)];
    return Math.max(
      0,
      ...s.members.filter((m) => m.user === userId && places.includes(m.on)).map((m) => m.level),
    );
  }
  const projectJson = (p) => {
    const namespace = p.path.split("/").slice(0, -1).join("/");
    const web = `${instanceUrl}/${p.path}`;
    return {
      id: p.id,
      name: p.path.split("/").at(-1),
      path: p.path.split("/").at(-1),
      path_with_namespace: p.path,
      web_url: web,
      http_url_to_repo: `${web}.git`,
      default_branch: "main",
      empty_repo: p.empty === true,
      namespace: { full_path: namespace, kind: "group", id: group(namespace)?.id ?? null },
    };
  };
  const groupJson = (g) => ({
    id: g.id,
    name: g.path.split("/").at(-1),
    full_path: g.path,
    web_url: `${instanceUrl}/groups/${g.path}`,
  });
  const hookJson = (h) => {
    const { token: _token, on, ...shown } = h;
    return on.startsWith("project:")
      ? { ...shown, project_id: Number(on.slice(8)) }
      : { ...shown, group_id: Number(on.slice(6)) };
  };

  function pushPayload(p, who) {
    const web = `${instanceUrl}/${p.path}`;
    const sha = createHash("sha1").update(`${p.path}|${nextId++}`).digest("hex");
    const repo = { name: p.path.split("/").at(-1), url: `${web}.git`, homepage: web };
    return {
      object_kind: "push",
      event_name: "push",
      before: "0000000000000000000000000000000000000000",
      after: sha,
      ref: "refs/heads/main",
      checkout_sha: sha,
      user_id: who.id,
      user_name: who.name ?? who.username,
      user_username: who.username,
      project_id: p.id,
      project: {
        id: p.id,
        name: repo.name,
        web_url: web,
        git_http_url: `${web}.git`,
        namespace: p.path.split("/")[0],
        path_with_namespace: p.path,
        default_branch: "main",
        homepage: web,
        http_url: `${web}.git`,
      },
      repository: { ...repo, git_http_url: `${web}.git` },
      commits: [{ id: sha, message: "Test commit\n", title: "Test commit" }],
      total_commits_count: 1,
    };
  }

  async function testHook(h, who) {
    const p = h.on.startsWith("project:")
      ? project(h.on.slice(8))
      : s.projects.find((x) => x.path.startsWith(`${group(h.on.slice(6))?.path}/`) && !x.empty);
    if (!p || p.empty) {
      return json(422, { message: "Ensure the project has at least one commit." });
    }
    const body = JSON.stringify(pushPayload(p, who));
    const result = await deliver(
      h.url,
      {
        "content-type": "application/json",
        "user-agent": "GitLab/18.6.0",
        "x-gitlab-event": "Push Hook",
        "x-gitlab-instance": instanceUrl,
        "x-gitlab-webhook-uuid": crypto.randomUUID(),
        "x-gitlab-event-uuid": crypto.randomUUID(),
        ...(h.token ? { "x-gitlab-token": h.token } : {}),
      },
      body,
    );
    const status = "status" in result ? result.status : result.error;
    tests.push({ hook: h.id, status });
    if (typeof status === "number" && status >= 200 && status < 300) {
      h.alert_status = "executable";
      h.disabled_until = null;
      return json(201, { message: "201 Created" });
    }
    return json(422, { message: typeof status === "number" ? `${status}` : status });
  }

  /** The caller behind PRIVATE-TOKEN or Authorization: Bearer, or an answer refusing it. */
  function caller(headers) {
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? "")?.[1];
    const token = headers["private-token"] ?? bearer ?? "";
    const seed = s.tokens[token];
    if (!seed || seed.expired || revoked.includes(token)) {
      return { refused: json(401, { message: "401 Unauthorized" }) };
    }
    const who = user(seed.user);
    if (!who) {
      return { refused: json(401, { message: "401 Unauthorized" }) };
    }
    return { who, token, scopes: seed.scopes ?? ["api"] };
  }

  /** @returns {Promise<Answer>} */
  async function api(method, path, query, headers, body) {
    const c = caller(headers);
    if (!c.who) {
      return c.refused;
    }
    const { who, scopes } = c;
    if (method !== "GET" && !scopes.includes("api")) {
      return json(403, { error: "insufficient_scope", scope: "api" });
    }
    if (method === "GET" && path === "/user") {
      return json(200, { id: who.id, username: who.username, name: who.name ?? who.username });
    }
    if (method === "GET" && path === "/personal_access_tokens/self") {
      return c.token.startsWith("oauth-")
        ? notFound()
        : json(200, { id: 1, name: "t", scopes, active: true, user_id: who.id });
    }
    let m = /^\/(projects|groups)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) {
      return notFound();
    }
    const [, kind, ref, rest = ""] = m;
    const target = kind === "projects" ? project(ref) : group(ref);
    if (!target) {
      return notFound(kind === "projects" ? "404 Project Not Found" : "404 Group Not Found");
    }
    const on = `${kind === "projects" ? "project" : "group"}:${target.id}`;
    const level = accessLevel(on, who.id);
    if (rest === "" && method === "GET") {
      return json(200, kind === "projects" ? projectJson(target) : groupJson(target));
    }
    m = /^\/members\/all\/(\d+)$/.exec(rest);
    if (m && method === "GET") {
      const member = user(Number(m[1]));
      const memberLevel = accessLevel(on, Number(m[1]));
      return member && memberLevel > 0
        ? json(200, { id: member.id, username: member.username, access_level: memberLevel })
        : notFound();
    }
    if (rest === "/members" && method === "POST") {
      if (level < 40) {
        return json(403, { message: "403 Forbidden" });
      }
      const userId = Number(body.user_id);
      if (s.members.some((x) => x.on === on && x.user === userId)) {
        return json(409, { message: "Member already exists" });
      }
      s.members.push({ on, user: userId, level: Number(body.access_level) });
      return json(201, { id: userId, access_level: Number(body.access_level) });
    }
    if (rest === "/projects" && kind === "groups" && method === "GET") {
      const all = s.projects.filter((p) =>
        query.get("include_subgroups") === "true"
          ? p.path.startsWith(`${target.path}/`)
          : p.path.split("/").slice(0, -1).join("/") === target.path,
      );
      const perPage = Number(query.get("per_page") ?? 20);
      const page = Number(query.get("page") ?? 1);
      const slice = all.slice((page - 1) * perPage, page * perPage);
      const more = page * perPage < all.length;
      return json(200, slice.map(projectJson), more ? { "x-next-page": String(page + 1) } : {});
    }
    if (!rest.startsWith("/hooks")) {
      return notFound();
    }
    // Group hooks are a Premium feature: the API is absent below it.
    if (kind === "groups" && group(ref)?.tier !== "premium") {
      return notFound();
    }
    if (level < (kind === "groups" ? 50 : 40)) {
      return json(403, { message: "403 Forbidden" });
    }
    if (rest === "/hooks" && method === "GET") {
      return json(200, hooks.filter((h) => h.on === on).map(hookJson));
    }
    if (rest === "/hooks" && method === "POST") {
      if (typeof body.url !== "string" || !/^https?:\/\//.test(body.url)) {
        return json(422, { error: "Invalid url given" });
      }
      const h = {
        id: ++nextId,
        on,
        url: body.url,
        token: typeof body.token === "string" ? body.token : "",
        enable_ssl_verification: body.enable_ssl_verification !== false,
        alert_status: "executable",
        disabled_until: null,
        created_at: new Date().toISOString(),
        ...Object.fromEntries(TRIGGERS.map((t) => [t, body[t] === true])),
      };
      hooks.push(h);
      return json(201, hookJson(h));
    }
    m = /^\/hooks\/(\d+)(\/test\/([a-z_]+))?$/.exec(rest);
    const h = m && hooks.find((x) => x.id === Number(m?.[1]) && x.on === on);
    if (!h) {
      return notFound("404 Hook Not Found");
    }
    if (m?.[2] && method === "POST") {
      return testHook(h, who);
    }
    if (method === "GET") {
      return json(200, hookJson(h));
    }
    if (method === "PUT") {
      for (const [k, v] of Object.entries(body)) {
        if (k === "url" || k === "token" || TRIGGERS.includes(k) || k.startsWith("enable_")) {
          h[k] = v;
        }
      }
      return json(200, hookJson(h));
    }
    if (method === "DELETE") {
      hooks.splice(hooks.indexOf(h), 1);
      return json(204, "");
    }
    return notFound();
  }

  const oauth = {
    /** GitLab's consent page, as the signed-in session user. */
    authorize(query) {
      const app = s.oauthApps.find((a) => a.client_id === query.get("client_id"));
      if (!app || query.get("response_type") !== "code") {
        return json(400, "The client is unknown or the request is malformed.");
      }
      const who = user(s.sessionUser);
      const hidden = [...query.entries()]
        .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
        .join("");
      const form = (decision, label) =>
        `<form method="post" action="${instanceUrl}/oauth/authorize">${hidden}<input type="hidden" name="decision" value="${decision}"><button>${label}</button></form>`;
      return {
        status: 200,
        headers: { "content-type": "text/html; charset=utf-8" },
        body: `<!doctype html><title>Authorize application</title><h1>Authorize ${esc(app.client_id)} to use your account?</h1><p>Signed in as ${esc(who?.username ?? "nobody")}. Scopes: ${esc(query.get("scope") ?? "")}</p>${form("approve", "Authorize")}${form("deny", "Deny")}`,
      };
    },
    decide(form) {
      const redirect = new URL(form.get("redirect_uri") ?? "");
      redirect.searchParams.set("state", form.get("state") ?? "");
      if (form.get("decision") !== "approve") {
        redirect.searchParams.set("error", "access_denied");
        redirect.searchParams.set("error_description", "The resource owner denied the request.");
      } else {
        const code = randomBytes(16).toString("hex");
        codes.set(code, {
          client_id: form.get("client_id") ?? "",
          redirect_uri: form.get("redirect_uri") ?? "",
          challenge: form.get("code_challenge") ?? "",
          user: s.sessionUser,
        });
        redirect.searchParams.set("code", code);
      }
      return { status: 302, headers: { location: redirect.href }, body: "" };
    },
    token(form) {
      const app = s.oauthApps.find((a) => a.client_id === form.get("client_id"));
      if (!app || app.client_secret !== form.get("client_secret")) {
        return json(401, { error: "invalid_client" });
      }
      const code = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (!code || code.redirect_uri !== form.get("redirect_uri") || code.challenge !== challenge) {
        return json(400, { error: "invalid_grant" });
      }
      const access = `oauth-${randomBytes(16).toString("hex")}`;
      s.tokens[access] = { user: code.user, scopes: ["api"] };
      return json(200, {
        access_token: access,
        token_type: "Bearer",
        expires_in: 7200,
        refresh_token: randomBytes(16).toString("hex"),
        scope: "api",
        created_at: Math.floor(Date.now() / 1000),
      });
    },
    revoke(form) {
      revoked.push(form.get("token") ?? "");
      return json(200, {});
    },
  };

  return {
    /** @param {Seed & { hookStatus?: Record<string, unknown> }} seed */
    seed(seed) {
      const { hookStatus, ...rest } = seed;
      Object.assign(s, { ...rest, tokens: { ...s.tokens, ...(rest.tokens ?? {}) } });
      // GitLab auto-disabling failing hooks (reference/gitlab.md §2.3).
      for (const hook of hookStatus ? hooks : []) {
        Object.assign(hook, hookStatus);
      }
    },
    /**
     * @param {string} method
     * @param {string} path  below the instance URL: /api/v4/... or /oauth/...
     * @param {URLSearchParams} query
     * @param {Record<string, string>} headers
     * @param {string} raw  the request body
     * @returns {Promise<Answer>}
     */
    async handle(method, path, query, headers, raw) {
      const type = headers["content-type"] ?? "";
      const form = new URLSearchParams(type.includes("json") ? "" : raw);
      if (path === "/oauth/authorize") {
        return method === "GET" ? oauth.authorize(query) : oauth.decide(form);
      }
      if (path === "/oauth/token" && method === "POST") {
        return oauth.token(type.includes("json") ? new URLSearchParams(JSON.parse(raw)) : form);
      }
      if (path === "/oauth/revoke" && method === "POST") {
        return oauth.revoke(type.includes("json") ? new URLSearchParams(JSON.parse(raw)) : form);
      }
      if (path.startsWith("/api/v4/")) {
        const body = raw && type.includes("json") ? JSON.parse(raw) : Object.fromEntries(form);
        return api(method, path.slice(7), query, headers, body);
      }
      return notFound();
    },
    /** What the instance holds now, hook tokens included (tests read them). */
    state() {
      return { hooks, members: s.members, revoked, tests, tokens: Object.keys(s.tokens) };
    },
  };
}

function esc(text) {
  return String(text).replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );
}

/** A delivery over real HTTP (npm start): GitLab's test waits for the receiver's answer. */
/** @type {Deliver} */
export async function deliverOverHttp(url, headers, body) {
  try {
    const res = await fetch(url, { method: "POST", headers, body, redirect: "manual" });
    await res.arrayBuffer();
    return { status: res.status };
  } catch (err) {
    return { error: `Failed to connect: ${String(err)}` };
  }
}
