/**
 * Asks GitLab which path a project id has now, or which id a path has (`GET /projects/:id`,
 * the path URL-encoded), with the instance's API token. Used where only GitLab can settle who a project is: a registered project that
 * was renamed, and feedback for a project under a registered namespace. Answers are cached
 * in the isolate (both kinds); failures are not, and surface as 503 for the caller to retry.
 */
import { z } from "zod";
import { AppError } from "../errors";
import { decrypt } from "../lib/crypto";
import { log } from "../lib/logger";
import { apiTokenContext } from "../lib/secret-contexts";
import { TtlCache } from "../lib/ttl-cache";
import { USER_AGENT } from "../version";

const LOOKUP_TIMEOUT_MS = 5_000;
const projectAnswer = z.object({ id: z.number().int(), path_with_namespace: z.string().min(1) });

export type LookupInstance = { id: string; url: string; api_token_enc: string };
export type ProjectPath = { found: true; path: string; id: number } | { found: false };
/**
 * GitLab's answer for a project id, or for a full path (GitLab takes either, the path
 * URL-encoded): its id and current path.
 */
export type ProjectLookup = (
  instance: LookupInstance,
  project: number | string,
) => Promise<ProjectPath>;

const cache = new TtlCache<string, ProjectPath>(2048, 10 * 60_000);

export function forgetProjectPaths(): void {
  cache.clear();
}

function unavailable(reason: string, cause?: unknown): AppError {
  return new AppError(
    "unavailable",
    `GitLab could not confirm the project: ${reason}`,
    { "Retry-After": "60" },
    { cause },
  );
}

export function gitlabProjectLookup(deps: {
  encryptionKey: string | undefined;
  fetcher: typeof fetch;
  now: () => number;
}): ProjectLookup {
  return async (instance, project) => {
    const key = `${instance.id}|${instance.url}|${typeof project === "number" ? project : `path:${project.toLowerCase()}`}`;
    const cached = cache.get(key, deps.now());
    if (cached) {
      return cached;
    }
    if (!instance.api_token_enc || !deps.encryptionKey) {
      throw unavailable("the instance has no API token");
    }
    const token = await decrypt(
      deps.encryptionKey,
      instance.api_token_enc,
      apiTokenContext(instance.id),
    ).catch((err) => {
      throw unavailable("the instance's API token cannot be decrypted", err);
    });
    let response: Response;
    try {
      response = await deps.fetcher(
        `${instance.url}/api/v4/projects/${encodeURIComponent(project)}`,
        {
          headers: { "private-token": token, "user-agent": USER_AGENT, accept: "application/json" },
          redirect: "manual",
          signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
        },
      );
    } catch (err) {
      throw unavailable("GitLab is unreachable", err);
    }
    let answer: ProjectPath;
    if (response.status === 404) {
      await response.body?.cancel();
      answer = { found: false };
    } else if (response.ok) {
      const parsed = projectAnswer.safeParse(await response.json().catch(() => null));
      // By path, GitLab also follows a renamed project's old path: its answer decides.
      const matches = parsed.success && (typeof project === "string" || parsed.data.id === project);
      if (!parsed.success || !matches) {
        throw unavailable("GitLab's answer is not that project");
      }
      answer = { found: true, path: parsed.data.path_with_namespace, id: parsed.data.id };
    } else {
      await response.body?.cancel();
      log("warn", "GitLab project lookup refused", {
        instance_url: instance.url,
        status_code: response.status,
      });
      throw unavailable(`GitLab answered ${response.status}`);
    }
    cache.set(key, answer, deps.now());
    return answer;
  };
}
