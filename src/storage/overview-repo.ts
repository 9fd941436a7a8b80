/**
 * The numbers behind GET /admin/overview (the console's first page). Every query is bounded
 * and indexed: per-minute counts by primary key range, backlog and failures by
 * `deliveries_status`, never a scan of the delivery log (test/integration/query-plans).
 * D1 does the arithmetic: a day of minutes comes back as one row each (not one per outcome),
 * and ingress's percentiles as one row (not the sample), since moving rows out of D1 and
 * parsing them is what costs at a million deliveries.
 */
import { z } from "zod";
import { OUTCOMES } from "../domain/delivery-state";

/** Newest deliveries of the window whose ingress times make the percentiles. */
export const INGRESS_SAMPLE = 5000;

/** Nearest rank, as `ceil(p% of n)`: (p * n + 99) / 100 in integer arithmetic. */
const rank = (p: number) => `max(CASE WHEN r = (${p} * n + 99) / 100 THEN ingress_ms END)`;

export const OVERVIEW_QUERIES = {
  perMinute: `SELECT minute, ${OUTCOMES.map(
    (o) => `sum(CASE WHEN outcome = '${o}' THEN count ELSE 0 END) AS ${o}`,
  ).join(", ")}
    FROM (SELECT minute, outcome, count FROM outcome_counts WHERE minute >= ?1
      UNION ALL SELECT minute, 'ignored', count FROM ignored_counts WHERE minute >= ?1)
    GROUP BY minute ORDER BY minute`,
  backlog: `SELECT status, count(*) AS n, min(received_at) AS oldest FROM deliveries
    WHERE status IN ('queued', 'retrying') GROUP BY status`,
  failures: `SELECT status, count(*) AS n FROM deliveries WHERE status IN ('dead', 'rejected')
    AND received_at >= ?1 GROUP BY status`,
  // Sorts the bounded sample only: an hour at 100 events/s would be 360,000 rows.
  ingress: `WITH sample AS MATERIALIZED (SELECT ingress_ms FROM deliveries
      WHERE received_at >= ?1 AND ingress_ms IS NOT NULL ORDER BY received_at DESC LIMIT ${INGRESS_SAMPLE}),
    ranked AS (SELECT ingress_ms, row_number() OVER (ORDER BY ingress_ms) AS r, count(*) OVER () AS n
      FROM sample)
    SELECT coalesce(max(n), 0) AS count, ${rank(50)} AS p50, ${rank(99)} AS p99 FROM ranked`,
  feedbackFailed: "SELECT count(*) AS n FROM feedback WHERE state = 'failed'",
  hooks: `SELECT c.registration_id, p.path, i.url AS instance_url, c.verified_at, c.hook_alert_status,
      c.hook_disabled_until, c.connected_at
    FROM connections c JOIN registrations p ON p.id = c.registration_id JOIN instances i ON i.id = p.instance_id
    WHERE c.verified_at IS NULL OR coalesce(c.hook_alert_status, 'executable') <> 'executable'
    ORDER BY c.connected_at DESC LIMIT 100`,
} as const;

const num = z.number();
const count = z.number().int().nonnegative();

export const ingressPercentiles = z.object({
  count,
  p50: num.nullable(),
  p99: num.nullable(),
});
export type IngressPercentiles = z.infer<typeof ingressPercentiles>;

// One column per outcome, each a count (the query names them from OUTCOMES).
const perMinute = z.object({ minute: num }).catchall(count);

/** The first row of a one-row result, checked. */
export function onlyRow<T extends z.ZodType>(result: D1Result | undefined, schema: T): z.infer<T> {
  return schema.parse(result?.results?.[0]);
}

export class OverviewRepo {
  constructor(private readonly db: D1Database) {}

  async read(input: { since: number; hourAgo: number; retentionStart: number }) {
    const q = OVERVIEW_QUERIES;
    const minute = Math.floor(input.since / 60_000);
    const [minutes, backlog, failures, ingress, feedback, hooks] = await this.db.batch([
      this.db.prepare(q.perMinute).bind(minute),
      this.db.prepare(q.backlog),
      this.db.prepare(q.failures).bind(input.retentionStart),
      this.db.prepare(q.ingress).bind(input.hourAgo),
      this.db.prepare(q.feedbackFailed),
      this.db.prepare(q.hooks),
    ]);
    const rows = <T extends z.ZodType>(result: D1Result | undefined, schema: T) =>
      z.array(schema).parse(result?.results ?? []);
    return {
      perMinute: rows(minutes, perMinute),
      backlog: rows(backlog, z.object({ status: z.string(), n: num, oldest: num.nullable() })),
      failures: rows(failures, z.object({ status: z.string(), n: num })),
      ingress: onlyRow(ingress, ingressPercentiles),
      feedbackFailed: onlyRow(feedback, z.object({ n: count })).n,
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
