/** Cron schedules; they must match `[triggers] crons` in wrangler.toml. */
export const SWEEP_CRON = "* * * * *";
export const PURGE_CRON = "30 3 * * *";
