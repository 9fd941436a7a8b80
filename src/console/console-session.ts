/**
 * Signing in to the console: the ADMIN_TOKEN, typed once, is exchanged for a session cookie
 * (JWE under a key derived from ENCRYPTION_KEY; HttpOnly, SameSite=Strict, Path=/console, one
 * hour). The session names which admin token signed it in (a hash prefix), so rotating
 * ADMIN_TOKEN ends the sessions of the old one. It carries the CSRF token every form posts
 * back. Behind Cloudflare Access, a valid Cf-Access-Jwt-Assertion for ACCESS_AUD signs in.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { AppError } from "../errors";
import { EncryptionKeyError, randomBytes, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { toBase64Url } from "../lib/encoding";
import { seal, unseal } from "../lib/sealed";

export const SESSION_COOKIE = "console_session";
const SESSION_PURPOSE = "console-session";
export const SESSION_TTL_SECONDS = 3600;

const sessionClaims = z.object({ who: z.string(), kh: z.string(), csrf: z.string().min(20) });
export type Session = z.infer<typeof sessionClaims>;

function adminTokens(env: Env): string[] {
  return (readConfig(env).ADMIN_TOKEN ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

async function tokenHint(token: string): Promise<string> {
  return (await sha256Hex(token)).slice(0, 16);
}

function keyOf(env: Env): string | undefined {
  return readConfig(env).ENCRYPTION_KEY;
}

function sealingFailed(err: unknown): never {
  if (err instanceof EncryptionKeyError) {
    throw new AppError("unavailable", "ENCRYPTION_KEY is not configured", {}, { cause: err });
  }
  throw err;
}

/** The admin token typed on the sign-in page, if it is one of ADMIN_TOKEN's (constant time). */
export async function matchAdminToken(env: Env, typed: string): Promise<string | null> {
  let match: string | null = null;
  for (const token of adminTokens(env)) {
    if (timingSafeEqual(typed, token)) {
      match = token;
    }
  }
  return match;
}

export async function startSession<E extends AppEnv>(
  c: Context<E>,
  who: string,
  adminToken: string | null,
): Promise<Session> {
  const session: Session = {
    who,
    kh: adminToken ? await tokenHint(adminToken) : "access",
    csrf: toBase64Url(randomBytes(24)),
  };
  const value = await seal(keyOf(c.env), SESSION_PURPOSE, session, SESSION_TTL_SECONDS).catch(
    sealingFailed,
  );
  setCookie(c, SESSION_COOKIE, value, {
    httpOnly: true,
    secure: new URL(c.req.url).protocol === "https:",
    sameSite: "Strict",
    path: "/console",
    maxAge: SESSION_TTL_SECONDS,
  });
  return session;
}

export function endSession<E extends AppEnv>(c: Context<E>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/console" });
}

/** The signed-in session, or null (no cookie, forged, expired, or its admin token rotated out). */
export async function currentSession<E extends AppEnv>(c: Context<E>): Promise<Session | null> {
  const session = await unseal(
    keyOf(c.env),
    SESSION_PURPOSE,
    getCookie(c, SESSION_COOKIE),
    sessionClaims,
  ).catch(sealingFailed);
  if (!session) {
    return null;
  }
  if (session.kh === "access") {
    return (await accessIdentity(c)) ? session : null;
  }
  for (const token of adminTokens(c.env)) {
    if (timingSafeEqual(await tokenHint(token), session.kh)) {
      return session;
    }
  }
  return null;
}

const jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * Cloudflare Access in front of the console: the Cf-Access-Jwt-Assertion header, verified
 * against the team's keys (ACCESS_TEAM_DOMAIN, e.g. https://team.cloudflareaccess.com) and
 * audience (ACCESS_AUD). Null when Access is not configured or the assertion does not verify.
 */
export async function accessIdentity<E extends AppEnv>(c: Context<E>): Promise<string | null> {
  const config = readConfig(c.env);
  const assertion = c.req.header("cf-access-jwt-assertion");
  if (!config.ACCESS_TEAM_DOMAIN || !config.ACCESS_AUD || !assertion) {
    return null;
  }
  const team = config.ACCESS_TEAM_DOMAIN.replace(/\/+$/, "");
  let keys = jwks.get(team);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(`${team}/cdn-cgi/access/certs`));
    jwks.set(team, keys);
  }
  try {
    const { payload } = await jwtVerify(assertion, keys, {
      audience: config.ACCESS_AUD,
      issuer: team,
      algorithms: ["RS256"],
    });
    return typeof payload.email === "string" ? payload.email : (payload.sub ?? "access");
  } catch {
    return null;
  }
}

/** A state-changing form must carry the session's CSRF token. */
export function requireCsrf(session: Session, posted: unknown): void {
  if (typeof posted !== "string" || !timingSafeEqual(posted, session.csrf)) {
    throw new AppError("forbidden", "the form expired or did not come from the console: reload it");
  }
}
