/**
 * Asks GitLab which path a project id has now, or which id a path has (`GET /projects/:id`,
 * the path URL-encoded), with the instance's API token. Used where only GitLab can settle
 * who a project is: a registered project that was renamed, a project named by id only under
 * a namespace token, feedback for a project by path or under a registered namespace. Answers are cached
 * in the isolate (both kinds); failures are not, and surface as 503 for the caller to retry.
 */
import { z } from "zod";
import { log } from "../lib/logger";
import { TtlCache } from "../lib/ttl-cache";
import { instanceGet, type LookupDeps, type LookupInstance, unconfirmed } from "./instance-get";

export type { LookupInstance } from "./instance-get";

const projectAnswer = z.object({ id: z.number().int(), path_with_namespace: z.string().min(1) });

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

const unavailable = (reason: string) => unconfirmed("project", reason);

export function gitlabProjectLookup(deps: LookupDeps): ProjectLookup {
  return async (instance, project) => {
    const key = `${instance.id}|${instance.url}|${typeof project === "number" ? project : `path:${project.toLowerCase()}`}`;
    const cached = cache.get(key, deps.now());
    if (cached) {
      return cached;
    }
    const response = await instanceGet(
      deps,
      instance,
      `/projects/${encodeURIComponent(project)}`,
      "project",
    );
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
