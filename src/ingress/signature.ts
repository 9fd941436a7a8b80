/**
 * GitLab 19 webhook signing (Standard Webhooks): HMAC-SHA256 with the `whsec_` key over
 * `{webhook-id}.{webhook-timestamp}.{raw body}`, timestamp within five minutes.
 * Verified over the raw bytes, before the body is parsed.
 */
import { timingSafeEqual } from "../lib/crypto";
import { fromBase64 } from "../lib/encoding";
import { signatureBytes } from "../lib/standard-webhooks";

export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignatureHeaders = {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
};

export type SignatureCheck = "ok" | "missing" | "stale" | "invalid";

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
  const expected = await signatureBytes(key, id, timestamp, body);
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
