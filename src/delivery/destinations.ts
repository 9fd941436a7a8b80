/**
 * The two destinations and the exact requests they get.
 *
 * packit-compat: what unmodified packit-service accepts today at /api/webhooks/gitlab: the
 * original bytes, the original X-Gitlab-Event, and a freshly minted HS256 JWT
 * {namespace, repo_name, iat, exp} in X-Gitlab-Token for the event's authorized project
 * only (decided at ingress, carried in the message), matching the payload's git_http_url
 * the way packit-service's validate_token checks it. The JWT lives minutes: a copy that
 * leaks from a log or a proxy is worthless soon after (PyJWT checks `exp`).
 *
 * events: a CloudEvents 1.0 structured-mode JSON with the normalized event as data, signed
 * with Standard Webhooks headers (EVENTS_SIGNING_SECRET).
 */
import { SignJWT } from "jose";
import type { Config } from "../config";
import type { WebhookMessage } from "../domain/queue-message";
import type { NormalizedEvent } from "../events/normalized-event";
import { KIND_HEADER, type RelayedKind } from "../gitlab/event-kinds";
import { utf8 } from "../lib/encoding";
import { importSigningKey, signHeaders, signingKeyBytes } from "../lib/standard-webhooks";
import { USER_AGENT } from "../version";

export const DESTINATIONS = ["packit", "events"] as const;
export type Destination = (typeof DESTINATIONS)[number];

/** The X-Gitlab-Event values packit-service's `interested()` accepts. */
const PACKIT_KINDS: ReadonlySet<RelayedKind> = new Set([
  "push",
  "merge_request",
  "note",
  "issue",
  "pipeline",
  "release",
]);

export type Prepared =
  | { outcome: "request"; request: Request }
  | { outcome: "skip"; reason: string }
  /** A setting is missing or wrong: retried, so fixing the configuration recovers it. */
  | { outcome: "config_error"; reason: string };

export function configuredDestinations(config: Config): Destination[] {
  return DESTINATIONS.filter((d) =>
    d === "packit" ? config.PACKIT_SERVICE_URL !== undefined : config.EVENTS_URL !== undefined,
  );
}

function commonHeaders(message: WebhookMessage): Record<string, string> {
  return { "user-agent": USER_AGENT, "x-relay-delivery-id": message.delivery_id };
}

function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

/** Lifetime of a minted packit-service JWT: long enough for one forward and its clock skew. */
export const PACKIT_JWT_TTL_SECONDS = 5 * 60;

export async function preparePackitRequest(
  message: WebhookMessage,
  body: Uint8Array<ArrayBuffer>,
  repo: { namespace: string; repo: string } | null,
  config: Config,
  nowMs: number,
): Promise<Prepared> {
  if (!PACKIT_KINDS.has(message.kind)) {
    return { outcome: "skip", reason: `packit-service does not take ${KIND_HEADER[message.kind]}` };
  }
  const baseUrl = config.PACKIT_SERVICE_URL;
  const secret = config.PACKIT_GITLAB_TOKEN_SECRET;
  if (!baseUrl || !secret) {
    return { outcome: "config_error", reason: "PACKIT_GITLAB_TOKEN_SECRET is not set" };
  }
  if (!repo) {
    return { outcome: "skip", reason: "payload has no project.git_http_url for packit-service" };
  }
  const iat = Math.floor(nowMs / 1000);
  const token = await new SignJWT({ namespace: repo.namespace, repo_name: repo.repo })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(iat)
    .setExpirationTime(iat + PACKIT_JWT_TTL_SECONDS)
    .sign(utf8(secret));
  const headers: Record<string, string> = {
    ...commonHeaders(message),
    "content-type": "application/json",
    // The canonical name for the kind: packit-service compares it exactly, while GitLab's
    // spelling was matched case-insensitively at ingress.
    "x-gitlab-event": KIND_HEADER[message.kind],
    "x-gitlab-token": token,
    "idempotency-key": message.dedupe_key,
  };
  const instance = message.instance_url ?? message.headers["x-gitlab-instance"];
  if (instance) {
    headers["x-gitlab-instance"] = instance;
  }
  const eventUuid = message.headers["x-gitlab-event-uuid"];
  if (eventUuid) {
    headers["x-gitlab-event-uuid"] = eventUuid;
  }
  return {
    outcome: "request",
    request: new Request(endpoint(baseUrl, "/api/webhooks/gitlab"), {
      method: "POST",
      headers,
      body,
    }),
  };
}

function subject(event: NormalizedEvent): string | undefined {
  switch (event.kind) {
    case "merge_request":
      return `merge_requests/${event.iid}`;
    case "issue":
      return `issues/${event.iid}`;
    case "push":
    case "tag_push":
      return event.ref;
    case "pipeline":
      return `pipelines/${event.id}`;
    case "release":
      return `releases/${event.tag}`;
    case "comment":
      return event.note_id === null ? undefined : `notes/${event.note_id}`;
  }
}

export function cloudEvent(message: WebhookMessage, event: NormalizedEvent) {
  const source =
    event.project.web_url ??
    (event.instance_url && event.project.path
      ? `${event.instance_url}/${event.project.path}`
      : (event.instance_url ?? "urn:gitlab:unknown"));
  const s = subject(event);
  return {
    specversion: "1.0",
    id: message.dedupe_key,
    source,
    type: `dev.packit.gitlab.${event.kind}`,
    ...(s ? { subject: s } : {}),
    time: event.received_at,
    datacontenttype: "application/json",
    relaydelivery: message.delivery_id,
    data: event,
  };
}

export async function prepareEventsRequest(
  message: WebhookMessage,
  event: NormalizedEvent,
  config: Config,
  nowMs: number,
): Promise<Prepared> {
  const url = config.EVENTS_URL;
  const keyBytes = config.EVENTS_SIGNING_SECRET
    ? signingKeyBytes(config.EVENTS_SIGNING_SECRET)
    : null;
  if (!url || !keyBytes) {
    return { outcome: "config_error", reason: "EVENTS_SIGNING_SECRET is missing or not whsec_" };
  }
  const body = utf8(JSON.stringify(cloudEvent(message, event)));
  const signature = await signHeaders(
    await importSigningKey(keyBytes),
    message.dedupe_key,
    Math.floor(nowMs / 1000),
    body,
  );
  return {
    outcome: "request",
    request: new Request(url, {
      method: "POST",
      headers: {
        ...commonHeaders(message),
        ...signature,
        "content-type": "application/cloudevents+json; charset=utf-8",
      },
      body,
    }),
  };
}
