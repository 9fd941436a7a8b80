/**
 * POST /webhooks/gitlab (and packit-service's path /api/webhooks/gitlab): the request
 * GitLab waits on. It checks, authenticates, classifies and durably queues, in the order
 * SPEC.md gives, and does nothing else: delivery happens in the queue consumer.
 */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { enqueueDeps } from "../deps";
import { KEPT_HEADERS, type WebhookMessage } from "../domain/queue-message";
import { AppError } from "../errors";
import { buildMessage, storeMessage } from "../events/enqueue";
import { classifyEvent, type RelayedKind } from "../gitlab/event-kinds";
import { type Grant, type Identity, resolveIdentity } from "../gitlab/project-identity";
import { gitlabProjectLookup } from "../gitlab/project-lookup";
import { sha256Hex } from "../lib/crypto";
import { parseMembers, scanJson } from "../lib/json-scan";
import { log } from "../lib/logger";
import { InstancesRepo } from "../storage/instances-repo";
import { ProjectsRepo } from "../storage/projects-repo";
import { authenticate, checkSignature, forgetTokens, type Principal } from "./authenticate";
import { dedupeKey, dedupeScope } from "./dedupe-key";
import { declaredLengthExceeds, MAX_BODY_BYTES, readBody, tooLarge } from "./read-body";

export const WEBHOOK_PATHS = ["/webhooks/gitlab", "/api/webhooks/gitlab"] as const;

/** Deeper than any GitLab payload nests; refused before anything is built. */
const MAX_JSON_DEPTH = 64;

/** The top-level members ingress reads: classification and the identity rule. */
const INGRESS_KEYS = [
  "object_kind",
  "event_name",
  "event_type",
  "project",
  "project_id",
  "repository",
  "object_attributes",
  "merge_request",
] as const;

function isJsonContentType(header: string | undefined): boolean {
  const mediaType = header?.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json" || (mediaType?.endsWith("+json") ?? false);
}

/**
 * Validates the whole body (JSON, UTF-8, depth) without building it, then parses only the
 * members ingress reads: a 25 MiB body is never held as text and objects as well as bytes.
 */
function parsePayload(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength === 0) {
    throw new AppError("invalid_json", "body is empty");
  }
  const scan = scanJson(bytes, MAX_JSON_DEPTH);
  if (!scan.ok) {
    throw new AppError(
      "invalid_json",
      scan.reason === "invalid_utf8"
        ? "body is not valid UTF-8"
        : scan.reason === "too_deep"
          ? `body nests deeper than ${MAX_JSON_DEPTH} levels`
          : `body is not valid JSON (at byte ${scan.at})`,
    );
  }
  if (!scan.object) {
    throw new AppError("invalid_payload", "body must be a JSON object");
  }
  return parseMembers(bytes, scan.members, INGRESS_KEYS);
}

/** What authenticated the sender, as the identity rule reads it. */
function grantOf(principal: Principal): Grant {
  if (principal.kind === "legacy_jwt") {
    return {
      kind: "legacy_jwt",
      namespace: principal.claims.namespace,
      repoName: principal.claims.repo_name ?? null,
    };
  }
  const reg = principal.registration;
  return reg.kind === "project" && reg.gitlab_project_id !== null
    ? {
        kind: "project",
        instanceUrl: reg.instance_url,
        projectId: reg.gitlab_project_id,
        path: reg.path,
      }
    : { kind: "namespace", instanceUrl: reg.instance_url, namespace: reg.path };
}

function registrationRef(principal: Principal, identity: Identity): WebhookMessage["registration"] {
  if (principal.kind === "legacy_jwt") {
    return {
      kind: "legacy_jwt",
      namespace: principal.claims.namespace,
      repo_name: principal.claims.repo_name ?? null,
    };
  }
  const reg = principal.registration;
  return reg.kind === "project" && reg.gitlab_project_id !== null
    ? {
        kind: "project",
        id: reg.id,
        token_id: principal.tokenId,
        gitlab_project_id: reg.gitlab_project_id,
        path: identity.path,
      }
    : { kind: "namespace", id: reg.id, token_id: principal.tokenId, namespace: reg.path };
}

/**
 * Step 5: the one identity this event may speak for. A registered project whose path
 * changed is confirmed with GitLab (id → path) once, and the registration follows it.
 */
async function authorize(
  c: Context<AppEnv>,
  principal: Principal,
  payload: Record<string, unknown>,
  now: number,
): Promise<Identity> {
  const instanceHeader = c.req.header("x-gitlab-instance");
  const result = resolveIdentity(grantOf(principal), payload, instanceHeader);
  if (result.outcome === "ok") {
    return result.identity;
  }
  if (result.outcome === "renamed" && principal.kind === "token") {
    const reg = principal.registration;
    const instance = await new InstancesRepo(c.env.DB).get(reg.instance_id);
    const lookup = gitlabProjectLookup({
      encryptionKey: readConfig(c.env).ENCRYPTION_KEY,
      fetcher: (input, init) => fetch(input, init),
      now: () => now,
    });
    const answer = instance ? await lookup(instance, result.projectId) : { found: false as const };
    if (answer.found && answer.path.toLowerCase() === result.path.toLowerCase()) {
      await new ProjectsRepo(c.env.DB).renamePath(reg.id, reg.path, answer.path);
      forgetTokens();
      log("info", "audit", {
        audit: "project.path.renamed",
        request_id: c.get("requestId"),
        project_registration_id: reg.id,
        from: reg.path,
        to: answer.path,
      });
      const renamed: Principal = {
        ...principal,
        registration: { ...reg, path: answer.path },
      };
      const again = resolveIdentity(grantOf(renamed), payload, instanceHeader);
      if (again.outcome === "ok") {
        return again.identity;
      }
      if (again.outcome === "mismatch") {
        throw new AppError("forbidden", `${again.field} ${again.reason}`);
      }
    }
    throw new AppError(
      "forbidden",
      `project.path_with_namespace names ${result.path}, but project ${result.projectId} is registered as ${reg.path} and GitLab does not confirm the rename`,
    );
  }
  if (result.outcome === "mismatch") {
    throw new AppError("forbidden", `${result.field} ${result.reason}`);
  }
  throw new AppError("forbidden", "the token does not cover this project");
}

/** X-Gitlab-Event values GitLab sends (reference/gitlab.md); counted under their own name. */
const GITLAB_EVENT_HEADERS = new Map(
  [
    "Build Hook",
    "Confidential Issue Hook",
    "Confidential Note Hook",
    "Deployment Hook",
    "Emoji Hook",
    "Feature Flag Hook",
    "Issue Hook",
    "Job Hook",
    "Member Hook",
    "Merge Request Hook",
    "Milestone Hook",
    "No Sti System Hook",
    "Note Hook",
    "Pipeline Hook",
    "Project Hook",
    "Push Hook",
    "Release Hook",
    "Resource Access Token Hook",
    "Resource Deploy Token Hook",
    "Subgroup Hook",
    "System Hook",
    "Tag Push Hook",
    "Vulnerability Hook",
    "Wiki Page Hook",
  ].map((name) => [name.toLowerCase(), name]),
);

/** Anything GitLab does not send is counted as `other`: a sender never names a counter. */
function ignoredKind(header: string): string {
  return GITLAB_EVENT_HEADERS.get(header.trim().toLowerCase()) ?? "other";
}

async function countIgnored(db: D1Database, registration: string, kind: string, now: number) {
  try {
    await db
      .prepare(
        `INSERT INTO ignored_counts (minute, registration, kind, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (minute, registration, kind) DO UPDATE SET count = count + 1`,
      )
      .bind(Math.floor(now / 60_000), registration, kind)
      .run();
  } catch (err) {
    log("warn", "could not count an ignored event", { error: String(err) });
  }
}

/**
 * Failed authentications count against the client's IP (Workers Rate Limiting); past the
 * limit they are answered 429. Successful ones never touch the limiter, so a valid hook is
 * never slowed by a broken one sharing GitLab's egress IPs.
 */
async function limitFailures<T>(c: Context<AppEnv>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError && err.code === "unauthorized" && c.env.AUTH_FAILURES) {
      const key = c.req.header("cf-connecting-ip") ?? "unknown";
      const { success } = await c.env.AUTH_FAILURES.limit({ key });
      if (!success) {
        throw new AppError("too_many_requests", "too many failed authentications; slow down", {
          "Retry-After": "60",
        });
      }
    }
    throw err;
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
  const { principal, bytes } = await limitFailures(c, async () => {
    const sender = await authenticate(
      { token: c.req.header("x-gitlab-token"), signature: signatureHeaders },
      { repo: new ProjectsRepo(c.env.DB), config, now },
    );
    const read = await readBody(c.req.raw, MAX_BODY_BYTES);
    await checkSignature(sender, signatureHeaders, read, now);
    return { principal: sender, bytes: read };
  });

  // 4. Parse and classify.
  const payload = parsePayload(bytes);
  const classification = classifyEvent(eventHeader, payload);
  if (classification.outcome === "mismatch") {
    throw new AppError("invalid_payload", classification.reason);
  }
  if (classification.outcome === "ignored") {
    log("info", "webhook ignored", {
      request_id: c.get("requestId"),
      reason: classification.reason,
    });
    // Counted under the sender that authenticated, after the answer: GitLab must not wait.
    const sender = principal.kind === "token" ? principal.registration.id : "legacy_jwt";
    c.executionCtx.waitUntil(countIgnored(c.env.DB, sender, ignoredKind(eventHeader), now));
    return c.json({ status: "ignored", reason: classification.reason }, 202);
  }
  const kind: RelayedKind = classification.kind;

  // 5. The one identity this event speaks for; nothing downstream reads the body for it.
  const identity = await authorize(c, principal, payload, now);
  const registration = registrationRef(principal, identity);

  // 6. Dedupe key, scoped to the sender, and the message with the body inline or in R2.
  const bodySha256 = await sha256Hex(bytes);
  const dedupe = await dedupeKey({
    scope: dedupeScope(registration, identity),
    // A webhook-id only identifies an event when its signature was verified.
    webhookId: principal.kind === "token" && principal.signingKey ? signatureHeaders.id : undefined,
    idempotencyKey: c.req.header("idempotency-key"),
    instanceUrl: identity.instanceUrl,
    projectId: identity.projectId,
    projectPath: identity.path,
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
      instance_url: identity.instanceUrl,
      project: { id: identity.projectId, path: identity.path, web_url: identity.webUrl },
      packit: identity.packit,
      registration,
      headers: keptHeaders(c),
    },
    { bytes, sha256: bodySha256 },
    deps.bodies,
  );

  // 7. Answer only once the queue (or the inbox) holds the event.
  const storedIn = await storeMessage(deps, deliveryId, message, serialized, now);
  log("info", "webhook queued", {
    request_id: c.get("requestId"),
    delivery_id: deliveryId,
    kind,
    project_id: identity.projectId,
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
