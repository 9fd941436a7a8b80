/**
 * Every statement the relay sends D1 on its hot and periodic paths, found by running them:
 * ingress, the consumer (delivered, retried, duplicate, dead-lettered), feedback, every admin
 * read and replay, and both crons, with a D1 binding that records each SQL text. Then each
 * one's query plan: none may scan or fully sort a table that grows with traffic.
 */
import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { PURGE_CRON } from "../../src/cron";
import worker from "../../src/index";
import { admin, registerProject } from "../helpers/admin";
import { capturingQueue, consume } from "../helpers/deliveries";
import { destinations, newScope, script } from "../helpers/doubles";
import { gitlab, run, status, submit } from "../helpers/feedback";
import { push } from "../helpers/gitlab-payloads";
import { sortsOnlyABoundedSample } from "../helpers/plans";
import { sendWebhook } from "../helpers/webhooks";

/** Tables with a row (or more) per event, feedback request or minute of traffic. */
const GROWING = [
  "deliveries",
  "content_claims",
  "delivery_targets",
  "delivery_attempts",
  "feedback",
  "inbox",
  "outcome_counts",
  "ignored_counts",
  "ignored_events",
].join("|");
const FULL_SCAN = new RegExp(`^SCAN (${GROWING})$`);
const READS_GROWING = new RegExp(`^(SCAN|SEARCH) (${GROWING})\\b`);

function recordingDb(seen: Set<string>): D1Database {
  return new Proxy(env.DB, {
    get(target, property) {
      if (property === "prepare") {
        return (sql: string) => {
          seen.add(sql);
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function plan(sql: string): Promise<string[]> {
  const numbered = [...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1]));
  const count = numbered.length > 0 ? Math.max(...numbered) : (sql.match(/\?/g) ?? []).length;
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...Array.from({ length: count }, () => 0))
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

it("no statement of the relay scans or sorts a table that grows with traffic", async () => {
  const seen = new Set<string>();
  const DB = recordingDb(seen);
  const scope = newScope();
  const p = { id: 9701, path: "plans/app" };
  const { token, id: regId } = await registerProject({ projectId: p.id, path: p.path });

  // Ingress: relayed and ignored events; the consumer: delivered, duplicate, retried, dead.
  const queued = capturingQueue();
  for (const after of ["a1", "a2", "a1", "b1"]) {
    await sendWebhook(
      { token, event: "Push Hook", body: push(p, { after: after.padEnd(40, "0") }) },
      { DB, EVENTS_QUEUE: queued.queue },
    );
  }
  await sendWebhook(
    { token, event: "Wiki Page Hook", body: { object_kind: "wiki_page", project: { id: p.id } } },
    { DB },
  );
  const [first, second, again, failing] = queued.sent;
  await consume(
    [first, second, again].map((body) => ({ body })),
    { ...destinations(scope), DB },
  );
  await script(scope, [{ status: 503 }]);
  await consume([{ body: failing }], { ...destinations(scope), DB });
  await consume(
    [{ body: failing }],
    { ...destinations(scope), DB },
    "packit-gitlab-relay-events-dlq",
  );

  // Feedback: intake and its processing against the GitLab double.
  const g = await gitlab(9702, "plans/feedback");
  const { message } = await submit("/gitlab/statuses", status(g.url, { project_id: 9702 }), { DB });
  await run([message], { DB });

  // Admin reads and replays, as the console and relayctl make them.
  const id = first?.delivery_id ?? "";
  for (const path of [
    "/deliveries",
    `/deliveries?project_id=${p.id}`,
    "/deliveries?status=dead",
    `/deliveries?project_id=${p.id}&status=delivered`,
    "/deliveries?kind=push",
    `/deliveries?since=${new Date(Date.now() - 3600_000).toISOString()}`,
    `/deliveries/${id}`,
    `/deliveries/${id}/body`,
    "/stats",
    "/overview",
    "/projects",
    `/projects/${regId}`,
    "/instances",
    "/feedback",
    "/feedback?state=failed",
  ]) {
    expect((await admin("GET", path, undefined, { DB })).status, path).toBe(200);
  }
  const replays = capturingQueue();
  expect(
    (
      await admin("POST", `/deliveries/${id}/replay`, undefined, {
        DB,
        EVENTS_QUEUE: replays.queue,
      })
    ).status,
  ).toBe(202);
  expect(
    (
      await admin(
        "POST",
        "/deliveries/replay",
        { status: "dead" },
        {
          DB,
          EVENTS_QUEUE: replays.queue,
        },
      )
    ).status,
  ).toBe(202);

  // Both crons: the minute's sweeps and the nightly purge.
  for (const cron of ["* * * * *", PURGE_CRON]) {
    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ cron, scheduledTime: Date.now() }),
      { ...env, DB },
      ctx,
    );
  }

  const statements = [...seen].filter((sql) =>
    /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql),
  );
  // The flows above really ran: every part of the relay left statements here.
  expect(statements.length).toBeGreaterThan(40);
  const offenders: string[] = [];
  for (const sql of statements) {
    const details = await plan(sql);
    const growing = details.some((d) => READS_GROWING.test(d));
    // Sorting the groups of an aggregate (a handful of reasons) is not sorting the rows.
    const sortsRows = growing && !/\bGROUP BY\b/i.test(sql) && !sortsOnlyABoundedSample(sql);
    const bad = details.filter(
      (d) => FULL_SCAN.test(d) || (sortsRows && d === "USE TEMP B-TREE FOR ORDER BY"),
    );
    if (bad.length > 0) {
      offenders.push(`${bad.join(", ")}\n  in: ${sql.replace(/\s+/g, " ").slice(0, 300)}`);
    }
  }
  expect(offenders).toEqual([]);
});
