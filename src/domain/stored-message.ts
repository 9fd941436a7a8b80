/**
 * What the delivery log keeps of a webhook message, so replay and re-drive can rebuild it:
 * only what its columns do not already hold, and never the body (that is in R2, addressed
 * by its SHA-256 and the day it arrived). About 200 bytes instead of the message with its
 * body inline (up to 100 KB). Rows written before this form hold the whole message; both
 * are read.
 */
import { z } from "zod";
import { KIND_HEADER } from "../gitlab/event-kinds";
import { fromBase64, fromHex, toBase64Url, toHex } from "../lib/encoding";
import { type KEPT_HEADERS, type WebhookMessage, webhookMessage } from "./queue-message";

/**
 * The registration, less what the row's columns say: a project registration's id, GitLab
 * project id and path are `registration_id`, `project_id` and `project_path`.
 */
const storedRegistration = z.union([
  // The whole one first: zod would strip a whole project registration down to the short form.
  webhookMessage.shape.registration,
  z.object({ kind: z.literal("project"), token_id: z.string() }),
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A lower-case UUID in base64url (36 characters → 22); null for anything else. */
function packUuid(value: string): string | null {
  const bytes = UUID.test(value) ? fromHex(value.replaceAll("-", "")) : null;
  return bytes ? toBase64Url(bytes) : null;
}

function unpackUuid(packed: string): string | null {
  const bytes = fromBase64(packed);
  if (!bytes || bytes.length !== 16) {
    return null;
  }
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The form rows were written in before v3; still read. */
const storedFormV2 = z.object({
  v: z.literal(2),
  dedupe_source: webhookMessage.shape.dedupe_source,
  web_url: z.string().nullable().optional(),
  packit: webhookMessage.shape.packit,
  registration: storedRegistration,
  headers: webhookMessage.shape.headers,
  body: z.object({
    size: z.number().int().nonnegative(),
    sha256: z.string().length(64),
    key: z.string().min(1).optional(),
  }),
});

/** Kept headers by two-letter code: the names would be a third of the stored form. */
const HEADER_CODES = {
  "x-gitlab-event": "ev",
  "x-gitlab-instance": "in",
  "x-gitlab-event-uuid": "eu",
  "x-gitlab-webhook-uuid": "wu",
  "idempotency-key": "ik",
  "webhook-id": "wi",
  "webhook-timestamp": "wt",
  "user-agent": "ua",
} as const satisfies Record<KeptHeader, string>;
const HEADER_NAMES = new Map<string, KeptHeader>(
  Object.entries(HEADER_CODES).map(([name, code]) => [code, name as KeptHeader]),
);

/**
 * The stored form since v3: short keys, and nothing a column or another field says (each
 * optional field is only there when it differs from what would be derived).
 */
const storedForm = z.object({
  v: z.literal(3),
  /** Dedupe source, when the dedupe key's prefix does not say it. */
  d: webhookMessage.shape.dedupe_source.optional(),
  /** The project's web URL, when it is not `instance_url/path` (the identity's own rule). */
  u: z.string().nullable().optional(),
  /** packit's repository, when it is not the path split at its last slash (ogr's reading). */
  p: webhookMessage.shape.packit,
  /** The token of a project registration the row's columns describe (T: a packed UUID)... */
  t: z.string().optional(),
  T: z.string().length(22).optional(),
  /** ...or the whole registration when they do not. */
  r: webhookMessage.shape.registration.optional(),
  /**
   * Headers by code, less X-Gitlab-Event when it is the kind's own name, X-Gitlab-Instance
   * when the instance, and webhook-id when it is the Idempotency-Key (GitLab sends both
   * alike: 0 stands for it). null: the derivable header was not sent. An upper-case code
   * holds a UUID in base64url (GitLab's UUIDs are two thirds of the form otherwise).
   */
  h: z.record(z.string(), z.union([z.string(), z.literal(0), z.null()])),
  /** The body's size and SHA-256 (base64url). */
  b: z.tuple([z.number().int().nonnegative(), z.string().length(43)]),
  /** The body's R2 key, only for bodies stored before keys were content-addressed. */
  k: z.string().min(1).optional(),
});

type KeptHeader = (typeof KEPT_HEADERS)[number];

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

/** What a stored form says, decoded: v2 and v3 both read into it. */
type Decoded = {
  source: WebhookMessage["dedupe_source"] | undefined;
  webUrl: string | null | undefined;
  packit: PackitRepo | undefined;
  registration: WebhookMessage["registration"] | { kind: "project"; token_id: string };
  headers: Partial<Record<KeptHeader, string | null>>;
  size: number;
  sha256: string;
  key: string | undefined;
};

function fromV2(s: z.infer<typeof storedFormV2>): Decoded {
  return {
    source: s.dedupe_source,
    webUrl: s.web_url,
    packit: s.packit,
    registration: s.registration,
    headers: s.headers,
    size: s.body.size,
    sha256: s.body.sha256,
    key: s.body.key,
  };
}

/** null when a header code is unknown or a packed value does not unpack. */
function fromV3(s: z.infer<typeof storedForm>): Decoded | null {
  const tokenId = s.T === undefined ? s.t : unpackUuid(s.T);
  const registration = s.r ?? (tokenId ? { kind: "project" as const, token_id: tokenId } : null);
  const sha = fromBase64(s.b[1]);
  if (!registration || sha?.length !== 32) {
    return null;
  }
  const headers: Decoded["headers"] = {};
  for (const [code, value] of Object.entries(s.h)) {
    const name = HEADER_NAMES.get(code.toLowerCase());
    const packed = code !== code.toLowerCase();
    const header = packed && typeof value === "string" ? unpackUuid(value) : value;
    if (!name || (packed && header === null)) {
      return null;
    }
    if (header !== 0) {
      headers[name] = header;
    }
  }
  const idempotencyKey = headers["idempotency-key"];
  if (s.h.wi === 0 && idempotencyKey) {
    headers["webhook-id"] = idempotencyKey;
  }
  return {
    source: s.d,
    webUrl: s.u,
    packit: s.p,
    registration,
    headers,
    size: s.b[0],
    sha256: toHex(sha),
    key: s.k,
  };
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
  const v3 = storedForm.safeParse(json);
  const v2 = v3.success ? null : storedFormV2.safeParse(json);
  const s = v3.success ? fromV3(v3.data) : v2?.success ? fromV2(v2.data) : null;
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
