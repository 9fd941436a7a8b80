/**
 * Who sent this webhook: a relay token (SHA-256 looked up in D1 through a bounded
 * in-isolate cache), or a legacy packit JWT. A registration with a signing secret also
 * needs a valid GitLab 19 signature. Runs before the body is parsed.
 */
import type { Config } from "../config";
import { AppError } from "../errors";
import { decrypt, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { log } from "../lib/logger";
import { importSigningKey, signingKeyBytes } from "../lib/standard-webhooks";
import { TtlCache } from "../lib/ttl-cache";
import type { ProjectsRepo, RegistrationRow } from "../storage/projects-repo";
import { signingSecretContext } from "../storage/secret-contexts";
import { type LegacyClaims, looksLikeJwt, verifyLegacyJwt } from "./legacy-jwt";
import { type SignatureHeaders, verifySignature } from "./signature";

export const TOKEN_PREFIX = "pgr_";

export type TokenPrincipal = {
  kind: "token";
  tokenId: string;
  registration: RegistrationRow;
  signingKey: CryptoKey | null;
};
export type LegacyPrincipal = { kind: "legacy_jwt"; claims: LegacyClaims };
export type Principal = TokenPrincipal | LegacyPrincipal;

type CachedToken = {
  tokenId: string;
  hash: string;
  expiresAt: number | null;
  revokedAt: number | null;
  registration: RegistrationRow;
  signingKey: CryptoKey | null;
};

/**
 * Isolate-level cache of token lookups, misses included, so a warm isolate answers
 * without D1. Entries live 30 s: a revocation reaches every isolate within that time
 * (and this one at once, see `forgetTokens`). Expiry is checked on every use.
 */
const tokenCache = new TtlCache<string, CachedToken | null>(4096, 30_000);

/** Drops cached lookups, e.g. after an admin revokes or rotates tokens in this isolate. */
export function forgetTokens(): void {
  tokenCache.clear();
}

async function loadToken(
  hash: string,
  repo: Pick<ProjectsRepo, "findToken">,
  config: Config,
  now: number,
): Promise<CachedToken | null> {
  const cached = tokenCache.get(hash, now);
  if (cached !== undefined) {
    return cached;
  }
  let row: Awaited<ReturnType<ProjectsRepo["findToken"]>>;
  try {
    row = await repo.findToken(hash);
  } catch (err) {
    // A D1 outage is ours, not the sender's: ask GitLab to come back rather than fail hard.
    log("error", "token lookup failed", { error: String(err) });
    throw new AppError("unavailable", "the relay cannot authenticate right now", {
      "Retry-After": "30",
    });
  }
  let entry: CachedToken | null = null;
  if (row) {
    let signingKey: CryptoKey | null = null;
    const sealed = row.registration.signing_secret_enc;
    if (sealed) {
      if (!config.ENCRYPTION_KEY) {
        throw new AppError("unavailable", "the relay cannot verify signatures right now", {
          "Retry-After": "60",
        });
      }
      const secret = await decrypt(
        config.ENCRYPTION_KEY,
        sealed,
        signingSecretContext(row.project_id),
      );
      const bytes = signingKeyBytes(secret);
      if (!bytes) {
        throw new Error("stored signing secret is malformed");
      }
      signingKey = await importSigningKey(bytes);
    }
    entry = {
      tokenId: row.id,
      hash: row.hash,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      registration: row.registration,
      signingKey,
    };
  }
  tokenCache.set(hash, entry, now);
  return entry;
}

const UNAUTHORIZED = "missing or invalid X-Gitlab-Token";

export type AuthInput = {
  token: string | undefined;
  signature: SignatureHeaders;
};

export async function authenticate(
  input: AuthInput,
  deps: { repo: Pick<ProjectsRepo, "findToken">; config: Config; now: number },
): Promise<Principal> {
  const token = input.token?.trim();
  if (!token || token.length > 4096) {
    throw new AppError("unauthorized", UNAUTHORIZED);
  }
  if (token.startsWith(TOKEN_PREFIX)) {
    const hash = await sha256Hex(token);
    const entry = await loadToken(hash, deps.repo, deps.config, deps.now);
    if (
      !entry ||
      !timingSafeEqual(entry.hash, hash) ||
      entry.revokedAt !== null ||
      (entry.expiresAt !== null && entry.expiresAt <= deps.now)
    ) {
      throw new AppError("unauthorized", UNAUTHORIZED);
    }
    return {
      kind: "token",
      tokenId: entry.tokenId,
      registration: entry.registration,
      signingKey: entry.signingKey,
    };
  }
  const secret = deps.config.PACKIT_GITLAB_TOKEN_SECRET;
  if (secret && looksLikeJwt(token)) {
    const claims = await verifyLegacyJwt(token, secret);
    if (claims) {
      return { kind: "legacy_jwt", claims };
    }
  }
  throw new AppError("unauthorized", UNAUTHORIZED);
}

/** With a signing secret registered, only a signed, fresh, matching request passes. */
export async function checkSignature(
  principal: Principal,
  headers: SignatureHeaders,
  body: Uint8Array,
  nowMs: number,
): Promise<void> {
  if (principal.kind !== "token" || !principal.signingKey) {
    return;
  }
  const result = await verifySignature(
    principal.signingKey,
    headers,
    body,
    Math.floor(nowMs / 1000),
  );
  if (result === "missing") {
    throw new AppError("unauthorized", "this registration requires a signed webhook");
  }
  if (result === "stale") {
    throw new AppError("unauthorized", "webhook-timestamp is outside the allowed window");
  }
  if (result === "invalid") {
    throw new AppError("unauthorized", "webhook-signature does not match");
  }
}
