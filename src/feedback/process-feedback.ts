/**
 * Performs one feedback request against GitLab and decides what happens next. Shared by
 * the queue consumer and `?wait=true`.
 *
 * - A 429 pauses the whole instance until Retry-After / RateLimit-Reset / ~60 s; paused
 *   feedback waits without spending attempts.
 * - Statuses for one (instance, project, sha, name), and notes with one dedupe key, go one at
 *   a time under a lock, newest first: an older one still waiting is `superseded`.
 * - 5xx and network errors retry with backoff for 6 hours, then `failed`.
 * - 401 marks the credential broken and fails at once.
 */
import type { Config } from "../config";
import { type NoteRequest, type StatusRequest, storedRequest } from "../domain/feedback-requests";
import { backoffSeconds } from "../lib/backoff";
import { decrypt } from "../lib/crypto";
import { log } from "../lib/logger";
import { apiTokenContext, projectTokenContext } from "../lib/secret-contexts";
import type { FeedbackOutcome, FeedbackRepo, FeedbackRow } from "../storage/feedback-repo";
import { NO_CREDENTIAL } from "../storage/instances-repo";
import {
  type Classified,
  callGitlab,
  classify,
  fallbackNoteBody,
  type GitlabAnswer,
  type GitlabCall,
  noteCall,
  noteTarget,
  reactionCall,
  resumeAt,
  statusCall,
} from "./gitlab-api";

export const FEEDBACK_RETRY_WINDOW_MS = 6 * 3600 * 1000;
const LOCK_MS = 60_000;
/** notes_create: 60 per minute per user on GitLab.com, 300 by default elsewhere. */
export function noteLimit(instanceUrl: string): number {
  return new URL(instanceUrl).hostname === "gitlab.com" ? 60 : 300;
}

export type FeedbackDeps = {
  repo: FeedbackRepo;
  config: Config;
  fetcher: typeof fetch;
  now: () => number;
  random: () => number;
};

export type FeedbackDecision = { action: "ack" } | { action: "retry"; delaySeconds: number };

const TERMINAL = new Set(["done", "failed", "superseded"]);
const ack = { action: "ack" } as const;

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

type Attempt = { answer: GitlabAnswer; classified: Classified; fallback?: string };

export async function processFeedback(id: string, deps: FeedbackDeps): Promise<FeedbackDecision> {
  const row = await deps.repo.get(id);
  if (!row || TERMINAL.has(row.state)) {
    return ack;
  }
  let stored: unknown;
  try {
    stored = JSON.parse(row.request);
  } catch {
    stored = null;
  }
  const parsed = storedRequest.safeParse(stored);
  const now = deps.now();
  const record = (outcome: FeedbackOutcome, at = deps.now()) => deps.repo.record(id, outcome, at);
  if (!parsed.success) {
    await record({ state: "failed", attempted: false, lastError: "stored request is malformed" });
    return ack;
  }
  const creds = await deps.repo.credentials(row.instance_id, row.project_id);
  if (!creds) {
    await record({
      state: "failed",
      attempted: false,
      lastError: "the instance is no longer registered",
    });
    return ack;
  }
  if (creds.paused_until !== null && creds.paused_until > now) {
    // Rate limited: wait for the reset without spending an attempt.
    const wait = creds.paused_until - now + Math.floor(deps.random() * 5000);
    await record(
      {
        state: "retrying",
        attempted: false,
        nextAttemptAt: now + wait,
        lastError: row.last_error,
      },
      now,
    );
    return { action: "retry", delaySeconds: seconds(wait) };
  }
  const useProjectToken =
    creds.project_token_enc !== null && creds.project_registration_id !== null;
  if (!useProjectToken && creds.instance_token_enc === NO_CREDENTIAL) {
    await record({
      state: "failed",
      attempted: false,
      lastError:
        "the instance has no API token (dropped when its URL changed); set one with PATCH /admin/instances/{id}",
    });
    return ack;
  }
  if (!useProjectToken && creds.instance_broken_at !== null) {
    await record({
      state: "failed",
      attempted: false,
      lastError:
        "the instance's API token was refused (401); update it with PATCH /admin/instances/{id}",
    });
    return ack;
  }
  const key = deps.config.ENCRYPTION_KEY;
  if (!key) {
    await record({ state: "retrying", attempted: false, lastError: "ENCRYPTION_KEY is not set" });
    return { action: "retry", delaySeconds: 300 };
  }
  const token =
    useProjectToken && creds.project_token_enc && creds.project_registration_id
      ? await decrypt(
          key,
          creds.project_token_enc,
          projectTokenContext(creds.project_registration_id),
        )
      : await decrypt(key, creds.instance_token_enc, apiTokenContext(creds.instance_id));

  const owner = crypto.randomUUID();
  if (row.order_key) {
    const lock = await deps.repo.lockOrder(row.order_key, row.seq, owner, now + LOCK_MS, now);
    if (!lock.locked) {
      return { action: "retry", delaySeconds: 2 + Math.floor(deps.random() * 3) };
    }
    if (!lock.newest) {
      await deps.repo.unlockOrder(row.order_key, owner, null);
      await record({
        state: "superseded",
        attempted: false,
        lastError: "a newer update was accepted",
      });
      return ack;
    }
  }
  let decision: FeedbackDecision = ack;
  let sent = false;
  try {
    const gitlab = (call: GitlabCall) =>
      callGitlab(
        creds.instance_url,
        token,
        call,
        parsed.data.request.event_uuid,
        deps.fetcher,
        deps.now,
      );
    const notes = {
      budget: async (): Promise<number | null> => {
        const minute = Math.floor(deps.now() / 60_000);
        const used = await deps.repo.spendNote(row.instance_id, minute);
        return used > noteLimit(creds.instance_url) ? (minute + 1) * 60_000 - deps.now() : null;
      },
    };

    let attempt: Attempt | { waitMs: number };
    const work = parsed.data;
    if (work.type === "status") {
      attempt = await sendStatus(work.request, row, gitlab, notes.budget, deps);
    } else if (work.type === "note") {
      attempt = await sendNote(work.request, row, gitlab, notes.budget, deps);
    } else {
      const answer = await gitlab(reactionCall(work.request));
      attempt = { answer, classified: classify("reaction", answer) };
    }
    if ("waitMs" in attempt) {
      const at = deps.now();
      await record({ state: "retrying", attempted: false, nextAttemptAt: at + attempt.waitMs }, at);
      decision = { action: "retry", delaySeconds: seconds(attempt.waitMs) };
    } else {
      // One instant for deciding and recording, so next_attempt_at is exactly the delay.
      const at = deps.now();
      const result = await settle(
        row,
        attempt,
        creds.project_registration_id,
        useProjectToken,
        deps,
        at,
      );
      await record(result.outcome, at);
      decision = result.decision;
      sent = result.outcome.state === "done";
    }
  } finally {
    if (row.order_key) {
      await deps.repo.unlockOrder(row.order_key, owner, sent ? row.seq : null);
    }
  }
  return decision;
}

type Gitlab = (call: GitlabCall) => Promise<GitlabAnswer>;
type Budget = () => Promise<number | null>;

async function sendStatus(
  request: StatusRequest,
  row: FeedbackRow,
  gitlab: Gitlab,
  budget: Budget,
  deps: FeedbackDeps,
): Promise<Attempt | { waitMs: number }> {
  const answer = await gitlab(statusCall(request));
  const classified = classify("status", answer);
  if (
    classified.kind !== "forbidden_or_missing" ||
    request.fallback !== "note" ||
    !request.merge_request_iid
  ) {
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

async function sendNote(
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

async function settle(
  row: FeedbackRow,
  attempt: Attempt,
  projectRegistrationId: string | null,
  usedProjectToken: boolean,
  deps: FeedbackDeps,
  now: number,
): Promise<{ outcome: FeedbackOutcome; decision: FeedbackDecision }> {
  const { answer, classified } = attempt;
  const common = {
    attempted: true,
    gitlabStatus: answer.status,
    fallback: attempt.fallback ?? null,
  };
  const error = answer.error ?? (answer.text || null);
  const retryLater = (delaySeconds: number, lastError: string | null) => {
    if (now - (row.first_attempt_at ?? now) >= FEEDBACK_RETRY_WINDOW_MS) {
      return {
        outcome: {
          ...common,
          state: "failed" as const,
          lastError: `gave up after 6 hours: ${lastError}`,
        },
        decision: ack,
      };
    }
    return {
      outcome: {
        ...common,
        state: "retrying" as const,
        lastError,
        nextAttemptAt: now + delaySeconds * 1000,
      },
      decision: { action: "retry" as const, delaySeconds },
    };
  };
  switch (classified.kind) {
    case "done":
      return {
        outcome: { ...common, state: "done", gitlabId: classified.gitlabId, lastError: null },
        decision: ack,
      };
    case "lock_contention":
      return retryLater(1 + Math.round(deps.random()), error);
    case "rate_limited": {
      const until = resumeAt(answer, now, deps.random);
      await deps.repo.pauseInstance(row.instance_id, until);
      log("warn", "GitLab rate limit: instance feedback paused", {
        instance_id: row.instance_id,
        until,
      });
      return {
        outcome: {
          ...common,
          attempted: false,
          state: "retrying",
          lastError: error,
          nextAttemptAt: until,
        },
        decision: { action: "retry", delaySeconds: seconds(until - now) },
      };
    }
    case "transient":
      return retryLater(
        backoffSeconds(row.attempts + 1, deps.random, classified.retryAfter),
        error,
      );
    case "unauthorized":
      await deps.repo.markCredentialBroken(
        usedProjectToken && projectRegistrationId
          ? { projectRegistrationId }
          : { instanceId: row.instance_id },
        now,
      );
      log("error", "GitLab refused the relay's credential (401)", { instance_id: row.instance_id });
      return { outcome: { ...common, state: "failed", lastError: error }, decision: ack };
    case "unexpected":
      return {
        outcome: {
          ...common,
          state: "failed",
          lastError: `unexpected GitLab response: ${error ?? ""}`,
        },
        decision: ack,
      };
    case "forbidden_or_missing":
    case "permanent":
      return { outcome: { ...common, state: "failed", lastError: error }, decision: ack };
  }
}
