/** GET /admin/stats: what the relay did in the last hour, per project and event kind. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { configProblems, readConfig } from "../config";
import type { DeliveryStatus } from "../domain/delivery-state";
import { isoOrNull } from "../lib/time";
import { errorResponses, json } from "../openapi";
import { security } from "./schemas";

const WINDOW_MS = 3600 * 1000;

type Counter = "received" | "ignored" | DeliveryStatus;
const counters = z
  .record(z.string(), z.number().int())
  .openapi({ description: "received, ignored and one count per delivery status" });

const statsSchema = z
  .object({
    since: z.string(),
    config_problems: z
      .array(z.string())
      .openapi({ description: "settings missing or contradicting each other (as /healthz)" }),
    circuits: z
      .array(
        z.object({
          destination: z.string(),
          state: z.enum(["closed", "open", "half_open"]),
          failures: z.number().int(),
          opened_at: z.string().nullable(),
          next_probe_at: z.string().nullable(),
        }),
      )
      .openapi({
        description: "each destination's circuit breaker (open: left alone until a probe)",
      }),
    destination_errors: z.array(z.object({ reason: z.string(), count: z.number().int() })).openapi({
      description:
        "deliveries refused because a destination setting names the wrong URL (a redirect, packit-service's 404)",
    }),
    ingress_ms: z
      .object({ count: z.number().int(), p50: z.number().nullable(), p99: z.number().nullable() })
      .openapi({
        description:
          "ingress handling time up to the queue send, over the newest 5,000 events of the hour",
      }),
    projects: z.array(
      z.object({
        project_id: z.number().int().nullable(),
        project_path: z.string().nullable(),
        kinds: z.record(z.string(), counters),
      }),
    ),
  })
  .openapi("Stats");

export function registerStatsRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "get",
      path: "/stats",
      security,
      summary: "Received, ignored and delivery outcomes per project and kind over the last hour",
      responses: {
        200: { description: "Stats", content: json(statsSchema) },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const since = Date.now() - WINDOW_MS;
      const { counts, ignored, ingress, destinationErrors } = await c.var.repos.stats.since(since);
      const projects = new Map<string, z.infer<typeof statsSchema>["projects"][number]>();
      const zero = (): Record<Counter, number> => ({
        received: 0,
        ignored: 0,
        queued: 0,
        retrying: 0,
        delivered: 0,
        duplicate: 0,
        skipped: 0,
        rejected: 0,
        dead: 0,
        undeliverable: 0,
      });
      const kinds = new Map<string, Record<Counter, number>>();
      const entry = (
        projectId: number | null,
        path: string | null,
        kind: string,
        key = String(projectId),
      ) => {
        let project = projects.get(key);
        if (!project) {
          project = { project_id: projectId, project_path: path, kinds: {} };
          projects.set(key, project);
        }
        project.project_path ??= path;
        const id = `${key}|${kind}`;
        let counter = kinds.get(id);
        if (!counter) {
          counter = zero();
          kinds.set(id, counter);
          project.kinds[kind] = counter;
        }
        return counter;
      };
      for (const row of counts) {
        // Projects under a namespace token are known by path only (no vouched-for id).
        const key = row.project_id === null ? `path|${row.project_path}` : String(row.project_id);
        const counter = entry(row.project_id, row.project_path, row.kind, key);
        counter[row.status] += row.n;
        counter.received += row.n;
      }
      // Ignored events are counted per registration: a project hook's under its project, a
      // group hook's under its namespace, packit-service tokens' under `legacy_jwt`.
      for (const row of ignored) {
        const counter =
          row.registration_kind === "project"
            ? entry(row.gitlab_project_id, row.path, row.kind)
            : entry(
                null,
                row.path ?? row.registration,
                row.kind,
                `registration|${row.registration}`,
              );
        counter.ignored += row.n;
      }
      return c.json(
        {
          since: new Date(since).toISOString(),
          config_problems: configProblems(readConfig(c.env)),
          destination_errors: destinationErrors.map((e) => ({ reason: e.reason, count: e.n })),
          circuits: (await c.var.repos.circuits.all()).map((circuit) => ({
            destination: circuit.destination,
            state: circuit.state,
            failures: circuit.failures,
            opened_at: isoOrNull(circuit.opened_at),
            next_probe_at: circuit.state === "closed" ? null : isoOrNull(circuit.retry_at),
          })),
          ingress_ms: ingress,
          projects: [...projects.values()],
        },
        200,
      );
    },
  );
}
