/** The bindings feedback processing needs, built from `env` in one place. */
import { readConfig } from "../config";
import { FeedbackRepo } from "../storage/feedback-repo";
import type { FeedbackDeps } from "./process-feedback";

export function feedbackDeps(env: Env): FeedbackDeps {
  return {
    repo: new FeedbackRepo(env.DB),
    config: readConfig(env),
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
  };
}
