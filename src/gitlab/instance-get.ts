/**
 * One GET to a registered instance's REST API with its own API token (the bot's): what the
 * relay's lookups share. Every way it can fail before GitLab answers is a 503 for the caller
 * to retry, saying what `what` could not be confirmed; never the token.
 */
import { AppError } from "../errors";
import { decrypt } from "../lib/crypto";
import { apiTokenContext } from "../lib/secret-contexts";
import { USER_AGENT } from "../version";

const TIMEOUT_MS = 5_000;

export type LookupInstance = { id: string; url: string; api_token_enc: string };
export type LookupDeps = {
  encryptionKey: string | undefined;
  fetcher: typeof fetch;
  now: () => number;
};

export function unconfirmed(what: string, reason: string, cause?: unknown): AppError {
  return new AppError(
    "unavailable",
    `GitLab could not confirm the ${what}: ${reason}`,
    { "Retry-After": "60" },
    { cause },
  );
}

export async function instanceGet(
  deps: LookupDeps,
  instance: LookupInstance,
  path: string,
  what: string,
): Promise<Response> {
  if (!instance.api_token_enc || !deps.encryptionKey) {
    throw unconfirmed(what, "the instance has no API token");
  }
  const token = await decrypt(
    deps.encryptionKey,
    instance.api_token_enc,
    apiTokenContext(instance.id),
  ).catch((err) => {
    throw unconfirmed(what, "the instance's API token cannot be decrypted", err);
  });
  try {
    return await deps.fetcher(`${instance.url}/api/v4${path}`, {
      headers: { "private-token": token, "user-agent": USER_AGENT, accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw unconfirmed(what, "GitLab is unreachable", err);
  }
}
