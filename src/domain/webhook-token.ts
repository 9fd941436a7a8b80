/**
 * The relay's webhook tokens: `pgr_`, 32 random bytes (base64url, 43 characters), then a
 * check tag: the first 64 bits of HMAC-SHA256(TOKEN_CHECK_KEY, random part), base64url
 * (11 characters). The tag is verified in constant time before anything else, so a made-up
 * token is refused without hashing it or reading D1. Tokens issued before tags existed
 * (`pgr_` + 43 characters) keep working; see `LegacyTokenIndex`.
 */
import { AppError } from "../errors";
import { sha256Hex, timingSafeEqual } from "../lib/crypto";
import { toBase64Url, utf8 } from "../lib/encoding";

export const TOKEN_PREFIX = "pgr_";
const RANDOM_CHARS = 43;
const TAG_CHARS = 11;
const B64URL = /^[A-Za-z0-9_-]+$/;

export type TokenShape =
  | { kind: "tagged"; random: string; tag: string }
  | { kind: "untagged" }
  | { kind: "malformed" };

/** What a `pgr_` token looks like, from its text alone. */
export function tokenShape(token: string): TokenShape {
  const body = token.slice(TOKEN_PREFIX.length);
  if (!token.startsWith(TOKEN_PREFIX) || !B64URL.test(body)) {
    return { kind: "malformed" };
  }
  if (body.length === RANDOM_CHARS + TAG_CHARS) {
    return { kind: "tagged", random: body.slice(0, RANDOM_CHARS), tag: body.slice(RANDOM_CHARS) };
  }
  return body.length === RANDOM_CHARS ? { kind: "untagged" } : { kind: "malformed" };
}

/** A key shorter than this is ignored (and so is "not configured"): it could be guessed. */
export const MIN_CHECK_KEY_CHARS = 32;

/**
 * TOKEN_CHECK_KEY may list several keys (rotation): the first tags, any verifies. Keys
 * shorter than 32 characters are not used.
 */
export function checkKeys(setting: string | undefined): string[] {
  return (setting ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length >= MIN_CHECK_KEY_CHARS);
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(key: string): Promise<CryptoKey> {
  let imported = hmacKeys.get(key);
  if (!imported) {
    imported = crypto.subtle.importKey(
      "raw",
      utf8(`pgr-token-check\n${key}`),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    hmacKeys.set(key, imported);
  }
  return imported;
}

async function tagOf(key: string, random: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), utf8(random));
  return toBase64Url(new Uint8Array(mac).slice(0, 8));
}

/** Whether the tag was made with one of `keys`; every key is tried (no early exit). */
export async function tagMatches(keys: string[], random: string, tag: string): Promise<boolean> {
  let matched = false;
  for (const key of keys) {
    if (timingSafeEqual(await tagOf(key, random), tag)) {
      matched = true;
    }
  }
  return matched;
}

/** A new token: 256 random bits and the check tag under the first key. */
export async function newWebhookToken(keys: string[]): Promise<string> {
  const key = keys[0];
  if (!key) {
    throw new Error("TOKEN_CHECK_KEY is not set");
  }
  const random = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return `${TOKEN_PREFIX}${random}${await tagOf(key, random)}`;
}

/** A token as stored: its SHA-256 and a hint, never the token itself. */
export type NewTokenRow = {
  id: string;
  registration_id: string;
  hash: string;
  hint: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  format: number;
};

/** A fresh token for a registration: the token (shown once) and the row to store. */
export async function mintToken(
  projectId: string,
  now: number,
  tokenCheckKey: string | undefined,
): Promise<{ token: string; row: NewTokenRow }> {
  const keys = checkKeys(tokenCheckKey);
  if (keys.length === 0) {
    throw new AppError(
      "unavailable",
      "TOKEN_CHECK_KEY is not configured (a secret of at least 32 characters)",
    );
  }
  const token = await newWebhookToken(keys);
  return {
    token,
    row: {
      id: crypto.randomUUID(),
      registration_id: projectId,
      hash: await sha256Hex(token),
      hint: `${token.slice(0, 8)}…${token.slice(-4)}`,
      created_at: now,
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      format: 2,
    },
  };
}
