/**
 * GET /admin/overview: traffic, backlog and health at a glance (the console's first page):
 * outcomes per minute over 24 hours, ingress p50/p99, the retry backlog and its oldest
 * event, failures in the retention window, instances and hooks that need someone.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { readConfig } from "../config";
import { OUTCOMES } from "../domain/delivery-state";
import { isoOrNull } from "../lib/time";
import { errorResponses, json } from "../openapi";
import { toInstance } from "../storage/instances-repo";
import { security } from "./schemas";

const DAY_MS = 24 * 3600 * 1000;

const minuteSchema = z.object({
  minute: z.string(),
  ...Object.fromEntries(OUTCOMES.map((o) => [o, z.number().int()])),
});
export const overviewSchema = z
  .object({
    since: z.string(),
    per_minute: z
      .array(minuteSchema)
      .openapi({ description: "minutes with any event, oldest first" }),
    totals: z.record(z.string(), z.number().int()),
    ingress_ms: z.object({
      count: z.number().int(),
      p50: z.number().nullable(),
      p99: z.number().nullable(),
    }),
    backlog: z.object({
      queued: z.number().int(),
      retrying: z.number().int(),
      oldest_received_at: z.string().nullable(),
    }),
    failed_in_retention: z.object({ dead: z.number().int(), rejected: z.number().int() }),
    feedback_failed: z.number().int(),
    instances: z.array(z.object({ id: z.string(), url: z.string(), problem: z.string() })),
    hooks: z.array(
      z.object({
        registration_id: z.string(),
        path: z.string(),
        instance_url: z.string(),
        problem: z.string(),
      }),
    ),
  })
  .openapi("Overview");
export type Overview = z.infer<typeof overviewSchema>;

export function registerOverviewRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "get",
      path: "/overview",
      security,
      summary: "Traffic per minute (24 h), backlog, failures, and what needs attention",
      responses: {
        200: { description: "Overview", content: json(overviewSchema) },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const now = Date.now();
      const since = now - DAY_MS;
      const data = await c.var.repos.overview.read({
        since,
        hourAgo: now - 3600 * 1000,
        retentionStart: now - readConfig(c.env).RETENTION_DAYS * DAY_MS,
      });
      const totals: Record<string, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
      const perMinute = data.perMinute.map((row) => {
        const counts = Object.fromEntries(OUTCOMES.map((o) => [o, row[o] ?? 0]));
        for (const o of OUTCOMES) {
          totals[o] = (totals[o] ?? 0) + (counts[o] ?? 0);
        }
        return { minute: new Date(row.minute * 60_000).toISOString(), ...counts };
      });
      const backlog = (status: string) => data.backlog.find((b) => b.status === status);
      const oldest = [backlog("queued")?.oldest, backlog("retrying")?.oldest].filter(
        (t): t is number => typeof t === "number",
      );
      const failed = (status: string) => data.failures.find((f) => f.status === status)?.n ?? 0;
      const instances = (await c.var.repos.instances.list()).flatMap((row) => {
        const view = toInstance(row, now);
        const problem = !view.has_api_token
          ? "no API token: feedback and connect cannot act"
          : view.credential_broken_at
            ? `GitLab refused the API token since ${view.credential_broken_at}`
            : view.feedback_paused_until
              ? `rate-limited: feedback paused until ${view.feedback_paused_until}`
              : null;
        return problem ? [{ id: view.id, url: view.url, problem }] : [];
      });
      return c.json(
        {
          since: new Date(since).toISOString(),
          per_minute: perMinute,
          totals,
          ingress_ms: data.ingress,
          backlog: {
            queued: backlog("queued")?.n ?? 0,
            retrying: backlog("retrying")?.n ?? 0,
            oldest_received_at: isoOrNull(oldest.length ? Math.min(...oldest) : null),
          },
          failed_in_retention: { dead: failed("dead"), rejected: failed("rejected") },
          feedback_failed: data.feedbackFailed,
          instances,
          hooks: data.hooks.map((h) => ({
            registration_id: h.registration_id,
            path: h.path,
            instance_url: h.instance_url,
            problem:
              h.hook_alert_status && h.hook_alert_status !== "executable"
                ? `GitLab ${h.hook_alert_status.replace("_", " ")} the hook${h.hook_disabled_until ? ` until ${new Date(h.hook_disabled_until).toISOString()}` : ""}`
                : "never verified: no event has come through the hook",
          })),
        },
        200,
      );
    },
  );
}
