/**
 * Loopback HTTP doubles of the relay's destinations, started once for the test run
 * (vitest globalSetup, in Node). Each test picks its own scope (a path prefix), so tests in
 * parallel files never see each other's requests.
 *
 *   POST /{scope}/api/webhooks/gitlab  packit-service as documented: X-Gitlab-Token is an
 *                                      HS256 JWT checked against project.git_http_url
 *                                      (validate_token), then interested() by X-Gitlab-Event
 *   POST /{scope}/events               a CloudEvents receiver: 204
 *   /{scope}/api/v4/...                a GitLab instance as reference/gitlab.md §3 documents
 *                                      (statuses with their state machine, notes, commit
 *                                      comments, award emoji)
 *                                      and GET /projects/:id for the projects set below
 *   POST /_doubles/{scope}/script      queue scripted responses [{status, headers?, body?}]
 *   POST /_doubles/{scope}/projects    set the instance's projects [{id, path_with_namespace,
 *                                      writable?, merge_requests?: [{iid, source_project_id}]}]:
 *                                      GET /projects/:id or :path, GET .../merge_requests/:iid;
 *                                      statuses on a project with writable: false answer 403
 *   GET  /_doubles/{scope}/requests    what the scope received
 *   POST /_doubles/{scope}/world       seed the scope's GitLab for connect (scripts/gitlab-world.mjs:
 *                                      users, tokens, projects, groups, members, OAuth apps); its
 *                                      hook tests are held for the test to deliver through SELF
 *   GET  /_doubles/{scope}/world       that GitLab's state (hooks with their tokens, members, ...)
 *   POST /_doubles/{scope}/held        take the hook deliveries held so far
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudEvent, type CloudEventV1, HTTP } from "cloudevents";
import { type JWTPayload, jwtVerify } from "jose";
import { createGitlabWorld } from "../../scripts/gitlab-world.mjs";

export const PACKIT_SECRET = "gitlab-token-secret";

type Recorded = {
  path: string;
  headers: Record<string, string>;
  body: string;
  received_at: number;
  /** For /events: what the `cloudevents` SDK made of the request. */
  cloudevent?: CloudEventCheck;
};
type CloudEventCheck = {
  valid: boolean;
  type?: string;
  id?: string;
  source?: string;
  error?: string;
};
/** A scripted answer; `delayMs` makes the double a slow destination. */
type Scripted = {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
};

const INTERESTING = new Set([
  "Issue Hook",
  "Merge Request Hook",
  "Note Hook",
  "Pipeline Hook",
  "Push Hook",
  "Release Hook",
]);

const requests = new Map<string, Recorded[]>();
type KnownProject = {
  id: number;
  path_with_namespace: string;
  writable?: boolean;
  merge_requests?: { iid: number; source_project_id: number }[];
};
const projects = new Map<string, Map<number, KnownProject>>();
const scripts = new Map<string, Scripted[]>();
/** Requests being answered right now per scope, and the most there ever were at once. */
const inFlight = new Map<string, { now: number; max: number }>();
type Held = { url: string; headers: Record<string, string>; body: string };
const worlds = new Map<string, { world: ReturnType<typeof createGitlabWorld>; held: Held[] }>();

function worldOf(scope: string, port: number) {
  let entry = worlds.get(scope);
  if (!entry) {
    const held: Held[] = [];
    const world = createGitlabWorld({
      instanceUrl: `http://127.0.0.1:${port}/${scope}`,
      // The relay under test runs in workerd, out of this process's reach: the test delivers.
      deliver: async (url, headers, body) => {
        held.push({ url, headers, body });
        return { status: 202 };
      },
    });
    entry = { world, held };
    worlds.set(scope, entry);
  }
  return entry;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

/** packit-service's validate_token + interested(), as reference/packit-service.md describes. */
async function packitService(
  headers: Record<string, string>,
  body: Buffer,
): Promise<[number, string]> {
  const token = headers["x-gitlab-token"];
  if (!token) {
    return [401, JSON.stringify("X-Gitlab-Token not in request.headers")];
  }
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, new TextEncoder().encode(PACKIT_SECRET), {
      algorithms: ["HS256"],
    }));
  } catch {
    return [401, JSON.stringify("Can't decode X-Gitlab-Token.")];
  }
  const payload = JSON.parse(body.toString("utf8"));
  const url: string = payload.project.git_http_url ?? payload.project.http_url;
  // ogr's parse_git_repo, as validate_token uses it, with its Pagure fork rule.
  const splits = new URL(url).pathname.replace(/^\/|\.git$/g, "").split("/");
  const fork = (splits[0] === "fork" || splits[0] === "forks") && splits.length >= 3;
  const namespace = splits.slice(fork ? 2 : 0, -1).join("/");
  const repo = splits.at(-1);
  if (claims.namespace !== namespace || (claims.repo_name && claims.repo_name !== repo)) {
    return [401, JSON.stringify("Decoded X-Gitlab-Token does not match namespace[/project].")];
  }
  if (!INTERESTING.has(headers["x-gitlab-event"] ?? "")) {
    return [202, JSON.stringify("Thanks but we don't care about this event")];
  }
  return [202, JSON.stringify("Webhook accepted. We thank you, Gitlab.")];
}

function parseCloudEvent(headers: Record<string, string>, body: string): CloudEventCheck {
  try {
    const event = HTTP.toEvent<unknown>({ headers, body });
    const single: CloudEventV1<unknown> | undefined = Array.isArray(event) ? event[0] : event;
    if (!single) {
      return { valid: false, error: "no event" };
    }
    // The constructor throws a ValidationError for an event that breaks the spec.
    const checked = new CloudEvent<unknown>(single);
    return {
      valid: checked.validate(),
      type: checked.type,
      id: checked.id,
      source: checked.source,
    };
  } catch (err) {
    return { valid: false, error: String(err) };
  }
}

type GitlabState = {
  statuses: Map<string, string>;
  notes: Map<number, { body: string; path: string }>;
  awards: Set<string>;
  nextId: number;
};
const gitlabs = new Map<string, GitlabState>();

/** A GitLab instance, just enough of it: reference/gitlab.md §3.3, §3.4, §3.6. */
function gitlab(
  scope: string,
  method: string,
  path: string,
  body: Record<string, unknown>,
): [number, unknown] {
  let state = gitlabs.get(scope);
  if (!state) {
    state = { statuses: new Map(), notes: new Map(), awards: new Set(), nextId: 1000 };
    gitlabs.set(scope, state);
  }
  const id = () => ++(state as GitlabState).nextId;
  let m = /^\/projects\/(\d+)\/statuses\/([0-9a-f]+)$/.exec(path);
  if (m && method === "POST") {
    const sha = m[2] ?? "";
    if (sha.startsWith("dead")) {
      return [404, { message: "404 Commit Not Found" }];
    }
    if (body.ref === "protected") {
      return [403, { message: "403 Forbidden" }];
    }
    const key = `${m[1]}|${sha}|${String(body.name)}|${String(body.ref)}`;
    const current = state.statuses.get(key);
    const wanted = String(body.state);
    if (current === wanted && (current === "pending" || current === "running")) {
      const via = wanted === "pending" ? "enqueue" : "run";
      return [
        400,
        {
          message: `Cannot transition status via :${via} from :${current} (Reason(s): Status cannot transition via "${via}")`,
        },
      ];
    }
    state.statuses.set(key, wanted);
    return [
      201,
      {
        id: id(),
        sha,
        ref: body.ref,
        status: wanted,
        name: body.name,
        target_url: body.target_url ?? null,
        description: body.description ?? null,
      },
    ];
  }
  m = /^\/projects\/(\d+)\/(merge_requests|issues)\/(\d+)\/notes$/.exec(path);
  if (m && method === "POST") {
    const noteId = id();
    state.notes.set(noteId, { body: String(body.body), path });
    return [
      201,
      {
        id: noteId,
        body: body.body,
        noteable_type: m[2] === "issues" ? "Issue" : "MergeRequest",
        noteable_iid: Number(m[3]),
        system: false,
        internal: body.internal === true,
      },
    ];
  }
  m = /^\/projects\/(\d+)\/(merge_requests|issues)\/(\d+)\/notes\/(\d+)$/.exec(path);
  if (m && method === "PUT") {
    const noteId = Number(m[4]);
    const existing = state.notes.get(noteId);
    if (!existing) {
      return [404, { message: "404 Not found" }];
    }
    state.notes.set(noteId, { body: String(body.body), path: existing.path });
    return [200, { id: noteId, body: body.body }];
  }
  m = /^\/projects\/(\d+)\/repository\/commits\/([0-9a-f]+)\/comments$/.exec(path);
  if (m && method === "POST") {
    return [
      201,
      { note: body.note, path: null, line: null, line_type: null, author: { username: "packit" } },
    ];
  }
  m = /^\/projects\/(\d+)\/(merge_requests|issues)\/(\d+)(\/notes\/\d+)?\/award_emoji$/.exec(path);
  if (m && method === "POST") {
    const key = `${path}|${String(body.name)}`;
    if (state.awards.has(key)) {
      return [404, { message: "404 Award Emoji Name has already been taken" }];
    }
    state.awards.add(key);
    return [201, { id: id(), name: body.name, awardable_type: m[4] ? "Note" : "MergeRequest" }];
  }
  return [404, { message: "404 Not Found" }];
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://double");
  const port = (req.socket.address() as AddressInfo).port;
  const control = /^\/_doubles\/([^/]+)\/(script|requests|projects|world|held|in-flight)$/.exec(
    url.pathname,
  );
  if (control?.[1] && control[2]) {
    const scope = control[1];
    if (control[2] === "world") {
      const entry = worldOf(scope, port);
      if (req.method === "POST") {
        entry.world.seed(JSON.parse((await readBody(req)).toString("utf8")));
      }
      return send(res, 200, entry.world.state());
    }
    if (control[2] === "held") {
      const entry = worldOf(scope, port);
      return send(res, 200, entry.held.splice(0));
    }
    if (control[2] === "requests") {
      return send(res, 200, requests.get(scope) ?? []);
    }
    if (control[2] === "in-flight") {
      return send(res, 200, { max: inFlight.get(scope)?.max ?? 0 });
    }
    if (control[2] === "projects") {
      const list = JSON.parse((await readBody(req)).toString("utf8")) as KnownProject[];
      projects.set(scope, new Map(list.map((p) => [p.id, p])));
      return send(res, 200, { projects: list.length });
    }
    const scripted = JSON.parse((await readBody(req)).toString("utf8")) as Scripted[];
    scripts.set(scope, [...(scripts.get(scope) ?? []), ...scripted]);
    return send(res, 200, { queued: scripted.length });
  }
  const match = /^\/([^/]+)(\/.*)$/.exec(url.pathname);
  const method = req.method ?? "GET";
  if (!match?.[1] || !match[2] || !["GET", "POST", "PUT", "DELETE"].includes(method)) {
    return send(res, 404, { error: "no such double" });
  }
  const [, scope, path] = match;
  const body = await readBody(req);
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
  );
  const list = requests.get(scope) ?? [];
  const record: Recorded = { path, headers, body: body.toString("utf8"), received_at: Date.now() };
  if (path === "/events") {
    record.cloudevent = parseCloudEvent(headers, record.body);
  }
  list.push(record);
  requests.set(scope, list);

  const next = scripts.get(scope)?.shift();
  if (next) {
    const counter = inFlight.get(scope) ?? { now: 0, max: 0 };
    inFlight.set(scope, counter);
    counter.now++;
    counter.max = Math.max(counter.max, counter.now);
    if (next.delayMs) {
      await new Promise((resolve) => setTimeout(resolve, next.delayMs));
    }
    counter.now--;
    return send(res, next.status, next.body ?? "", next.headers ?? {});
  }
  if (path === "/api/webhooks/gitlab") {
    const [status, text] = await packitService(headers, body);
    return send(res, status, text);
  }
  if (path === "/events") {
    res.writeHead(204).end();
    return;
  }
  const world = worlds.get(scope)?.world;
  if (world && (path.startsWith("/oauth/") || isConnectPath(path))) {
    const answer = await world.handle(method, path, url.searchParams, headers, record.body);
    const type = typeof answer.body === "string" ? "text/html; charset=utf-8" : "application/json";
    res.writeHead(answer.status, { "content-type": type, ...(answer.headers ?? {}) });
    res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
    return;
  }
  if (path.startsWith("/api/v4/")) {
    if (headers["private-token"] === "glpat-revoked") {
      return send(res, 401, { message: "401 Unauthorized" });
    }
    const known = [...(projects.get(scope)?.values() ?? [])];
    const project = /^\/api\/v4\/projects\/([^/]+)$/.exec(path);
    if (project?.[1] && method === "GET") {
      // GET /projects/:id (or :path, URL-encoded) as GitLab answers it, or 404.
      const ref = decodeURIComponent(project[1]);
      const found = known.find((p) => String(p.id) === ref || p.path_with_namespace === ref);
      return found
        ? send(res, 200, {
            id: found.id,
            path_with_namespace: found.path_with_namespace,
            name: found.path_with_namespace.split("/").at(-1),
          })
        : send(res, 404, { message: "404 Project Not Found" });
    }
    const mr = /^\/api\/v4\/projects\/(\d+)\/merge_requests\/(\d+)$/.exec(path);
    if (mr && method === "GET") {
      const target = known.find((p) => p.id === Number(mr[1]));
      const found = target?.merge_requests?.find((m) => m.iid === Number(mr[2]));
      return found && target
        ? send(res, 200, {
            iid: found.iid,
            project_id: target.id,
            source_project_id: found.source_project_id,
          })
        : send(res, 404, { message: "404 Not found" });
    }
    // A project the relay's user may not write to (a contributor's fork): GitLab's 403.
    const statusOn = /^\/api\/v4\/projects\/(\d+)\/statuses\//.exec(path);
    if (statusOn && known.find((p) => p.id === Number(statusOn[1]))?.writable === false) {
      return send(res, 403, { message: "403 Forbidden" });
    }
    const parsed: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
    const [status, answer] = gitlab(
      scope,
      req.method ?? "GET",
      path.slice("/api/v4".length),
      parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {},
    );
    return send(res, status, answer);
  }
  return send(res, 404, { error: "no such route" });
}

/** GitLab API paths the connect world answers (the rest: feedback, above). */
function isConnectPath(path: string): boolean {
  return (
    /^\/api\/v4\/(user|personal_access_tokens\/self|groups\/.*)$/.test(path) ||
    /^\/api\/v4\/projects\/[^/]+(\/(hooks|members)(\/.*)?)?$/.test(path)
  );
}

export async function startDoubles(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => send(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
