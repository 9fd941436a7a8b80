/**
 * Which project a merge request's source branch lives in (`GET /projects/:id/merge_requests/
 * :iid`, with the instance's API token): how feedback knows that a fork is the source of a
 * registered project's merge request. Answers are cached in the isolate; failures surface
 * as 503 for the caller to retry.
 */
import { z } from "zod";
import { TtlCache } from "../lib/ttl-cache";
import { instanceGet, type LookupDeps, type LookupInstance, unconfirmed } from "./instance-get";

const answerSchema = z.object({
  iid: z.number().int(),
  project_id: z.number().int(),
  source_project_id: z.number().int(),
});
const cache = new TtlCache<string, number | null>(2048, 10 * 60_000);

export type MergeRequestSource = (
  instance: LookupInstance,
  projectId: number,
  iid: number,
) => Promise<number | null>;

export function gitlabMergeRequestSource(deps: LookupDeps): MergeRequestSource {
  return async (instance, projectId, iid) => {
    const key = `${instance.id}|${instance.url}|${projectId}|${iid}`;
    const cached = cache.get(key, deps.now());
    if (cached !== undefined) {
      return cached;
    }
    const response = await instanceGet(
      deps,
      instance,
      `/projects/${projectId}/merge_requests/${iid}`,
      "merge request",
    );
    const unavailable = (reason: string) => unconfirmed("merge request", reason);
    if (response.status === 404) {
      await response.body?.cancel();
      cache.set(key, null, deps.now());
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable(`GitLab answered ${response.status}`);
    }
    const parsed = answerSchema.safeParse(await response.json().catch(() => null));
    if (!parsed.success || parsed.data.iid !== iid || parsed.data.project_id !== projectId) {
      throw unavailable("GitLab's answer is not that merge request");
    }
    cache.set(key, parsed.data.source_project_id, deps.now());
    return parsed.data.source_project_id;
  };
}
