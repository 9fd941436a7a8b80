/**
 * POST /webhooks/gitlab (and packit-service's path /api/webhooks/gitlab): the request
 * GitLab waits on. It checks, authenticates, classifies and durably queues, in the order
 * SPEC.md gives, and does nothing else: delivery happens in the queue consumer.
 */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { enqueueDeps } from "../deps";
import { AppError } from "../errors";
import { buildMessage, storeMessage } from "../events/enqueue";
import { KEPT_HEADERS, type WebhookMessage } from "../events/queue-message";
import { sha256Hex } from "../lib/crypto";
import { canonicalInstanceUrl } from "../lib/instance-url";
import { asJsonObject } from "../lib/json-object";
import { log } from "../lib/logger";
import { ProjectsRepo } from "../storage/projects-repo";
import { authenticate, checkSignature, type Principal } from "./authenticate";
import { dedupeKey } from "./dedupe-key";
import { classifyEvent, type RelayedKind } from "./event-kinds";
import {
  legacyTokenCovers,
  type PayloadProject,
  payloadProject,
  registrationCovers,
} from "./payload-project";
import { declaredLengthExceeds, MAX_BODY_BYTES, readBody, tooLarge } from "./read-body";

export const WEBHOOK_PATHS = ["/webhooks/gitlab", "/api/webhooks/gitlab"] as const;

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isJsonContentType(header: string | undefined): boolean {
  const mediaType = header?.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json" || (mediaType?.endsWith("+json") ?? false);
}

function parsePayload(bytes: Uint8Array): { text: string; payload: Record<string, unknown> } {
  if (bytes.byteLength === 0) {
    throw new AppError("invalid_json", "body is empty");
  }
  let text: string;
  try {
    text = utf8Strict.decode(bytes);
  } catch {
    throw new AppError("invalid_json", "body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError("invalid_json", "body is not valid JSON");
  }
  const payload = asJsonObject(parsed);
  if (!payload) {
    throw new AppError("invalid_payload", "body must be a JSON object");
  }
  return { text, payload };
}

/** The instance a legacy token's event came from: the header, else the project's web URL. */
function legacyInstanceUrl(header: string | undefined, project: PayloadProject): string | null {
  if (header) {
    return canonicalInstanceUrl(header);
  }
  if (!project.webUrl) {
    return null;
  }
  const suffix = project.path ? `/${project.path}` : "";
  const base =
    suffix && project.webUrl.endsWith(suffix)
      ? project.webUrl.slice(0, -suffix.length)
      : project.webUrl;
  return canonicalInstanceUrl(base);
}

/** Step 5: the authenticated registration must be the payload's project and instance. */
function authorize(
  principal: Principal,
  project: PayloadProject,
  instanceHeader: string | undefined,
): { instanceUrl: string | null; registration: WebhookMessage["registration"] } {
  if (principal.kind === "legacy_jwt") {
    if (!legacyTokenCovers(principal.claims, project)) {
      throw new AppError("forbidden", "the token does not cover this project");
    }
    return {
      instanceUrl: legacyInstanceUrl(instanceHeader, project),
      registration: {
        kind: "legacy_jwt",
        namespace: principal.claims.namespace,
        repo_name: principal.claims.repo_name ?? null,
      },
    };
  }
  const reg = principal.registration;
  if (instanceHeader !== undefined && canonicalInstanceUrl(instanceHeader) !== reg.instance_url) {
    throw new AppError("forbidden", "X-Gitlab-Instance does not match the token's instance");
  }
  const covered =
    reg.kind === "project" && reg.gitlab_project_id !== null
      ? registrationCovers({ kind: "project", gitlabProjectId: reg.gitlab_project_id }, project)
      : registrationCovers({ kind: "namespace", namespace: reg.path }, project);
  if (!covered) {
    throw new AppError("forbidden", "the token does not cover this project");
  }
  return {
    instanceUrl: reg.instance_url,
    registration:
      reg.kind === "project" && reg.gitlab_project_id !== null
        ? {
            kind: "project",
            id: reg.id,
            token_id: principal.tokenId,
            gitlab_project_id: reg.gitlab_project_id,
            path: reg.path,
          }
        : { kind: "namespace", id: reg.id, token_id: principal.tokenId, namespace: reg.path },
  };
}

async function countIgnored(db: D1Database, projectId: number | null, event: string, now: number) {
  try {
    await db
      .prepare(
        `INSERT INTO ignored_events (minute, project_id, kind, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (minute, project_id, kind) DO UPDATE SET count = count + 1`,
      )
      .bind(Math.floor(now / 60_000), projectId ?? 0, event.slice(0, 64))
      .run();
  } catch (err) {
    log("warn", "could not count an ignored event", { error: String(err) });
  }
}

function keptHeaders(c: Context<AppEnv>): WebhookMessage["headers"] {
  const headers: WebhookMessage["headers"] = {};
  for (const name of KEPT_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) {
      headers[name] = value.slice(0, 512);
    }
  }
  return headers;
}

async function handleWebhook(c: Context<AppEnv>): Promise<Response> {
  const now = Date.now();
  const config = readConfig(c.env);

  // 1. Size and media type, before anything is read.
  if (declaredLengthExceeds(c.req.header("content-length"), MAX_BODY_BYTES)) {
    throw tooLarge();
  }
  if (!isJsonContentType(c.req.header("content-type"))) {
    throw new AppError("unsupported_media_type", "Content-Type must be application/json");
  }
  // 2. The event header.
  const eventHeader = c.req.header("x-gitlab-event")?.trim();
  if (!eventHeader) {
    throw new AppError("missing_event_header", "X-Gitlab-Event header is required");
  }
  // 3. Authentication; the body is read only for an authenticated sender.
  const signatureHeaders = {
    id: c.req.header("webhook-id"),
    timestamp: c.req.header("webhook-timestamp"),
    signature: c.req.header("webhook-signature"),
  };
  const principal = await authenticate(
    { token: c.req.header("x-gitlab-token"), signature: signatureHeaders },
    { repo: new ProjectsRepo(c.env.DB), config, now },
  );
  const bytes = await readBody(c.req.raw, MAX_BODY_BYTES);
  await checkSignature(principal, signatureHeaders, bytes, now);

  // 4. Parse and classify.
  const { text, payload } = parsePayload(bytes);
  const classification = classifyEvent(eventHeader, payload);
  if (classification.outcome === "mismatch") {
    throw new AppError("invalid_payload", classification.reason);
  }
  if (classification.outcome === "ignored") {
    log("info", "webhook ignored", {
      request_id: c.get("requestId"),
      reason: classification.reason,
    });
    // Counted after the answer: nothing else records ignored events, and GitLab must not wait.
    c.executionCtx.waitUntil(countIgnored(c.env.DB, payloadProject(payload).id, eventHeader, now));
    return c.json({ status: "ignored", reason: classification.reason }, 202);
  }
  const kind: RelayedKind = classification.kind;

  // 5. The registration must be this payload's project and instance.
  const project = payloadProject(payload);
  const { instanceUrl, registration } = authorize(
    principal,
    project,
    c.req.header("x-gitlab-instance"),
  );

  // 6. Dedupe key and the message, with the body inline or in R2.
  const bodySha256 = await sha256Hex(bytes);
  const dedupe = await dedupeKey({
    webhookId: signatureHeaders.id,
    idempotencyKey: c.req.header("idempotency-key"),
    instanceUrl,
    projectId: project.id,
    projectPath: project.path,
    event: kind,
    bodySha256,
  });
  const deliveryId = crypto.randomUUID();
  const deps = enqueueDeps(c.env);
  const { message, serialized } = await buildMessage(
    {
      v: 1,
      type: "gitlab_webhook",
      delivery_id: deliveryId,
      generation: 0,
      dedupe_key: dedupe.key,
      dedupe_source: dedupe.source,
      received_at: now,
      ingress_ms: Date.now() - now,
      kind,
      instance_url: instanceUrl,
      project: { id: project.id, path: project.path, web_url: project.webUrl },
      registration,
      headers: keptHeaders(c),
    },
    { bytes, text, sha256: bodySha256 },
    deps.bodies,
  );

  // 7. Answer only once the queue (or the inbox) holds the event.
  const storedIn = await storeMessage(deps, deliveryId, message, serialized, now);
  log("info", "webhook queued", {
    request_id: c.get("requestId"),
    delivery_id: deliveryId,
    kind,
    project_id: project.id,
    registration: registration.kind === "legacy_jwt" ? "legacy_jwt" : registration.id,
    stored_in: storedIn,
    body_storage: message.body.storage,
    duration_ms: Date.now() - now,
  });
  return c.json({ status: "queued", delivery_id: deliveryId }, 202);
}

export function registerWebhookRoutes(app: Hono<AppEnv>): void {
  for (const path of WEBHOOK_PATHS) {
    app.post(path, handleWebhook);
  }
}
