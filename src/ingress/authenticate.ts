/**
 * Who sent this webhook: a relay token, or a legacy packit JWT. A registration with a
 * signing secret also needs a valid GitLab 19 signature. Runs before the body is parsed.
 *
 * What a made-up token costs: a malformed one nothing; a tagged one one HMAC (its check tag
 * fails); an untagged one a SHA-256 and a look in the isolate's set of pre-tag token hashes.
 * None reads D1. Only a token that passes those is looked up (SHA-256, one indexed D1 read)
 * through a bounded cache of hits; misses are cached apart, so they never evict a hit.
 */
import type { Config } from "../config";
import { checkKeys, TOKEN_PREFIX, tagMatches, tokenShape } from "../domain/webhook-token";
import { AppError } from "../errors";
import { decrypt, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { log } from "../lib/logger";
import { signingSecretContext } from "../lib/secret-contexts";
import { importSigningKey, signingKeyBytes } from "../lib/standard-webhooks";
import { TtlCache } from "../lib/ttl-cache";
import type { ProjectsRepo, RegistrationRow } from "../storage/projects-repo";
import { type LegacyClaims, looksLikeJwt, verifyLegacyJwt } from "./legacy-jwt";
import { type SignatureHeaders, verifySignature } from "./signature";

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
 * Isolate-level caches of token lookups, so a warm isolate answers without D1. Entries live
 * 30 s: a revocation reaches every isolate within that time (and this one at once, see
 * `forgetTokens`). Expiry is checked on every use. Misses have their own cache.
 */
const tokenHits = new TtlCache<string, CachedToken>(4096, 30_000);
const tokenMisses = new TtlCache<string, true>(4096, 30_000);

/**
 * Hashes of the live tokens issued before check tags, loaded once per isolate and kept ten
 * minutes. No untagged token is ever issued again, so the set only shrinks; a token revoked
 * meanwhile still fails its D1 lookup.
 */
let untagged: { hashes: Set<string>; loadedAt: number } | null = null;
const UNTAGGED_TTL_MS = 10 * 60_000;

/** Drops cached lookups, e.g. after an admin revokes or rotates tokens in this isolate. */
export function forgetTokens(): void {
  tokenHits.clear();
  tokenMisses.clear();
  untagged = null;
}

function d1Unavailable(err: unknown): AppError {
  // A D1 outage is ours, not the sender's: ask GitLab to come back rather than fail hard.
  return new AppError(
    "unavailable",
    "the relay cannot authenticate right now",
    { "Retry-After": "30" },
    { cause: err },
  );
}

async function isUntaggedToken(
  hash: string,
  repo: Pick<ProjectsRepo, "untaggedTokenHashes">,
  now: number,
): Promise<boolean> {
  if (!untagged || now - untagged.loadedAt > UNTAGGED_TTL_MS) {
    try {
      untagged = { hashes: new Set(await repo.untaggedTokenHashes(now)), loadedAt: now };
    } catch (err) {
      throw d1Unavailable(err);
    }
  }
  return untagged.hashes.has(hash);
}

async function loadToken(
  hash: string,
  repo: Pick<ProjectsRepo, "findToken">,
  config: Config,
  now: number,
): Promise<CachedToken | null> {
  const hit = tokenHits.get(hash, now);
  if (hit !== undefined) {
    return hit;
  }
  if (tokenMisses.get(hash, now)) {
    return null;
  }
  let row: Awaited<ReturnType<ProjectsRepo["findToken"]>>;
  try {
    row = await repo.findToken(hash);
  } catch (err) {
    throw d1Unavailable(err);
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
      signingKey = await openSigningKey(config.ENCRYPTION_KEY, sealed, row.registration_id);
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
  if (entry) {
    tokenHits.set(hash, entry, now);
  } else {
    tokenMisses.set(hash, true, now);
  }
  return entry;
}

/**
 * The registration's signing key. A secret no configured ENCRYPTION_KEY opens (an old key
 * dropped before re-encryption) is the relay's fault, not the sender's: 503, never 500, and
 * the cause in the log.
 */
async function openSigningKey(keys: string, sealed: string, registrationId: string) {
  try {
    const bytes = signingKeyBytes(
      await decrypt(keys, sealed, signingSecretContext(registrationId)),
    );
    if (!bytes) {
      throw new Error("stored signing secret is not a whsec_ secret");
    }
    return await importSigningKey(bytes);
  } catch (err) {
    throw new AppError(
      "unavailable",
      "the relay cannot verify this hook's signature right now",
      { "Retry-After": "300" },
      { cause: err },
    );
  }
}

const UNAUTHORIZED = "missing or invalid X-Gitlab-Token";

export type AuthInput = {
  token: string | undefined;
  signature: SignatureHeaders;
};

export async function authenticate(
  input: AuthInput,
  deps: {
    repo: Pick<ProjectsRepo, "findToken" | "untaggedTokenHashes">;
    config: Config;
    now: number;
  },
): Promise<Principal> {
  const token = input.token?.trim();
  if (!token || token.length > 4096) {
    throw new AppError("unauthorized", UNAUTHORIZED);
  }
  if (token.startsWith(TOKEN_PREFIX)) {
    const shape = tokenShape(token);
    if (shape.kind === "malformed") {
      throw new AppError("unauthorized", UNAUTHORIZED);
    }
    if (shape.kind === "tagged") {
      const keys = checkKeys(deps.config.TOKEN_CHECK_KEY);
      if (keys.length === 0) {
        log("error", "TOKEN_CHECK_KEY is not configured: tagged tokens cannot be verified");
        throw new AppError("unavailable", "the relay cannot authenticate right now", {
          "Retry-After": "60",
        });
      }
      if (!(await tagMatches(keys, shape.random, shape.tag))) {
        throw new AppError("unauthorized", UNAUTHORIZED);
      }
    }
    const hash = await sha256Hex(token);
    if (shape.kind === "untagged" && !(await isUntaggedToken(hash, deps.repo, deps.now))) {
      throw new AppError("unauthorized", UNAUTHORIZED);
    }
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
