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
import { WEBHOOK_PATHS } from "../domain/webhook-paths";
import { AppError } from "../errors";
import { buildMessage, storeMessage } from "../events/enqueue";
import { classifyEvent, countedEventName, type RelayedKind } from "../gitlab/event-kinds";
import { sha256Hex, uuidV7 } from "../lib/crypto";
import { log } from "../lib/logger";
import { authenticate, checkSignature } from "./authenticate";
import { authorize, registrationRef } from "./authorize";
import { dedupeKey, dedupeScope } from "./dedupe-key";
import { isJsonContentType, parsePayload } from "./parse-payload";
import { declaredLengthExceeds, MAX_BODY_BYTES, readBody, tooLarge } from "./read-body";

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
      { repo: c.var.repos.projects, config, now },
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
  // Ignored: 202, never 4xx (GitLab pauses hooks on failures). Counted under the sender that
  // authenticated, after the answer: GitLab must not wait.
  const ignore = (reason: string) => {
    c.set("logFields", { outcome: "ignored", reason });
    const sender = principal.kind === "token" ? principal.registration.id : "legacy_jwt";
    c.executionCtx.waitUntil(
      c.var.repos.stats
        .countIgnored(sender, countedEventName(eventHeader), now)
        .catch((err) => log("warn", "could not count an ignored event", { error: String(err) })),
    );
    return c.json({ status: "ignored", reason }, 202);
  };
  if (classification.outcome === "ignored") {
    return ignore(classification.reason);
  }
  const kind: RelayedKind = classification.kind;

  // 5. The one identity this event speaks for; nothing downstream reads the body for it.
  const identity = await authorize(c, principal, payload);
  if (identity === "no_project") {
    return ignore("the payload names no project, so there is nothing to relay it for");
  }
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
  // Time-ordered: the delivery log's indexes on it grow at their end.
  const deliveryId = uuidV7(now);
  const deps = enqueueDeps(c.env);
  const message = await buildMessage(
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
  const storedIn = await storeMessage(deps, deliveryId, message, now);
  // Joined to the request's one log line: a webhook costs one line, not two.
  c.set("logFields", {
    outcome: "queued",
    delivery_id: deliveryId,
    kind,
    project_id: identity.projectId,
    project_path: identity.path,
    registration: registration.kind === "legacy_jwt" ? "legacy_jwt" : registration.id,
    stored_in: storedIn,
    body_storage: message.body.storage,
  });
  return c.json({ status: "queued", delivery_id: deliveryId }, 202);
}

export function registerWebhookRoutes(app: Hono<AppEnv>): void {
  for (const path of WEBHOOK_PATHS) {
    app.post(path, handleWebhook);
  }
}
