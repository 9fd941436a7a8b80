/**
 * GitLab payload → normalized event. Pure: no bindings, no clock. Fixes packit-service's
 * parsing quirks (MR actions kept as sent, `code_changed` only for new commits, branch
 * deletes and empty pushes flagged, commit counts from total_commits_count) and tolerates
 * older GitLab payloads: a missing or odd field becomes null. Only what cannot be a GitLab
 * event of its kind is rejected. One module per family of kinds.
 */
import type { WebhookMessage } from "../domain/queue-message";
import { normalizeMergeRequest, normalizePush, normalizeTagPush } from "./normalize-code";
import type { NormalizeInput, NormalizeResult } from "./normalize-common";
import {
  normalizeIssue,
  normalizeNote,
  normalizePipeline,
  normalizeRelease,
} from "./normalize-talk";
import { normalizedEvent } from "./normalized-event";

export type { NormalizeInput, NormalizeResult } from "./normalize-common";

const BY_KIND = {
  push: normalizePush,
  tag_push: normalizeTagPush,
  merge_request: normalizeMergeRequest,
  note: normalizeNote,
  issue: normalizeIssue,
  pipeline: normalizePipeline,
  release: normalizeRelease,
} as const;

export function normalize(input: NormalizeInput): NormalizeResult {
  if (input.payload === null || typeof input.payload !== "object" || Array.isArray(input.payload)) {
    return { outcome: "reject", reason: "payload is not a JSON object" };
  }
  const result = BY_KIND[input.kind](input);
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

/** A queued webhook's normalized event: the message says everything but the payload. */
export function normalizeMessage(
  message: WebhookMessage,
  payload: Record<string, unknown>,
  botUsernames: NormalizeInput["botUsernames"],
): NormalizeResult {
  return normalize({
    kind: message.kind,
    gitlabEvent: message.headers["x-gitlab-event"] ?? message.kind,
    payload,
    dedupeKey: message.dedupe_key,
    instanceUrl: message.instance_url,
    project: message.project,
    receivedAt: message.received_at,
    botUsernames,
  });
}
