/**
 * The delivery log's stored form of a webhook message, encoded and decoded (v3, and v2 as
 * rows written before it hold): short keys, GitLab's UUIDs and the body's SHA-256 in
 * base64url. What goes into it and how a message is rebuilt: stored-message.ts.
 */
import { z } from "zod";
import { fromBase64, fromHex, toBase64Url, toHex } from "../lib/encoding";
import { type KEPT_HEADERS, type WebhookMessage, webhookMessage } from "./queue-message";

export type KeptHeader = (typeof KEPT_HEADERS)[number];
export type PackitRepo = { namespace: string; repo: string } | null;

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
export function packUuid(value: string): string | null {
  const bytes = UUID.test(value) ? fromHex(value.replaceAll("-", "")) : null;
  return bytes ? toBase64Url(bytes) : null;
}

function unpackUuid(packed: string): string | null {
  const bytes = fromBase64(packed);
  if (bytes?.length !== 16) {
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
export const HEADER_CODES = {
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

/** What a stored form says, decoded: v2 and v3 both read into it. */
export type Decoded = {
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

/** The stored form `json` holds (v3 or v2), decoded; null when it is neither. */
export function decodeStored(json: unknown): Decoded | null {
  const v3 = storedForm.safeParse(json);
  if (v3.success) {
    return fromV3(v3.data);
  }
  const v2 = storedFormV2.safeParse(json);
  return v2.success ? fromV2(v2.data) : null;
}
