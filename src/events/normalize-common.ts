/**
 * What every normalizer shares: the event's common fields, the actor, and the small readers
 * for GitLab's refs and SHAs. Pure.
 */
import type { RelayedKind } from "../gitlab/event-kinds";
import { at, s } from "./lenient-read";
import {
  type EventBase,
  NORMALIZED_SCHEMA_VERSION,
  type NormalizedEvent,
} from "./normalized-event";

export type NormalizeInput = {
  kind: RelayedKind;
  gitlabEvent: string;
  payload: unknown;
  dedupeKey: string;
  instanceUrl: string | null;
  project: { id: number | null; path: string | null; web_url: string | null };
  receivedAt: number;
  botUsernames: readonly string[];
};

export type NormalizeResult =
  | { outcome: "event"; event: NormalizedEvent }
  | { outcome: "skip"; reason: string }
  | { outcome: "reject"; reason: string };

export const isZeroSha = (sha: string | null) => sha !== null && /^0+$/.test(sha);

export function strip(ref: string, prefix: string): string | null {
  return ref.startsWith(prefix) ? ref.slice(prefix.length) : null;
}

export function actor(payload: unknown) {
  const user = at(payload, "user");
  return {
    username: s(user, "username") ?? s(payload, "user_username"),
    name: s(user, "name") ?? s(payload, "user_name"),
  };
}

export function common(input: NormalizeInput, occurredAt: string | null): EventBase {
  return {
    schema_version: NORMALIZED_SCHEMA_VERSION,
    dedupe_key: input.dedupeKey,
    gitlab_event: input.gitlabEvent,
    instance_url: input.instanceUrl,
    project: input.project,
    actor: actor(input.payload),
    occurred_at: occurredAt,
    received_at: new Date(input.receivedAt).toISOString(),
  };
}

/**
 * One side of a merge request: the project (id, path, web URL: a fork's, for the source) and
 * the branch. `side` is `object_attributes.source` / `.target` (or the note's
 * `merge_request.source` / `.target`), absent on older GitLab.
 */
export function mergeSide(side: unknown, projectId: number | null, branch: string | null) {
  return {
    project_id: projectId,
    path: s(side, "path_with_namespace"),
    web_url: s(side, "web_url"),
    branch,
  };
}

/** packit's rule for an MR payload without `action` (older GitLab): the state stands in. */
export function mergeRequestAction(attrs: unknown): string | null {
  return s(attrs, "action") ?? s(attrs, "state");
}

/** The pushed head: the listed commit the push ends at, else the newest listed. */
export function headCommit(payload: unknown) {
  const commits = at(payload, "commits");
  const list = Array.isArray(commits) ? commits : [];
  const head = s(payload, "checkout_sha") ?? s(payload, "after");
  const found = list.find((c) => s(c, "id") === head) ?? list.at(-1);
  if (found === undefined) {
    return null;
  }
  return { id: s(found, "id"), title: s(found, "title"), message: s(found, "message") };
}
