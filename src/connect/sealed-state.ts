/**
 * What connect hands to the browser and gets back (lib/sealed.ts): the OAuth flow (PKCE
 * verifier, state nonce, what to connect) in an HttpOnly cookie, and a status ticket naming
 * one registration. A missing or broken ENCRYPTION_KEY is the relay's 503.
 */
import { z } from "zod";
import { AppError } from "../errors";
import { EncryptionKeyError } from "../lib/crypto";
import * as sealed from "../lib/sealed";

function unavailable(err: unknown): never {
  if (err instanceof EncryptionKeyError) {
    throw new AppError("unavailable", "ENCRYPTION_KEY is not configured", {}, { cause: err });
  }
  throw err;
}

export function seal(
  key: string | undefined,
  purpose: string,
  claims: Record<string, unknown>,
  ttlSeconds: number,
): Promise<string> {
  return sealed.seal(key, purpose, claims, ttlSeconds).catch(unavailable);
}

export function unseal<T>(
  key: string | undefined,
  purpose: string,
  value: string | undefined,
  schema: z.ZodType<T>,
): Promise<T | null> {
  return sealed.unseal(key, purpose, value, schema).catch(unavailable);
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
