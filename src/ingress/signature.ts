/**
 * GitLab 19 webhook signing (Standard Webhooks): HMAC-SHA256 with the `whsec_` key over
 * `{webhook-id}.{webhook-timestamp}.{raw body}`, timestamp within five minutes.
 * Verified over the raw bytes, before the body is parsed.
 */
import { timingSafeEqual } from "../lib/crypto";
import { fromBase64, utf8 } from "../lib/encoding";

export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignatureHeaders = {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
};

export type SignatureCheck = "ok" | "missing" | "stale" | "invalid";

/** The HMAC key from a `whsec_<base64>` secret; null when the secret is malformed. */
export function signingKeyBytes(secret: string): Uint8Array<ArrayBuffer> | null {
  if (!secret.startsWith("whsec_")) {
    return null;
  }
  const bytes = fromBase64(secret.slice("whsec_".length));
  return bytes && bytes.byteLength >= 24 && bytes.byteLength <= 64 ? bytes : null;
}

export function importSigningKey(keyBytes: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
}

export async function verifySignature(
  key: CryptoKey,
  headers: SignatureHeaders,
  body: Uint8Array,
  nowSeconds: number,
): Promise<SignatureCheck> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    return "missing";
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    return "invalid";
  }
  if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
    return "stale";
  }
  const prefix = utf8(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(prefix, 0);
  signed.set(body, prefix.byteLength);
  const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  // The header may list several space-separated signatures (key rotation): any may match.
  let matched = false;
  for (const entry of signature.split(" ")) {
    const [version, value] = entry.split(",", 2);
    const candidate = version === "v1" && value ? fromBase64(value) : null;
    if (candidate && timingSafeEqual(candidate, expected)) {
      matched = true;
    }
  }
  return matched ? "ok" : "invalid";
}
