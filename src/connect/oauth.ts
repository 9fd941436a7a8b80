/**
 * Signing in with GitLab (OAuth 2 authorization code with PKCE S256, scope api) on instances
 * where ops registered an OAuth application. The access token is used for one connect and
 * revoked at its end; neither it nor the code is stored or logged.
 */
import { z } from "zod";
import { AppError } from "../errors";
import { decrypt, randomBytes } from "../lib/crypto";
import { toBase64Url, utf8 } from "../lib/encoding";
import { log } from "../lib/logger";
import { oauthSecretContext } from "../lib/secret-contexts";
import type { InstanceRow } from "../storage/instances-repo";
import { USER_AGENT } from "../version";

export type OauthApp = { clientId: string; clientSecret: string };

export async function oauthApp(
  encryptionKey: string | undefined,
  instance: InstanceRow,
): Promise<OauthApp | null> {
  if (!instance.oauth_client_id || !instance.oauth_client_secret_enc || !encryptionKey) {
    return null;
  }
  const secret = await decrypt(
    encryptionKey,
    instance.oauth_client_secret_enc,
    oauthSecretContext(instance.id),
  ).catch(() => null);
  return secret === null ? null : { clientId: instance.oauth_client_id, clientSecret: secret };
}

export async function pkce(): Promise<{ verifier: string; challenge: string; state: string }> {
  const verifier = toBase64Url(randomBytes(32));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(verifier)));
  return { verifier, challenge: toBase64Url(digest), state: toBase64Url(randomBytes(24)) };
}

export function authorizeUrl(
  instance: InstanceRow,
  app: OauthApp,
  redirectUri: string,
  flow: { state: string; challenge: string },
): string {
  const url = new URL(`${instance.url}/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: app.clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: "api",
    state: flow.state,
    code_challenge: flow.challenge,
    code_challenge_method: "S256",
  }).toString();
  return url.href;
}

const tokenAnswer = z.object({ access_token: z.string().min(1) });

export async function exchangeCode(
  fetcher: typeof fetch,
  instance: InstanceRow,
  app: OauthApp,
  input: { code: string; redirectUri: string; verifier: string },
): Promise<string> {
  const response = await post(fetcher, `${instance.url}/oauth/token`, {
    client_id: app.clientId,
    client_secret: app.clientSecret,
    code: input.code,
    grant_type: "authorization_code",
    redirect_uri: input.redirectUri,
    code_verifier: input.verifier,
  });
  if (response.status >= 500 || response.status === 429) {
    throw new AppError("unavailable", `GitLab answered ${response.status} to the sign-in`, {
      "Retry-After": "60",
    });
  }
  const parsed = tokenAnswer.safeParse(await response.json().catch(() => null));
  if (!response.ok || !parsed.success) {
    throw new AppError(
      "bad_request",
      "GitLab did not accept the sign-in (the code expired or was used already): start again",
    );
  }
  return parsed.data.access_token;
}

/** Best effort: a token left unrevoked still expires within two hours. */
export async function revokeToken(
  fetcher: typeof fetch,
  instance: InstanceRow,
  app: OauthApp,
  token: string,
): Promise<void> {
  try {
    const response = await post(fetcher, `${instance.url}/oauth/revoke`, {
      client_id: app.clientId,
      client_secret: app.clientSecret,
      token,
    });
    await response.body?.cancel();
    if (!response.ok) {
      log("warn", "GitLab did not revoke the connect OAuth token", {
        instance_url: instance.url,
        status_code: response.status,
      });
    }
  } catch (err) {
    log("warn", "GitLab did not revoke the connect OAuth token", {
      instance_url: instance.url,
      error: String(err),
    });
  }
}

async function post(fetcher: typeof fetch, url: string, form: Record<string, string>) {
  try {
    return await fetcher(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        "user-agent": USER_AGENT,
      },
      body: new URLSearchParams(form).toString(),
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new AppError(
      "unavailable",
      "GitLab did not answer the sign-in; try again",
      {
        "Retry-After": "60",
      },
      { cause: err },
    );
  }
}
