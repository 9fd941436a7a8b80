/**
 * A webhook's stored body as the consumer reads it: the exact bytes (checked against their
 * SHA-256), and only the top-level members normalizing needs, parsed once.
 */
import type { WebhookMessage } from "../domain/queue-message";
import { storedBodyKey, toStored } from "../domain/stored-message";
import { parseGitRepo } from "../gitlab/git-repo-url";
import { identityFields } from "../gitlab/identity-fields";
import { gunzip } from "../lib/compression";
import { sha256Hex } from "../lib/crypto";
import { fromBase64, utf8 } from "../lib/encoding";
import { asJsonObject } from "../lib/json-object";
import { parseMembers, scanJson } from "../lib/json-scan";
import { log } from "../lib/logger";
import { getBody, putBody } from "../storage/bodies";

/** Top-level members `normalize` reads (and `project`, for messages without an identity). */
const NORMALIZE_KEYS = [
  "object_kind",
  "event_name",
  "event_type",
  "action",
  "after",
  "before",
  "checkout_sha",
  "commit",
  "commits",
  "created_at",
  "issue",
  "merge_request",
  "name",
  "object_attributes",
  "project",
  "push_options",
  "ref",
  "released_at",
  "repository",
  "tag",
  "total_commits_count",
  "url",
  "user",
  "user_name",
  "user_username",
] as const;

/** The exact bytes GitLab sent, from the message or R2; null when they are gone or altered. */
export async function loadBody(
  message: WebhookMessage,
  bodies: Pick<R2Bucket, "get">,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const { body } = message;
  const stored =
    body.storage === "inline"
      ? utf8(body.text)
      : body.storage === "gzip"
        ? await gunzip(fromBase64(body.data) ?? new Uint8Array(), body.size)
        : await getBody(bodies, body.key);
  if (!stored) {
    return null;
  }
  const bytes = new Uint8Array(stored);
  return (await sha256Hex(bytes)) === message.body.sha256 ? bytes : null;
}

/**
 * The members `normalize` reads, parsed from validated bytes: a pipeline's `builds` or a
 * release's `assets` are forwarded as bytes, never built as objects. Null: not an object.
 */
export function readPayload(bytes: Uint8Array): Record<string, unknown> | null {
  const scan = scanJson(bytes, Number.POSITIVE_INFINITY);
  return scan.ok && scan.object ? parseMembers(bytes, scan.members, NORMALIZE_KEYS) : null;
}

/**
 * For messages queued before ingress decided packit-service's namespace and repository:
 * read as packit-service reads it. Newer messages carry it, checked against the identity.
 */
export function packitRepoOf(payload: unknown) {
  const url = identityFields(asJsonObject(payload) ?? {}).packitUrl?.value;
  return typeof url === "string" ? parseGitRepo(url) : null;
}

/**
 * What the delivery log keeps for replay: the stored form, which points at the body in R2.
 * A body that arrived altered is kept as it came (the whole message), for whoever looks.
 */
export function storedFormOf(message: WebhookMessage, bytes: Uint8Array | null): string {
  return message.body.storage === "r2" || bytes ? toStored(message) : JSON.stringify(message);
}

/**
 * Writes a body that came in the message to R2, where the stored form says it is. False when
 * R2 refused: the caller then has the log keep the whole message (body inline) instead, and
 * delivery goes on; the row is bigger only for that event.
 */
export async function keepBody(
  message: WebhookMessage,
  bytes: Uint8Array<ArrayBuffer> | null,
  bodies: Pick<R2Bucket, "put">,
): Promise<boolean> {
  if (message.body.storage === "r2" || !bytes) {
    return true;
  }
  try {
    await putBody(bodies, storedBodyKey(message), bytes, message.body.sha256);
    return true;
  } catch (err) {
    log("warn", "could not keep a body in R2; the delivery log holds it inline", {
      delivery_id: message.delivery_id,
      error: String(err),
    });
    return false;
  }
}
