/**
 * The GitLab calls behind one feedback request: a status (falling back to one edited MR
 * note on a fork the relay may not set statuses on), a note (edited in place under a
 * dedupe key, within the notes budget). Returns what GitLab answered, or how long to wait.
 */
import type { NoteRequest, StatusRequest } from "../domain/feedback-requests";
import type { FeedbackRow } from "../storage/feedback-repo";
import type { FeedbackDeps } from "./feedback-deps";
import type { FeedbackAttempt } from "./feedback-outcome";
import {
  classify,
  fallbackCommitCommentBody,
  fallbackNoteBody,
  type GitlabAnswer,
  type GitlabCall,
  gitlabState,
  isFinalState,
  noteCall,
  noteTarget,
  statusCall,
} from "./gitlab-api";

type Attempt = FeedbackAttempt;

export type Gitlab = (call: GitlabCall) => Promise<GitlabAnswer>;
export type Budget = () => Promise<number | null>;

export async function sendStatus(
  request: StatusRequest,
  row: FeedbackRow,
  gitlab: Gitlab,
  budget: Budget,
  deps: FeedbackDeps,
): Promise<Attempt | { waitMs: number }> {
  const answer = await gitlab(statusCall(request));
  const classified = classify("status", answer);
  if (classified.kind !== "forbidden_or_missing" || request.fallback === "none") {
    return { answer, classified };
  }
  if (request.fallback === "commit_comment") {
    return commitCommentFallback(request, row, gitlab, budget, deps, answer);
  }
  if (!request.merge_request_iid) {
    return { answer, classified };
  }
  // A fork the relay may not set statuses on: one MR note per status name, edited on updates.
  const noteRequest: NoteRequest = {
    instance_url: request.instance_url,
    project_id: request.merge_request_project_id ?? request.project_id,
    target: { type: "merge_request", iid: request.merge_request_iid },
    body: fallbackNoteBody(request),
    dedupe_key: `status:${request.name}`,
    ...(request.event_uuid ? { event_uuid: request.event_uuid } : {}),
  };
  const note = await sendNote(noteRequest, row, gitlab, budget, deps);
  return "waitMs" in note ? note : { ...note, fallback: "note" };
}

/**
 * packit's own fallback: a comment on the commit in the MR's project (the target, where the
 * relay may write), for final states only, once per status name and state.
 */
async function commitCommentFallback(
  request: StatusRequest,
  row: FeedbackRow,
  gitlab: Gitlab,
  budget: Budget,
  deps: FeedbackDeps,
  refused: GitlabAnswer,
): Promise<Attempt | { waitMs: number }> {
  if (!isFinalState(request.state)) {
    return {
      answer: refused,
      classified: { kind: "done", gitlabId: null },
      fallback: "none: GitLab refused the status and it is not final (no comment, as packit)",
    };
  }
  const comment: NoteRequest = {
    instance_url: request.instance_url,
    project_id: request.merge_request_project_id ?? request.project_id,
    target: { type: "commit", sha: request.sha },
    body: fallbackCommitCommentBody(request),
    dedupe_key: `status:${request.name}:${gitlabState(request.state)}`,
    ...(request.event_uuid ? { event_uuid: request.event_uuid } : {}),
  };
  const sent = await sendNote(comment, row, gitlab, budget, deps);
  return "waitMs" in sent ? sent : { ...sent, fallback: "commit_comment" };
}

export async function sendNote(
  request: NoteRequest,
  row: FeedbackRow,
  gitlab: Gitlab,
  budget: Budget,
  deps: FeedbackDeps,
): Promise<Attempt | { waitMs: number }> {
  const key = request.dedupe_key
    ? {
        instanceId: row.instance_id,
        projectId: request.project_id,
        target: noteTarget(request.target),
        dedupeKey: request.dedupe_key,
      }
    : null;
  const existing = key ? await deps.repo.findNote(key) : null;
  if (existing !== null && request.target.type === "commit") {
    // Commit comments cannot be edited: with a dedupe key they are posted once.
    return { answer: okAnswer(existing), classified: { kind: "done", gitlabId: existing } };
  }
  const wait = await budget();
  if (wait !== null) {
    return { waitMs: wait + Math.floor(deps.random() * 2000) };
  }
  let answer = await gitlab(noteCall(request, existing));
  if (existing !== null && answer.status === 404) {
    answer = await gitlab(noteCall(request, null)); // the earlier note was deleted
  }
  const classified = classify("note", answer);
  if (key && classified.kind === "done") {
    // Commit comments have no id: 0 still records that the note was posted.
    await deps.repo.saveNote(key, classified.gitlabId ?? 0, deps.now());
  }
  return { answer, classified };
}

function okAnswer(id: number): GitlabAnswer {
  return {
    status: 200,
    body: { id },
    text: "",
    retryAfter: null,
    rateLimitReset: null,
    error: null,
  };
}
