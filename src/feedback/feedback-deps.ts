/** The bindings feedback processing needs, built from `env` in one place. */
import { type Config, readConfig } from "../config";
import { FeedbackRepo } from "../storage/feedback-repo";

export type FeedbackDeps = {
  repo: FeedbackRepo;
  config: Config;
  fetcher: typeof fetch;
  now: () => number;
  random: () => number;
};

export function feedbackDeps(env: Env): FeedbackDeps {
  return {
    repo: new FeedbackRepo(env.DB),
    config: readConfig(env),
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
  };
}
