/**
 * The events queue's message, version 1: everything the consumer needs to deliver one
 * webhook, with the exact bytes GitLab sent either inline or in R2 (claim check).
 * Validated on both sides; a message that fails the schema is recorded, never retried.
 */
import { z } from "zod";
import { RELAYED_KINDS } from "../gitlab/event-kinds";

const registrationRef = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("project"),
    id: z.string(),
    token_id: z.string(),
    gitlab_project_id: z.number().int(),
    path: z.string(),
  }),
  z.object({
    kind: z.literal("namespace"),
    id: z.string(),
    token_id: z.string(),
    namespace: z.string(),
  }),
  z.object({
    kind: z.literal("legacy_jwt"),
    namespace: z.string(),
    repo_name: z.string().nullable(),
  }),
]);

const bodyRef = z.discriminatedUnion("storage", [
  z.object({ storage: z.literal("inline"), text: z.string() }),
  // Too large to travel as text, small enough gzipped: base64 of the gzip of the bytes.
  z.object({ storage: z.literal("gzip"), data: z.string() }),
  z.object({ storage: z.literal("r2"), key: z.string().min(1) }),
]);

/** GitLab delivery headers worth keeping, lower-case names. */
export const KEPT_HEADERS = [
  "x-gitlab-event",
  "x-gitlab-instance",
  "x-gitlab-event-uuid",
  "x-gitlab-webhook-uuid",
  "idempotency-key",
  "webhook-id",
  "webhook-timestamp",
  "user-agent",
] as const;

export const webhookMessage = z.object({
  v: z.literal(1),
  type: z.literal("gitlab_webhook"),
  delivery_id: z.string().min(1),
  /** Bumped by each admin replay; copies of an older generation are stale. */
  generation: z.number().int().nonnegative().default(0),
  dedupe_key: z.string().min(1),
  dedupe_source: z.enum(["webhook-id", "idempotency-key", "content-hash"]),
  received_at: z.number().int(),
  /** Milliseconds ingress spent before the queue send (for /admin/stats). */
  ingress_ms: z.number().int().nonnegative().optional(),
  kind: z.enum(RELAYED_KINDS),
  /**
   * The authorized identity (SPEC ingress step 5), decided at ingress from the registration:
   * downstream never reads a project from the body again. Messages queued before identities
   * were enforced may still carry nulls.
   */
  instance_url: z.string().nullable(),
  project: z.object({
    id: z.number().int().nullable(),
    path: z.string().nullable(),
    web_url: z.string().nullable(),
  }),
  /**
   * packit-service's namespace and repository for this project (ogr's parse of the
   * payload's git_http_url, checked against the identity); null when the payload has no
   * such URL. Absent only on messages queued before it existed.
   */
  packit: z.object({ namespace: z.string(), repo: z.string() }).nullable().optional(),
  registration: registrationRef,
  headers: z.partialRecord(z.enum(KEPT_HEADERS), z.string()),
  body: bodyRef.and(
    z.object({ size: z.number().int().nonnegative(), sha256: z.string().length(64) }),
  ),
});
export type WebhookMessage = z.infer<typeof webhookMessage>;

/** A feedback request to perform against GitLab; the request itself is in D1. */
export const feedbackMessage = z.object({
  v: z.literal(1),
  type: z.literal("gitlab_feedback"),
  feedback_id: z.string().min(1),
});
export type FeedbackMessage = z.infer<typeof feedbackMessage>;

/** One schema for everything on the events queue, discriminated by `type`. */
export const queueMessage = z.discriminatedUnion("type", [webhookMessage, feedbackMessage]);
export type QueueMessage = z.infer<typeof queueMessage>;
