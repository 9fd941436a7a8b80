/**
 * Loopback HTTP doubles of the relay's destinations, started once for the test run
 * (vitest globalSetup, in Node). Each test picks its own scope (a path prefix), so tests in
 * parallel files never see each other's requests.
 *
 *   POST /{scope}/api/webhooks/gitlab  packit-service as documented: X-Gitlab-Token is an
 *                                      HS256 JWT checked against project.git_http_url
 *                                      (validate_token), then interested() by X-Gitlab-Event
 *   POST /{scope}/events               a CloudEvents receiver: 204
 *   POST /_doubles/{scope}/script      queue scripted responses [{status, headers?, body?}]
 *   GET  /_doubles/{scope}/requests    what the scope received
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudEvent, type CloudEventV1, HTTP } from "cloudevents";
import { type JWTPayload, jwtVerify } from "jose";

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
type Scripted = { status: number; headers?: Record<string, string>; body?: string };

const INTERESTING = new Set([
  "Issue Hook",
  "Merge Request Hook",
  "Note Hook",
  "Pipeline Hook",
  "Push Hook",
  "Release Hook",
]);

const requests = new Map<string, Recorded[]>();
const scripts = new Map<string, Scripted[]>();

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
  const path = new URL(url).pathname.replace(/^\/|\.git$/g, "");
  const namespace = path.slice(0, path.lastIndexOf("/"));
  const repo = path.slice(path.lastIndexOf("/") + 1);
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

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://double");
  const control = /^\/_doubles\/([^/]+)\/(script|requests)$/.exec(url.pathname);
  if (control?.[1] && control[2]) {
    const scope = control[1];
    if (control[2] === "requests") {
      return send(res, 200, requests.get(scope) ?? []);
    }
    const scripted = JSON.parse((await readBody(req)).toString("utf8")) as Scripted[];
    scripts.set(scope, [...(scripts.get(scope) ?? []), ...scripted]);
    return send(res, 200, { queued: scripted.length });
  }
  const match = /^\/([^/]+)(\/.*)$/.exec(url.pathname);
  if (!match?.[1] || !match[2] || req.method !== "POST") {
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
  return send(res, 404, { error: "no such route" });
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
