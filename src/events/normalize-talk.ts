/** Normalizers for conversation and CI: comments, issues, pipelines, releases. Pure. */
import { at, b, n, s } from "./lenient-read";
import {
  actor,
  common,
  mergeSide,
  type NormalizeInput,
  type NormalizeResult,
} from "./normalize-common";
import type { NormalizedEvent } from "./normalized-event";

export function normalizeNote(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const attrs = at(p, "object_attributes");
  const body = s(attrs, "note");
  const type = s(attrs, "noteable_type");
  if (body === null || type === null) {
    return { outcome: "reject", reason: "note without object_attributes.note or noteable_type" };
  }
  const author = actor(p).username?.toLowerCase();
  if (author && input.botUsernames.includes(author)) {
    return { outcome: "skip", reason: `note by the relay's bot user ${author}` };
  }
  let on: Extract<NormalizedEvent, { kind: "comment" }>["on"];
  if (type === "MergeRequest") {
    const mr = at(p, "merge_request");
    on = {
      type: "merge_request",
      iid: n(mr, "iid"),
      id: n(mr, "id"),
      state: s(mr, "state"),
      head_sha: s(at(mr, "last_commit"), "id"),
      source: mergeSide(at(mr, "source"), n(mr, "source_project_id"), s(mr, "source_branch")),
      target: mergeSide(at(mr, "target"), n(mr, "target_project_id"), s(mr, "target_branch")),
    };
  } else if (type === "Issue") {
    const issue = at(p, "issue");
    on = { type: "issue", iid: n(issue, "iid"), state: s(issue, "state") };
  } else if (type === "Commit") {
    on = { type: "commit", sha: s(at(p, "commit"), "id") ?? s(attrs, "commit_id") };
  } else if (type === "Snippet") {
    return { outcome: "skip", reason: "comments on snippets are not relayed" };
  } else {
    return { outcome: "skip", reason: `comments on ${type.slice(0, 50)} are not relayed` };
  }
  return {
    outcome: "event",
    event: {
      ...common(input, s(attrs, "updated_at") ?? s(attrs, "created_at")),
      kind: "comment",
      action: s(attrs, "action"),
      note_id: n(attrs, "id"),
      body,
      url: s(attrs, "url"),
      system: b(attrs, "system") === true,
      on,
    },
  };
}

export function normalizeIssue(input: NormalizeInput): NormalizeResult {
  const attrs = at(input.payload, "object_attributes");
  const iid = n(attrs, "iid");
  if (iid === null) {
    return { outcome: "reject", reason: "issue without object_attributes.iid" };
  }
  return {
    outcome: "event",
    event: {
      ...common(input, s(attrs, "updated_at")),
      kind: "issue",
      action: s(attrs, "action"),
      state: s(attrs, "state"),
      iid,
      title: s(attrs, "title"),
      url: s(attrs, "url"),
    },
  };
}

export function normalizePipeline(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const attrs = at(p, "object_attributes");
  const id = n(attrs, "id");
  if (id === null) {
    return { outcome: "reject", reason: "pipeline without object_attributes.id" };
  }
  const mr = at(p, "merge_request");
  return {
    outcome: "event",
    event: {
      ...common(input, s(attrs, "finished_at") ?? s(attrs, "created_at")),
      kind: "pipeline",
      project_name: s(at(p, "project"), "name"),
      id,
      ref: s(attrs, "ref"),
      tag: b(attrs, "tag") === true,
      sha: s(attrs, "sha"),
      before_sha: s(attrs, "before_sha"),
      status: s(attrs, "status"),
      detailed_status: s(attrs, "detailed_status"),
      source: s(attrs, "source"),
      url: s(attrs, "url"),
      merge_request:
        mr === undefined || mr === null ? null : { iid: n(mr, "iid"), url: s(mr, "url") },
    },
  };
}

export function normalizeRelease(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const tag = s(p, "tag");
  if (!tag) {
    return { outcome: "reject", reason: "release without tag" };
  }
  return {
    outcome: "event",
    event: {
      ...common(input, s(p, "released_at") ?? s(p, "created_at")),
      kind: "release",
      action: s(p, "action"),
      tag,
      name: s(p, "name"),
      url: s(p, "url"),
      commit_sha: s(at(p, "commit"), "id"),
    },
  };
}
