/**
 * GitLab payload → normalized event. Pure: no bindings, no clock. Fixes packit-service's
 * parsing quirks (MR actions kept as sent, `code_changed` only for new commits, branch
 * deletes and empty pushes flagged, commit counts from total_commits_count) and tolerates
 * older GitLab payloads: a missing or odd field becomes null. Only what cannot be a GitLab
 * event of its kind is rejected.
 */
import { z } from "zod";
import type { RelayedKind } from "../gitlab/event-kinds";
import { at, b, n, s } from "./lenient-read";
import {
  type EventBase,
  NORMALIZED_SCHEMA_VERSION,
  type NormalizedEvent,
  normalizedEvent,
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

const isZeroSha = (sha: string | null) => sha !== null && /^0+$/.test(sha);

function strip(ref: string, prefix: string): string | null {
  return ref.startsWith(prefix) ? ref.slice(prefix.length) : null;
}

function actor(payload: unknown) {
  const user = at(payload, "user");
  return {
    username: s(user, "username") ?? s(payload, "user_username"),
    name: s(user, "name") ?? s(payload, "user_name"),
  };
}

function common(input: NormalizeInput, occurredAt: string | null): EventBase {
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

function branchRef(projectId: number | null, branch: string | null) {
  return { project_id: projectId, branch };
}

function build(input: NormalizeInput): NormalizeResult {
  const p = input.payload;
  const attrs = at(p, "object_attributes");
  switch (input.kind) {
    case "push": {
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
          ci_skip: b(at(at(p, "push_options"), "ci"), "skip") === true,
        },
      };
    }
    case "tag_push": {
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
          created: isZeroSha(before),
          deleted: isZeroSha(after),
        },
      };
    }
    case "merge_request": {
      const iid = n(attrs, "iid");
      if (iid === null) {
        return { outcome: "reject", reason: "merge request without object_attributes.iid" };
      }
      const action = s(attrs, "action");
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
          url: s(attrs, "url"),
          draft: b(attrs, "draft") ?? b(attrs, "work_in_progress"),
          head_sha: s(at(attrs, "last_commit"), "id"),
          oldrev,
          code_changed:
            action === "open" || action === "reopen" || (action === "update" && oldrev !== null),
          system: b(attrs, "system") === true,
          system_action: s(attrs, "system_action"),
          source: branchRef(n(attrs, "source_project_id"), s(attrs, "source_branch")),
          target: branchRef(n(attrs, "target_project_id"), s(attrs, "target_branch")),
        },
      };
    }
    case "note": {
      const body = s(attrs, "note");
      const type = s(attrs, "noteable_type");
      if (body === null || type === null) {
        return {
          outcome: "reject",
          reason: "note without object_attributes.note or noteable_type",
        };
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
          head_sha: s(at(mr, "last_commit"), "id"),
          source: branchRef(n(mr, "source_project_id"), s(mr, "source_branch")),
          target: branchRef(n(mr, "target_project_id"), s(mr, "target_branch")),
        };
      } else if (type === "Issue") {
        on = { type: "issue", iid: n(at(p, "issue"), "iid") };
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
    case "issue": {
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
    case "pipeline": {
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
    case "release": {
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
  }
}

export function normalize(input: NormalizeInput): NormalizeResult {
  if (input.payload === null || typeof input.payload !== "object" || Array.isArray(input.payload)) {
    return { outcome: "reject", reason: "payload is not a JSON object" };
  }
  const result = build(input);
  if (result.outcome !== "event") {
    return result;
  }
  // The schema is the contract: never publish an event that does not satisfy it.
  const checked = normalizedEvent.safeParse(result.event);
  return checked.success
    ? { outcome: "event", event: checked.data }
    : {
        outcome: "reject",
        reason: `normalized event invalid: ${checked.error.issues[0]?.message}`,
      };
}
