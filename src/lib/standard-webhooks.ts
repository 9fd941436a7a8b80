/**
 * Standard Webhooks primitives (https://www.standardwebhooks.com): `whsec_` secrets and the
 * v1 signature, HMAC-SHA256 over `{id}.{timestamp}.{body}`. Used to verify GitLab 19's signed
 * webhooks and to sign the normalized events the relay sends.
 */
import { fromBase64, toBase64, utf8 } from "./encoding";

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

/** The raw v1 HMAC over `{id}.{timestamp}.{body}`. */
export async function signatureBytes(
  key: CryptoKey,
  id: string,
  timestamp: string,
  body: Uint8Array,
): Promise<Uint8Array> {
  const prefix = utf8(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(prefix, 0);
  signed.set(body, prefix.byteLength);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
}

/** The three headers a Standard Webhooks receiver verifies. */
export async function signHeaders(
  key: CryptoKey,
  id: string,
  timestampSeconds: number,
  body: Uint8Array,
): Promise<Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>> {
  const timestamp = String(timestampSeconds);
  const signature = toBase64(await signatureBytes(key, id, timestamp, body));
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${signature}`,
  };
}
