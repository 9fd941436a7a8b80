/**
 * What the delivery log keeps of a webhook message, so replay and re-drive can rebuild it:
 * only what its columns do not already hold, and never the body (that is in R2, addressed
 * by its SHA-256 and the day it arrived). About 250 bytes instead of the message with its
 * body inline (up to 100 KB). Rows written before this form hold the whole message; both
 * are read.
 */
import { z } from "zod";
import { KIND_HEADER } from "../gitlab/event-kinds";
import { type WebhookMessage, webhookMessage } from "./queue-message";

/**
 * The registration, less what the row's columns say: a project registration's id, GitLab
 * project id and path are `registration_id`, `project_id` and `project_path`.
 */
const storedRegistration = z.union([
  // The whole one first: zod would strip a whole project registration down to the short form.
  webhookMessage.shape.registration,
  z.object({ kind: z.literal("project"), token_id: z.string() }),
]);

const storedForm = z.object({
  v: z.literal(2),
  dedupe_source: webhookMessage.shape.dedupe_source,
  /** Only when it is not `instance_url/path` (the identity's own rule). */
  web_url: z.string().nullable().optional(),
  /** Only when it is not the path split at its last slash (ogr's reading of it). */
  packit: webhookMessage.shape.packit,
  registration: storedRegistration,
  /** Less X-Gitlab-Event when it is the kind's own name, X-Gitlab-Instance when the instance. */
  headers: webhookMessage.shape.headers,
  body: z.object({
    size: z.number().int().nonnegative(),
    sha256: z.string().length(64),
    /** Only for bodies stored before keys were content-addressed. */
    key: z.string().min(1).optional(),
  }),
});

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

type PackitRepo = { namespace: string; repo: string } | null;

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
  const kept = { ...headers };
  if (kept["x-gitlab-event"] === KIND_HEADER[message.kind]) {
    delete kept["x-gitlab-event"];
  }
  if (kept["x-gitlab-instance"] === message.instance_url) {
    delete kept["x-gitlab-instance"];
  }
  const derivable =
    registration.kind === "project" &&
    registration.gitlab_project_id === project.id &&
    registration.path === project.path;
  const packit = message.packit === undefined ? null : message.packit;
  return JSON.stringify({
    v: 2,
    dedupe_source: message.dedupe_source,
    ...(project.web_url === defaultWebUrl(message.instance_url, project.path)
      ? {}
      : { web_url: project.web_url }),
    ...(packitEquals(packit, defaultPackit(project.path)) ? {} : { packit }),
    registration: derivable ? { kind: "project", token_id: registration.token_id } : registration,
    headers: kept,
    body: {
      size: message.body.size,
      sha256: message.body.sha256,
      ...(message.body.storage === "r2" && message.body.key !== storedBodyKey(message)
        ? { key: message.body.key }
        : {}),
    },
  });
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
  const stored = storedForm.safeParse(json);
  if (!stored.success) {
    return null;
  }
  const s = stored.data;
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
    dedupe_source: s.dedupe_source,
    received_at: row.received_at,
    ...(row.ingress_ms === null ? {} : { ingress_ms: row.ingress_ms }),
    kind: row.kind,
    instance_url: row.instance_url,
    project: {
      id: row.project_id,
      path: row.project_path,
      web_url:
        s.web_url === undefined ? defaultWebUrl(row.instance_url, row.project_path) : s.web_url,
    },
    packit: s.packit === undefined ? defaultPackit(row.project_path) : s.packit,
    registration,
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
    body: {
      storage: "r2",
      key: s.body.key ?? bodyKey(s.body.sha256, row.received_at),
      size: s.body.size,
      sha256: s.body.sha256,
    },
  });
  return rebuilt.success ? rebuilt.data : null;
}
