/**
 * The numbers behind GET /admin/overview (the console's first page). Every query is bounded
 * and indexed: per-minute counts by primary key range, backlog and failures by
 * `deliveries_status`, never a scan of the delivery log (test/integration/query-plans).
 */
import { z } from "zod";

export const OVERVIEW_QUERIES = {
  outcomes: "SELECT minute, outcome, count FROM outcome_counts WHERE minute >= ?1",
  ignored:
    "SELECT minute, sum(count) AS count FROM ignored_counts WHERE minute >= ?1 GROUP BY minute",
  backlog: `SELECT status, count(*) AS n, min(received_at) AS oldest FROM deliveries
    WHERE status IN ('queued', 'retrying') GROUP BY status`,
  failures: `SELECT status, count(*) AS n FROM deliveries WHERE status IN ('dead', 'rejected')
    AND received_at >= ?1 GROUP BY status`,
  // The newest 5,000 of the hour: a bounded, recent sample for p50/p99.
  ingress: `SELECT ingress_ms FROM deliveries WHERE received_at >= ?1 AND ingress_ms IS NOT NULL
    ORDER BY received_at DESC LIMIT 5000`,
  feedbackFailed: "SELECT count(*) AS n FROM feedback WHERE state = 'failed'",
  hooks: `SELECT c.registration_id, p.path, i.url AS instance_url, c.verified_at, c.hook_alert_status,
      c.hook_disabled_until, c.connected_at
    FROM connections c JOIN registrations p ON p.id = c.registration_id JOIN instances i ON i.id = p.instance_id
    WHERE c.verified_at IS NULL OR coalesce(c.hook_alert_status, 'executable') <> 'executable'
    ORDER BY c.connected_at DESC LIMIT 100`,
} as const;

const num = z.number();

export class OverviewRepo {
  constructor(private readonly db: D1Database) {}

  async read(input: { since: number; hourAgo: number; retentionStart: number }) {
    const q = OVERVIEW_QUERIES;
    const minute = Math.floor(input.since / 60_000);
    const [outcomes, ignored, backlog, failures, ingress, feedback, hooks] = await this.db.batch([
      this.db.prepare(q.outcomes).bind(minute),
      this.db.prepare(q.ignored).bind(minute),
      this.db.prepare(q.backlog),
      this.db.prepare(q.failures).bind(input.retentionStart),
      this.db.prepare(q.ingress).bind(input.hourAgo),
      this.db.prepare(q.feedbackFailed),
      this.db.prepare(q.hooks),
    ]);
    const rows = <T extends z.ZodType>(result: D1Result | undefined, schema: T) =>
      z.array(schema).parse(result?.results ?? []);
    return {
      outcomes: rows(outcomes, z.object({ minute: num, outcome: z.string(), count: num })),
      ignored: rows(ignored, z.object({ minute: num, count: num })),
      backlog: rows(backlog, z.object({ status: z.string(), n: num, oldest: num.nullable() })),
      failures: rows(failures, z.object({ status: z.string(), n: num })),
      ingressMs: rows(ingress, z.object({ ingress_ms: num }))
        .map((r) => r.ingress_ms)
        .sort((a, b) => a - b),
      feedbackFailed: rows(feedback, z.object({ n: num }))[0]?.n ?? 0,
      hooks: rows(
        hooks,
        z.object({
          registration_id: z.string(),
          path: z.string(),
          instance_url: z.string(),
          verified_at: num.nullable(),
          hook_alert_status: z.string().nullable(),
          hook_disabled_until: num.nullable(),
          connected_at: num,
        }),
      ),
    };
  }
}
