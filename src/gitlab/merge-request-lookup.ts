/**
 * Which project a merge request's source branch lives in (`GET /projects/:id/merge_requests/
 * :iid`, with the instance's API token): how feedback knows that a fork is the source of a
 * registered project's merge request. Answers are cached in the isolate; failures surface
 * as 503 for the caller to retry.
 */
import { z } from "zod";
import { AppError } from "../errors";
import { decrypt } from "../lib/crypto";
import { apiTokenContext } from "../lib/secret-contexts";
import { TtlCache } from "../lib/ttl-cache";
import { USER_AGENT } from "../version";
import type { LookupInstance } from "./project-lookup";

const TIMEOUT_MS = 5_000;
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

export function gitlabMergeRequestSource(deps: {
  encryptionKey: string | undefined;
  fetcher: typeof fetch;
  now: () => number;
}): MergeRequestSource {
  return async (instance, projectId, iid) => {
    const key = `${instance.id}|${instance.url}|${projectId}|${iid}`;
    const cached = cache.get(key, deps.now());
    if (cached !== undefined) {
      return cached;
    }
    const unavailable = (reason: string, cause?: unknown) =>
      new AppError(
        "unavailable",
        `GitLab could not confirm the merge request: ${reason}`,
        { "Retry-After": "60" },
        { cause },
      );
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
        `${instance.url}/api/v4/projects/${projectId}/merge_requests/${iid}`,
        {
          headers: { "private-token": token, "user-agent": USER_AGENT, accept: "application/json" },
          redirect: "manual",
          signal: AbortSignal.timeout(TIMEOUT_MS),
        },
      );
    } catch (err) {
      throw unavailable("GitLab is unreachable", err);
    }
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
