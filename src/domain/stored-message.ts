/**
 * What the delivery log keeps of a webhook message, so replay and re-drive can rebuild it:
 * only what its columns do not already hold, and never the body (that is in R2, addressed
 * by its SHA-256 and the day it arrived). About 200 bytes instead of the message with its
 * body inline (up to 100 KB). Rows written before this form hold the whole message; both
 * are read.
 */
import { KIND_HEADER } from "../gitlab/event-kinds";
import { fromHex, toBase64Url } from "../lib/encoding";
import { type WebhookMessage, webhookMessage } from "./queue-message";
import {
  decodeStored,
  HEADER_CODES,
  type KeptHeader,
  type PackitRepo,
  packUuid,
} from "./stored-form";

/** The delivery row's columns that the stored form leaves out. */
export type StoredColumns = {
  id: string;
  generation: number;
  dedupe_key: string;
  received_at: number;
  ingress_ms: number | null;
  kind: string;
  instance_url: string | null;
  project_id: number | null;
  project_path: string | null;
  registration_id: string | null;
  message: string;
};

/**
 * Where a body lives in R2: content-addressed within the day it arrived, so the copies a
 * project hook and a group hook deliver of one event are one object, and retention drops
 * whole days (`bodies/YYYY-MM-DD/`) once every delivery of that day is gone.
 */
export function bodyKey(sha256: string, receivedAt: number): string {
  return `bodies/${new Date(receivedAt).toISOString().slice(0, 10)}/${sha256}.json`;
}

function defaultWebUrl(instanceUrl: string | null, path: string | null): string | null {
  return instanceUrl && path ? `${instanceUrl}/${path}` : null;
}

function defaultPackit(path: string | null): PackitRepo {
  const slash = path?.lastIndexOf("/") ?? -1;
  return path && slash > 0
    ? { namespace: path.slice(0, slash), repo: path.slice(slash + 1) }
    : null;
}

function packitEquals(a: PackitRepo, b: PackitRepo): boolean {
  return a === b || (a !== null && b !== null && a.namespace === b.namespace && a.repo === b.repo);
}

/**
 * The stored form of `message`. Its body must be in R2: where the message says for an R2
 * body, under `storedBodyKey(message)` for an inline one.
 */
export function toStored(message: WebhookMessage): string {
  const { project, registration, headers } = message;
  const h: Record<string, string | 0 | null> = {};
  for (const name of ["x-gitlab-event", "x-gitlab-instance"] as const) {
    if (headers[name] === undefined) {
      h[HEADER_CODES[name]] = null;
    }
  }
  for (const [name, value] of Object.entries(headers) as [KeptHeader, string][]) {
    const derivable =
      (name === "x-gitlab-event" && value === KIND_HEADER[message.kind]) ||
      (name === "x-gitlab-instance" && value === message.instance_url);
    const packed = packUuid(value);
    if (derivable) {
      continue;
    }
    if (name === "webhook-id" && value === headers["idempotency-key"]) {
      h[HEADER_CODES[name]] = 0;
    } else if (packed) {
      h[HEADER_CODES[name].toUpperCase()] = packed;
    } else {
      h[HEADER_CODES[name]] = value;
    }
  }
  const derivable =
    registration.kind === "project" &&
    registration.gitlab_project_id === project.id &&
    registration.path === project.path;
  const packit = message.packit === undefined ? null : message.packit;
  return JSON.stringify({
    v: 3,
    ...(message.dedupe_source === sourceOf(message.dedupe_key) ? {} : { d: message.dedupe_source }),
    ...(project.web_url === defaultWebUrl(message.instance_url, project.path)
      ? {}
      : { u: project.web_url }),
    ...(packitEquals(packit, defaultPackit(project.path)) ? {} : { p: packit }),
    ...(derivable ? token(registration.token_id) : { r: registration }),
    h,
    b: [message.body.size, toBase64Url(fromHex(message.body.sha256) ?? new Uint8Array())],
    ...(message.body.storage === "r2" && message.body.key !== storedBodyKey(message)
      ? { k: message.body.key }
      : {}),
  });
}

function token(id: string): { t: string } | { T: string } {
  const packed = packUuid(id);
  return packed ? { T: packed } : { t: id };
}

/** The dedupe source a key's prefix says (src/ingress/dedupe-key.ts makes them). */
function sourceOf(dedupeKey: string): WebhookMessage["dedupe_source"] | undefined {
  return dedupeKey.startsWith("wh_")
    ? "webhook-id"
    : dedupeKey.startsWith("ik_")
      ? "idempotency-key"
      : dedupeKey.startsWith("sha256:")
        ? "content-hash"
        : undefined;
}

/** Where the body of a message stored in this form lives. */
export function storedBodyKey(message: Pick<WebhookMessage, "received_at" | "body">): string {
  return bodyKey(message.body.sha256, message.received_at);
}

/**
 * The message for the row's current generation, rebuilt from its columns and stored form
 * (or read whole from an older row); null when neither reads as one.
 */
export function fromStored(row: StoredColumns): WebhookMessage | null {
  let json: unknown;
  try {
    json = JSON.parse(row.message);
  } catch {
    return null;
  }
  const legacy = webhookMessage.safeParse(json);
  if (legacy.success) {
    return { ...legacy.data, generation: row.generation };
  }
  const s = decodeStored(json);
  if (!s) {
    return null;
  }
  const registration =
    "id" in s.registration || s.registration.kind !== "project"
      ? s.registration
      : {
          kind: "project" as const,
          id: row.registration_id,
          token_id: s.registration.token_id,
          gitlab_project_id: row.project_id,
          path: row.project_path,
        };
  const headers = {
    "x-gitlab-event": KIND_HEADER[row.kind as keyof typeof KIND_HEADER],
    "x-gitlab-instance": row.instance_url ?? undefined,
    ...s.headers,
  };
  const rebuilt = webhookMessage.safeParse({
    v: 1,
    type: "gitlab_webhook",
    delivery_id: row.id,
    generation: row.generation,
    dedupe_key: row.dedupe_key,
    dedupe_source: s.source ?? sourceOf(row.dedupe_key),
    received_at: row.received_at,
    ...(row.ingress_ms === null ? {} : { ingress_ms: row.ingress_ms }),
    kind: row.kind,
    instance_url: row.instance_url,
    project: {
      id: row.project_id,
      path: row.project_path,
      web_url:
        s.webUrl === undefined ? defaultWebUrl(row.instance_url, row.project_path) : s.webUrl,
    },
    packit: s.packit === undefined ? defaultPackit(row.project_path) : s.packit,
    registration,
    headers: Object.fromEntries(
      Object.entries(headers).filter(([, v]) => v !== undefined && v !== null),
    ),
    body: {
      storage: "r2",
      key: s.key ?? bodyKey(s.sha256, row.received_at),
      size: s.size,
      sha256: s.sha256,
    },
  });
  return rebuilt.success ? rebuilt.data : null;
}
