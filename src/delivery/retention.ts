/**
 * Cron: drops deliveries, their dedupe claims, their R2 bodies and finished feedback once older than
 * RETENTION_DAYS. Bodies live under bodies/YYYY-MM-DD/, so whole days go at once.
 */
import type { DeliveriesRepo } from "../storage/deliveries-repo";
import type { FeedbackRepo } from "../storage/feedback-repo";
import type { StatsRepo } from "../storage/stats-repo";
import { DEDUPE_WINDOW_MS } from "./consumer";

const DAY_MS = 24 * 3600 * 1000;
const MAX_KEYS_PER_RUN = 5000;

export type PurgeResult = { deliveries: number; feedback: number; bodies: number };

export async function purgeExpired(
  repos: {
    deliveries: Pick<DeliveriesRepo, "purge">;
    feedback: Pick<FeedbackRepo, "purge">;
    stats: Pick<StatsRepo, "purge">;
    bodies: Pick<R2Bucket, "list" | "delete">;
  },
  retentionDays: number,
  now: number,
): Promise<PurgeResult> {
  const { deliveries, feedback, stats, bodies } = repos;
  const cutoff = now - retentionDays * DAY_MS;
  const deleted = await deliveries.purge(cutoff, now - DEDUPE_WINDOW_MS);
  const feedbackDeleted = await feedback.purge(cutoff, now);
  await stats.purge(cutoff);
  const cutoffDay = new Date(cutoff).toISOString().slice(0, 10);
  let removed = 0;
  let cursor: string | undefined;
  do {
    const page = await bodies.list({
      prefix: "bodies/",
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    const expired = page.objects
      .map((o) => o.key)
      .filter((key) => (key.split("/")[1] ?? "9999") < cutoffDay);
    if (expired.length > 0) {
      await bodies.delete(expired);
      removed += expired.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && removed < MAX_KEYS_PER_RUN);
  return { deliveries: deleted, feedback: feedbackDeleted, bodies: removed };
}
