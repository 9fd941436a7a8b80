/**
 * What one GitLab answer means for a feedback request, pure: its new state, whether the
 * queue message is acked or retried (and when), and the side effects the orchestrator
 * applies (pause the instance on 429, mark a credential broken on 401). No bindings.
 */
import { ACK, type QueueDecision } from "../domain/queue-decision";
import { backoffSeconds } from "../lib/backoff";
import type { FeedbackOutcome } from "../storage/feedback-repo";
import { type Classified, type GitlabAnswer, resumeAt } from "./gitlab-api";

/** 5xx and network errors are retried this long, then the request has `failed`. */
export const FEEDBACK_RETRY_WINDOW_MS = 6 * 3600 * 1000;

export type FeedbackAttempt = { answer: GitlabAnswer; classified: Classified; fallback?: string };

export type FeedbackEffect =
  | { type: "pause_instance"; until: number }
  | { type: "credential_broken"; which: "project" | "instance" };

export type FeedbackSettlement = {
  outcome: FeedbackOutcome;
  decision: QueueDecision;
  effects: FeedbackEffect[];
};

/** Whole seconds, at least one: the queue's delay unit. */
export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function settleFeedback(input: {
  attempt: FeedbackAttempt;
  /** The request's attempts so far and when the first one was. */
  attempts: number;
  firstAttemptAt: number | null;
  usedProjectToken: boolean;
  now: number;
  random: () => number;
}): FeedbackSettlement {
  const { attempt, now } = input;
  const { answer, classified } = attempt;
  const common = {
    attempted: true,
    gitlabStatus: answer.status,
    fallback: attempt.fallback ?? null,
  };
  const error = answer.error ?? (answer.text || null);
  const failed = (lastError: string | null): FeedbackSettlement => ({
    outcome: { ...common, state: "failed", lastError },
    decision: ACK,
    effects: [],
  });
  const retryLater = (delaySeconds: number, lastError: string | null): FeedbackSettlement => {
    if (now - (input.firstAttemptAt ?? now) >= FEEDBACK_RETRY_WINDOW_MS) {
      return failed(`gave up after 6 hours: ${lastError}`);
    }
    return {
      outcome: {
        ...common,
        state: "retrying",
        lastError,
        nextAttemptAt: now + delaySeconds * 1000,
      },
      decision: { action: "retry", delaySeconds },
      effects: [],
    };
  };
  switch (classified.kind) {
    case "done":
      return {
        outcome: { ...common, state: "done", gitlabId: classified.gitlabId, lastError: null },
        decision: ACK,
        effects: [],
      };
    case "lock_contention":
      return retryLater(1 + Math.round(input.random()), error);
    case "rate_limited": {
      // The whole instance waits, without spending this request's attempts.
      const until = resumeAt(answer, now, input.random);
      return {
        outcome: {
          ...common,
          attempted: false,
          state: "retrying",
          lastError: error,
          nextAttemptAt: until,
        },
        decision: { action: "retry", delaySeconds: seconds(until - now) },
        effects: [{ type: "pause_instance", until }],
      };
    }
    case "transient":
      return retryLater(
        backoffSeconds(input.attempts + 1, input.random, classified.retryAfter),
        error,
      );
    case "unauthorized":
      return {
        ...failed(error),
        effects: [
          { type: "credential_broken", which: input.usedProjectToken ? "project" : "instance" },
        ],
      };
    case "unexpected":
      return failed(`unexpected GitLab response: ${error ?? ""}`);
    case "forbidden_or_missing":
    case "permanent":
      return failed(error);
  }
}
