/**
 * Values the relay hands to a browser or a client and gets back unchanged: JWE (jose, dir +
 * A256GCM) under a key derived from ENCRYPTION_KEY with HKDF for one purpose, so they can be
 * neither read nor forged nor used for another purpose, and they expire.
 */
import { EncryptJWT, jwtDecrypt } from "jose";
import type { z } from "zod";
import { EncryptionKeyError } from "./crypto";
import { fromBase64, utf8 } from "./encoding";

const keys = new Map<string, Promise<Uint8Array>>();

function derivedKey(encryptionKey: string | undefined, purpose: string): Promise<Uint8Array> {
  const first = encryptionKey?.split(",")[0]?.trim();
  const raw = first ? fromBase64(first) : null;
  if (raw?.byteLength !== 32) {
    throw new EncryptionKeyError("ENCRYPTION_KEY must be base64 of exactly 32 bytes");
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
  const key = await derivedKey(encryptionKey, purpose);
  try {
    const { payload } = await jwtDecrypt(value, key);
    const parsed = schema.safeParse(payload);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
