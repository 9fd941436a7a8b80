/**
 * packit-service's GitLab tokens: HS256 JWTs signed with its `gitlab_token_secret`,
 * claims `namespace` and optional `repo_name`, no expiry. Accepted so existing hooks keep
 * working when the relay takes over packit-service's route.
 */
import { jwtVerify } from "jose";
import { z } from "zod";
import { utf8 } from "../lib/encoding";

const claimsSchema = z.object({
  namespace: z.string().min(1).max(512),
  repo_name: z.string().min(1).max(512).nullish(),
});
export type LegacyClaims = z.infer<typeof claimsSchema>;

export function looksLikeJwt(token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** The token's claims when its HS256 signature verifies, else null. */
export async function verifyLegacyJwt(token: string, secret: string): Promise<LegacyClaims | null> {
  try {
    const { payload } = await jwtVerify(token, utf8(secret), { algorithms: ["HS256"] });
    const claims = claimsSchema.safeParse(payload);
    return claims.success ? claims.data : null;
  } catch {
    return null;
  }
}
