/**
 * The purge's cron schedule; it must match `[triggers] crons` in wrangler.toml. Every other
 * schedule (every minute) sweeps the inbox.
 */
export const PURGE_CRON = "30 3 * * *";
