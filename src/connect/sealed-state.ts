/**
 * State the connect flow hands to the browser and gets back: the OAuth flow (PKCE verifier,
 * state nonce, what to connect) in an HttpOnly cookie, and a status ticket naming one
 * registration. Both are JWE (jose, dir + A256GCM) under a key derived from ENCRYPTION_KEY
 * with HKDF, so the browser can neither read nor forge them, and both expire.
 */
import { EncryptJWT, jwtDecrypt } from "jose";
import { z } from "zod";
import { AppError } from "../errors";
import { fromBase64, utf8 } from "../lib/encoding";

const keys = new Map<string, Promise<Uint8Array>>();

function derivedKey(encryptionKey: string | undefined, purpose: string): Promise<Uint8Array> {
  const first = encryptionKey?.split(",")[0]?.trim();
  const raw = first ? fromBase64(first) : null;
  if (raw?.byteLength !== 32) {
    throw new AppError("unavailable", "ENCRYPTION_KEY is not configured");
  }
  const id = `${first}|${purpose}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", raw, "HKDF", false, ["deriveBits"])
      .then((base) =>
        crypto.subtle.deriveBits(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: utf8(purpose) },
          base,
          256,
        ),
      )
      .then((bits) => new Uint8Array(bits));
    keys.set(id, key);
  }
  return key;
}

export async function seal(
  encryptionKey: string | undefined,
  purpose: string,
  claims: Record<string, unknown>,
  ttlSeconds: number,
): Promise<string> {
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .encrypt(await derivedKey(encryptionKey, purpose));
}

/** The claims, or null when the value is forged, for another purpose, or expired. */
export async function unseal<T>(
  encryptionKey: string | undefined,
  purpose: string,
  value: string | undefined,
  schema: z.ZodType<T>,
): Promise<T | null> {
  if (!value) {
    return null;
  }
  try {
    const { payload } = await jwtDecrypt(value, await derivedKey(encryptionKey, purpose));
    const parsed = schema.safeParse(payload);
    return parsed.success ? parsed.data : null;
  } catch (err) {
    if (err instanceof AppError) {
      throw err;
    }
    return null;
  }
}

export const flowClaims = z.object({
  state: z.string().min(16),
  verifier: z.string().min(43),
  url: z.string(),
  grant_bot: z.boolean(),
  instance_id: z.string(),
});
export type FlowClaims = z.infer<typeof flowClaims>;
export const FLOW_PURPOSE = "connect-oauth-flow";

export const ticketClaims = z.object({ rid: z.string() });
export const TICKET_PURPOSE = "connect-status-ticket";
