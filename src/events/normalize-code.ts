/** Normalizers for code changes: pushes, tag pushes and merge requests. Pure. */
import { z } from "zod";
import { at, b, n, s } from "./lenient-read";
import {
  common,
  headCommit,
  isZeroSha,
  mergeRequestAction,
  mergeSide,
  type NormalizeInput,
  type NormalizeResult,
  strip,
} from "./normalize-common";

export function normalizePush(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const ref = s(p, "ref");
  if (!ref) {
    return { outcome: "reject", reason: "push without ref" };
  }
  const before = s(p, "before");
  const after = s(p, "after");
  const commits = z
    .array(z.unknown())
    .catch([])
    .parse(at(p, "commits") ?? []);
  const commitsCount = n(p, "total_commits_count") ?? commits.length;
  const deleted = isZeroSha(after);
  return {
    outcome: "event",
    event: {
      ...common(input, null),
      kind: "push",
      ref,
      branch: strip(ref, "refs/heads/"),
      before,
      after,
      checkout_sha: s(p, "checkout_sha"),
      created: isZeroSha(before),
      deleted,
      empty: commitsCount === 0 && !deleted,
      commits_count: commitsCount,
      commit_ids: commits.map((c) => s(c, "id")).filter((id): id is string => id !== null),
      head_commit: headCommit(p),
      ci_skip: b(at(at(p, "push_options"), "ci"), "skip") === true,
    },
  };
}

export function normalizeTagPush(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const ref = s(p, "ref");
  if (!ref) {
    return { outcome: "reject", reason: "tag push without ref" };
  }
  const before = s(p, "before");
  const after = s(p, "after");
  return {
    outcome: "event",
    event: {
      ...common(input, null),
      kind: "tag_push",
      ref,
      tag: strip(ref, "refs/tags/"),
      before,
      after,
      sha: s(p, "checkout_sha"),
      head_commit: headCommit(p),
      created: isZeroSha(before),
      deleted: isZeroSha(after),
    },
  };
}

export function normalizeMergeRequest(input: NormalizeInput): NormalizeResult {
  const attrs = at(input.payload, "object_attributes");
  const iid = n(attrs, "iid");
  if (iid === null) {
    return { outcome: "reject", reason: "merge request without object_attributes.iid" };
  }
  const action = mergeRequestAction(attrs);
  const oldrev = s(attrs, "oldrev");
  return {
    outcome: "event",
    event: {
      ...common(input, s(attrs, "actioned_at") ?? s(attrs, "updated_at")),
      kind: "merge_request",
      action,
      state: s(attrs, "state"),
      iid,
      id: n(attrs, "id"),
      title: s(attrs, "title"),
      description: s(attrs, "description"),
      url: s(attrs, "url"),
      draft: b(attrs, "draft") ?? b(attrs, "work_in_progress"),
      head_sha: s(at(attrs, "last_commit"), "id"),
      oldrev,
      code_changed:
        action === "open" ||
        action === "opened" ||
        action === "reopen" ||
        (action === "update" && oldrev !== null),
      system: b(attrs, "system") === true,
      system_action: s(attrs, "system_action"),
      source: mergeSide(
        at(attrs, "source"),
        n(attrs, "source_project_id"),
        s(attrs, "source_branch"),
      ),
      target: mergeSide(
        at(attrs, "target"),
        n(attrs, "target_project_id"),
        s(attrs, "target_branch"),
      ),
    },
  };
}
