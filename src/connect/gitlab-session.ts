/**
 * GitLab's REST API as one credential sees it: the maintainer's (an access token pasted once,
 * or an OAuth token) or the bot's (the instance API token). Failures that no step can recover
 * from become errors here, named for the person reading them: a refused token (401), rate
 * limiting (429, with GitLab's own wait), GitLab down or unreachable (503). Every other status
 * is the caller's to read. The credential is never logged nor put in an error.
 */
import { z } from "zod";
import { AppError } from "../errors";
import { parseRetryAfter } from "../lib/backoff";
import { USER_AGENT } from "../version";

const TIMEOUT_MS = 10_000;

export type GitlabReply = { status: number; body: unknown; next: string | null };
export type GitlabSession = {
  readonly instanceUrl: string;
  call(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: object,
  ): Promise<GitlabReply>;
};

/** Whose credential a session carries, for the message when GitLab refuses it. */
export type CredentialOwner = "maintainer" | "bot";

const REFUSED: Record<CredentialOwner, string> = {
  maintainer:
    "GitLab refused the access token: it is expired, revoked or mistyped. Create a new one with the api scope",
  bot: "GitLab refused the instance's API token (the bot's): ops must replace it with relayctl instances update",
};

export function gitlabSession(options: {
  instanceUrl: string;
  credential: string;
  owner: CredentialOwner;
  fetcher: typeof fetch;
  now: () => number;
}): GitlabSession {
  const { instanceUrl, credential, owner, fetcher, now } = options;
  return {
    instanceUrl,
    async call(method, path, body) {
      let response: Response;
      try {
        response = await fetcher(`${instanceUrl}/api/v4${path}`, {
          method,
          headers: {
            authorization: `Bearer ${credential}`,
            accept: "application/json",
            "user-agent": USER_AGENT,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
          redirect: "manual",
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new AppError(
          "unavailable",
          `GitLab at ${instanceUrl} did not answer; try again in a minute`,
          { "Retry-After": "60" },
          { cause: err },
        );
      }
      const text = await response.text().catch(() => "");
      if (response.status === 401) {
        throw new AppError("unauthorized", REFUSED[owner]);
      }
      if (response.status === 429) {
        const wait = rateLimitWait(response.headers, now());
        throw new AppError(
          "too_many_requests",
          `GitLab is rate-limiting these requests; try again in ${wait} seconds`,
          { "Retry-After": String(wait) },
        );
      }
      if (response.status >= 500) {
        throw new AppError(
          "unavailable",
          `GitLab at ${instanceUrl} answered ${response.status}; try again in a minute`,
          { "Retry-After": "60" },
        );
      }
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: response.status, body: parsed, next: response.headers.get("x-next-page") };
    },
  };
}

/** Retry-After, else RateLimit-Reset, else a minute (reference/gitlab.md §3.7). */
function rateLimitWait(headers: Headers, nowMs: number): number {
  const after = parseRetryAfter(headers.get("retry-after"), nowMs);
  if (after !== null) {
    return Math.max(1, after);
  }
  const reset = headers.get("ratelimit-reset");
  if (reset && /^\d+$/.test(reset)) {
    return Math.max(1, Math.ceil((Number(reset) * 1000 - nowMs) / 1000));
  }
  return 60;
}

const gitlabMessage = z.object({ message: z.unknown() }).or(z.object({ error: z.unknown() }));

/** GitLab's own words from an error answer, short and on one line. */
export function messageOf(reply: GitlabReply): string {
  const parsed = gitlabMessage.safeParse(reply.body);
  if (!parsed.success) {
    return `GitLab answered ${reply.status}`;
  }
  const raw = "message" in parsed.data ? parsed.data.message : parsed.data.error;
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  return text.replace(/\s+/g, " ").slice(0, 300);
}

/** A 2xx answer read with `schema`, else an error saying what GitLab answered. */
export function expectOk<T>(reply: GitlabReply, schema: z.ZodType<T>, what: string): T {
  if (reply.status < 200 || reply.status > 299) {
    throw new AppError(
      reply.status === 403 ? "forbidden" : reply.status === 404 ? "not_found" : "bad_request",
      `${what}: ${messageOf(reply)}`,
    );
  }
  const parsed = schema.safeParse(reply.body);
  if (!parsed.success) {
    throw new AppError("unavailable", `${what}: GitLab's answer is not what its API documents`, {
      "Retry-After": "60",
    });
  }
  return parsed.data;
}
