/**
 * Which GitLab events the relay carries, decided from the payload's `object_kind` /
 * `event_name` first and the `X-Gitlab-Event` header second (GitLab's own advice).
 * Pure: no bindings.
 */
import { asJsonObject } from "../lib/json-object";

export const RELAYED_KINDS = [
  "push",
  "tag_push",
  "merge_request",
  "note",
  "issue",
  "pipeline",
  "release",
] as const;
export type RelayedKind = (typeof RELAYED_KINDS)[number];

/** The header GitLab sends for each relayed kind (also what packit-service expects). */
export const KIND_HEADER: Record<RelayedKind, string> = {
  push: "Push Hook",
  tag_push: "Tag Push Hook",
  merge_request: "Merge Request Hook",
  note: "Note Hook",
  issue: "Issue Hook",
  pipeline: "Pipeline Hook",
  release: "Release Hook",
};

const HEADER_KIND: Record<string, { kind: RelayedKind; confidential: boolean }> = {
  "push hook": { kind: "push", confidential: false },
  "tag push hook": { kind: "tag_push", confidential: false },
  "merge request hook": { kind: "merge_request", confidential: false },
  "note hook": { kind: "note", confidential: false },
  "confidential note hook": { kind: "note", confidential: true },
  "issue hook": { kind: "issue", confidential: false },
  "confidential issue hook": { kind: "issue", confidential: true },
  "pipeline hook": { kind: "pipeline", confidential: false },
  "release hook": { kind: "release", confidential: false },
};

export type Classification =
  | { outcome: "relayed"; kind: RelayedKind }
  | { outcome: "ignored"; reason: string }
  | { outcome: "mismatch"; reason: string };

function isRelayed(kind: string): kind is RelayedKind {
  return (RELAYED_KINDS as readonly string[]).includes(kind);
}

function field(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function isConfidential(kind: RelayedKind, payload: Record<string, unknown>): boolean {
  if (kind === "note" && field(payload, "event_type") === "confidential_note") {
    return true;
  }
  const attrs = asJsonObject(field(payload, "object_attributes"));
  if (attrs) {
    if (kind === "issue" && field(attrs, "confidential") === true) {
      return true;
    }
    if (kind === "note" && field(attrs, "internal") === true) {
      return true;
    }
  }
  return false;
}

export function classifyEvent(header: string, payload: Record<string, unknown>): Classification {
  const normalizedHeader = header.trim().toLowerCase();
  if (normalizedHeader.endsWith("system hook")) {
    return { outcome: "ignored", reason: "system hooks are not relayed" };
  }
  const fromHeader = HEADER_KIND[normalizedHeader];
  const objectKind = field(payload, "object_kind");
  const eventName = field(payload, "event_name");
  const bodyKind =
    typeof objectKind === "string"
      ? objectKind
      : typeof eventName === "string"
        ? eventName
        : undefined;

  let kind: RelayedKind;
  if (bodyKind !== undefined) {
    if (!isRelayed(bodyKind)) {
      return { outcome: "ignored", reason: `${bodyKind.slice(0, 100)} events are not relayed` };
    }
    if (fromHeader && fromHeader.kind !== bodyKind) {
      return {
        outcome: "mismatch",
        reason: `X-Gitlab-Event "${header.slice(0, 100)}" does not match object_kind "${bodyKind}"`,
      };
    }
    kind = bodyKind;
  } else if (fromHeader) {
    kind = fromHeader.kind;
  } else {
    return { outcome: "ignored", reason: `${header.slice(0, 100)} events are not relayed` };
  }

  if (fromHeader?.confidential || isConfidential(kind, payload)) {
    return { outcome: "ignored", reason: "confidential events are not relayed" };
  }
  return { outcome: "relayed", kind };
}

/** X-Gitlab-Event values GitLab sends (reference/gitlab.md); counted under their own name. */
const GITLAB_EVENT_HEADERS = new Map(
  [
    "Build Hook",
    "Confidential Issue Hook",
    "Confidential Note Hook",
    "Deployment Hook",
    "Emoji Hook",
    "Feature Flag Hook",
    "Issue Hook",
    "Job Hook",
    "Member Hook",
    "Merge Request Hook",
    "Milestone Hook",
    "No Sti System Hook",
    "Note Hook",
    "Pipeline Hook",
    "Project Hook",
    "Push Hook",
    "Release Hook",
    "Resource Access Token Hook",
    "Resource Deploy Token Hook",
    "Subgroup Hook",
    "System Hook",
    "Tag Push Hook",
    "Vulnerability Hook",
    "Wiki Page Hook",
  ].map((name) => [name.toLowerCase(), name]),
);

/** Anything GitLab does not send is counted as `other`: a sender never names a counter. */
export function countedEventName(header: string): string {
  return GITLAB_EVENT_HEADERS.get(header.trim().toLowerCase()) ?? "other";
}
