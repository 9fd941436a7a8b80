/**
 * D1 access to the numbers behind GET /admin/stats: deliveries per project, kind and status,
 * ingress times, and the per-minute counts of ignored events (which nothing else records).
 */
import { z } from "zod";
import { DELIVERY_STATUSES } from "../domain/delivery-state";
import { ingressPercentiles, OVERVIEW_QUERIES, onlyRow } from "./overview-repo";

export class StatsRepo {
  constructor(private readonly db: D1Database) {}

  /** One more ignored event for `registration` (or `legacy_jwt`) and `kind` this minute. */
  async countIgnored(registration: string, kind: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO ignored_counts (minute, registration, kind, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (minute, registration, kind) DO UPDATE SET count = count + 1`,
      )
      .bind(Math.floor(now / 60_000), registration, kind)
      .run();
  }

  /** Counts per project, kind and status since `since`, and ingress times, for /admin/stats. */
  async since(since: number) {
    const [counts, ignored, times, misconfigured] = await this.db.batch([
      this.db
        .prepare(
          `SELECT project_id, project_path, kind, status, count(*) AS n FROM deliveries
           WHERE received_at >= ?1 GROUP BY project_id, project_path, kind, status`,
        )
        .bind(since),
      this.db
        .prepare(
          `SELECT ic.registration, p.kind AS registration_kind, p.gitlab_project_id, p.path,
             ic.kind, sum(ic.count) AS n
           FROM ignored_counts ic LEFT JOIN registrations p ON p.id = ic.registration
           WHERE ic.minute >= ?1 GROUP BY ic.registration, ic.kind`,
        )
        .bind(Math.floor(since / 60_000)),
      // p50 and p99 of a bounded, recent sample (the overview's query).
      this.db.prepare(OVERVIEW_QUERIES.ingress).bind(since),
      // Refusals that name the relay's own setting (a redirect, packit's 404): index on status.
      this.db
        .prepare(
          `SELECT reason, count(*) AS n FROM deliveries WHERE status = 'rejected' AND received_at >= ?1
             AND reason LIKE 'configuration error%' GROUP BY reason ORDER BY n DESC LIMIT 5`,
        )
        .bind(since),
    ]);
    return {
      counts: z
        .array(
          z.object({
            project_id: z.number().nullable(),
            project_path: z.string().nullable(),
            kind: z.string(),
            status: z.enum(DELIVERY_STATUSES),
            n: z.number(),
          }),
        )
        .parse(counts?.results ?? []),
      ignored: z
        .array(
          z.object({
            registration: z.string(),
            registration_kind: z.enum(["project", "namespace"]).nullable(),
            gitlab_project_id: z.number().nullable(),
            path: z.string().nullable(),
            kind: z.string(),
            n: z.number(),
          }),
        )
        .parse(ignored?.results ?? []),
      destinationErrors: z
        .array(z.object({ reason: z.string(), n: z.number() }))
        .parse(misconfigured?.results ?? []),
      ingress: onlyRow(times, ingressPercentiles),
    };
  }

  /** Drops per-minute counts older than `cutoff` (the retention purge). */
  async purge(cutoff: number): Promise<void> {
    await this.db.batch(
      ["ignored_counts", "outcome_counts"].map((table) =>
        this.db.prepare(`DELETE FROM ${table} WHERE minute < ?1`).bind(Math.floor(cutoff / 60_000)),
      ),
    );
  }
}
