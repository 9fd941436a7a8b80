/** What feedback processing needs; built by the composition root (src/deps.ts). */
import type { Config } from "../config";
import type { FeedbackRepo } from "../storage/feedback-repo";

export type FeedbackDeps = {
  repo: Pick<
    FeedbackRepo,
    | "get"
    | "record"
    | "credentials"
    | "lockOrder"
    | "unlockOrder"
    | "findNote"
    | "saveNote"
    | "spendNote"
    | "pauseInstance"
    | "markCredentialBroken"
  >;
  config: Config;
  fetcher: typeof fetch;
  now: () => number;
  random: () => number;
};
