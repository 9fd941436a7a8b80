/** How a stored webhook token is shown: its hint and state, never the token. */
import { isoOrNull } from "../lib/time";
import type { TokenRow } from "../storage/projects-repo";

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
