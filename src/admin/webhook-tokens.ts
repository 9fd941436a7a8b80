/** Minting webhook tokens (shown once, stored as SHA-256) and describing stored ones. */
import { AppError } from "../errors";
import { checkKeys, newWebhookToken } from "../ingress/webhook-token";
import { sha256Hex } from "../lib/crypto";
import { isoOrNull } from "../lib/time";
import type { TokenRow } from "../storage/projects-repo";

export async function mintToken(
  projectId: string,
  now: number,
  tokenCheckKey: string | undefined,
): Promise<{ token: string; row: TokenRow }> {
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

export function describeToken(row: TokenRow, now: number) {
  const state =
    row.revoked_at !== null
      ? "revoked"
      : row.expires_at === null
        ? "active"
        : row.expires_at > now
          ? "grace"
          : "expired";
  return {
    id: row.id,
    hint: row.hint,
    state,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: isoOrNull(row.expires_at),
    revoked_at: isoOrNull(row.revoked_at),
    last_used_at: isoOrNull(row.last_used_at),
  } as const;
}
