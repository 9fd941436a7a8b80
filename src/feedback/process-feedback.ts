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
import { storedRequest } from "../domain/feedback-requests";
import type { QueueDecision } from "../domain/queue-decision";
import { decrypt } from "../lib/crypto";
import { log } from "../lib/logger";
import { apiTokenContext, projectTokenContext } from "../lib/secret-contexts";
import type { FeedbackOutcome, FeedbackRow } from "../storage/feedback-repo";
import { NO_CREDENTIAL } from "../storage/instances-repo";
import type { FeedbackDeps } from "./feedback-deps";
import {
  type FeedbackAttempt,
  type FeedbackEffect,
  seconds,
  settleFeedback,
} from "./feedback-outcome";
import { callGitlab, classify, type GitlabCall, reactionCall } from "./gitlab-api";
import { sendNote, sendStatus } from "./send-feedback";

const LOCK_MS = 60_000;
/** notes_create: 60 per minute per user on GitLab.com, 300 by default elsewhere. */
export function noteLimit(instanceUrl: string): number {
  return new URL(instanceUrl).hostname === "gitlab.com" ? 60 : 300;
}

export type FeedbackDecision = QueueDecision;

const TERMINAL = new Set(["done", "failed", "superseded"]);
const ack = { action: "ack" } as const;

type Attempt = FeedbackAttempt;

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
      callGitlab({
        instanceUrl: creds.instance_url,
        token,
        call,
        eventUuid: parsed.data.request.event_uuid,
        fetcher: deps.fetcher,
        now: deps.now,
      });
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
      const result = settleFeedback({
        attempt,
        attempts: row.attempts,
        firstAttemptAt: row.first_attempt_at,
        usedProjectToken: useProjectToken && creds.project_registration_id !== null,
        now: at,
        random: deps.random,
      });
      await applyEffects(result.effects, row, creds.project_registration_id, deps, at);
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

/** Applies what settling decided beyond the request itself. */
async function applyEffects(
  effects: readonly FeedbackEffect[],
  row: FeedbackRow,
  projectRegistrationId: string | null,
  deps: FeedbackDeps,
  now: number,
): Promise<void> {
  for (const effect of effects) {
    if (effect.type === "pause_instance") {
      await deps.repo.pauseInstance(row.instance_id, effect.until);
      log("warn", "GitLab rate limit: instance feedback paused", {
        instance_id: row.instance_id,
        until: effect.until,
      });
    } else {
      await deps.repo.markCredentialBroken(
        effect.which === "project" && projectRegistrationId
          ? { projectRegistrationId }
          : { instanceId: row.instance_id },
        now,
      );
      log("error", "GitLab refused the relay's credential (401)", { instance_id: row.instance_id });
    }
  }
}
