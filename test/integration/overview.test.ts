/**
 * GET /admin/overview against a delivery log the test builds through the real ingress and
 * consumer, and the query plans behind it: the console never scans the delivery log.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DeliveriesRepo } from "../../src/storage/deliveries-repo";
import { deliveryLogQuery, PURGE_CHUNK } from "../../src/storage/delivery-log-query";
import { INGRESS_SAMPLE, OVERVIEW_QUERIES } from "../../src/storage/overview-repo";
import { admin, field, registerProject } from "../helpers/admin";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, script } from "../helpers/doubles";
import { push } from "../helpers/gitlab-payloads";
import { sortsOnlyABoundedSample } from "../helpers/plans";
import { sendWebhook } from "../helpers/webhooks";

const PROJECT = { id: 8080, path: "overview/app" };

describe("GET /admin/overview", () => {
  it("counts each outcome of the last 24 hours, the backlog and what failed", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path });
    const scope = newScope();
    const send = (after: string) =>
      ingest({ token, event: "Push Hook", body: push(PROJECT, { after: after.padEnd(40, "0") }) });
    const delivered = [await send("a1"), await send("a2")];
    await consume(
      delivered.map((body) => ({ body })),
      destinations(scope),
    );
    // The same event again (a redelivery under another id): a duplicate.
    const again = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "a1".padEnd(40, "0") }),
    });
    await consume([{ body: again }], destinations(scope));
    await script(scope, [{ status: 503 }, { status: 400, body: "bad" }]);
    await consume([{ body: await send("b1") }], destinations(scope));
    await consume([{ body: await send("b2") }], destinations(scope));
    // An ignored kind, counted per minute at ingress.
    const ignored = await sendWebhook({
      token,
      event: "Wiki Page Hook",
      body: { object_kind: "wiki_page", project: { id: PROJECT.id } },
    });
    expect(ignored.status).toBe(202);

    const res = await admin("GET", "/overview");
    expect(res.status).toBe(200);
    expect(field(res.body, "totals")).toMatchObject({
      delivered: 2,
      duplicate: 1,
      retrying: 1,
      rejected: 1,
      ignored: 1,
    });
    const minutes = field<Record<string, number>[]>(res.body, "per_minute");
    const summed = minutes.reduce((n, m) => n + (m.delivered ?? 0), 0);
    expect(summed).toBe(2);
    expect(field(res.body, "backlog")).toMatchObject({ retrying: 1 });
    expect(field<string | null>(res.body, "backlog", "oldest_received_at")).toMatch(/^\d{4}-/);
    expect(field(res.body, "failed_in_retention")).toMatchObject({ rejected: 1, dead: 0 });
    expect(field<{ count: number }>(res.body, "ingress_ms").count).toBeGreaterThanOrEqual(4);
  });
});

describe("ingress p50 and p99, computed in D1", () => {
  // Rows far in the future, so that nothing else the tests write falls in the window.
  const from = Date.now() + 10 * 365 * 24 * 3600 * 1000;
  const nearestRank = (sorted: number[], p: number) =>
    sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];

  /** `count` deliveries received from `start` on, one per ms, the i-th taking `ms(i)`. */
  async function seed(prefix: string, count: number, start: number, ms: string) {
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
       INSERT INTO deliveries (id, dedupe_key, content_hash, kind, status, received_at, message, updated_at, ingress_ms)
       SELECT ?2 || i, ?2 || i, ?2 || i, 'push', 'delivered', ?3 + i, '{}', ?3, ${ms} FROM n`,
    )
      .bind(count, prefix, start)
      .run();
  }
  const read = async (since: number) =>
    await env.DB.prepare(OVERVIEW_QUERIES.ingress)
      .bind(since)
      .first<{ count: number; p50: number | null; p99: number | null }>();

  it("takes the nearest rank of the newest sample, as a sorted list would", async () => {
    // The sample's older neighbours are slow: they must not count.
    await seed("old-", 300, from, "90000");
    await seed("new-", INGRESS_SAMPLE, from + 1000, "(i * 7919) % 1013");
    const times = Array.from({ length: INGRESS_SAMPLE }, (_, i) => (i * 7919) % 1013);
    const sorted = [...times].sort((a, b) => a - b);
    expect(await read(from)).toEqual({
      count: INGRESS_SAMPLE,
      p50: nearestRank(sorted, 50),
      p99: nearestRank(sorted, 99),
    });
    // A short window: the newest three.
    const lastThree = times.slice(-3).sort((a, b) => a - b);
    expect(await read(from + 1000 + INGRESS_SAMPLE - 3)).toEqual({
      count: 3,
      p50: lastThree[1],
      p99: lastThree[2],
    });
  });

  it("answers a count of 0 and no percentiles for an empty window", async () => {
    expect(await read(from * 2)).toEqual({ count: 0, p50: null, p99: null });
  });
});

describe("the console's queries use indexes", () => {
  // A table scan without an index, or a sort of every matching row, on a table that grows
  // with traffic. An index walked in order with a LIMIT is fine, and so is sorting only the
  // ties of the indexed order ("LAST TERM OF ORDER BY"); small tables (registrations,
  // connections: one row per project) may be sorted.
  const LARGE =
    "deliveries|delivery_attempts|delivery_targets|feedback|outcome_counts|ignored_counts";
  const FULL_SCAN = new RegExp(`^SCAN (${LARGE})$`);

  const READS_LARGE = new RegExp(`^(SCAN|SEARCH) (${LARGE})\\b`);

  async function plan(sql: string, binds: unknown[]) {
    const result = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...binds)
      .all<{ detail: string }>();
    return result.results.map((r) => r.detail);
  }

  function expectIndexed(details: string[], sql = "") {
    expect(details.length).toBeGreaterThan(0);
    const large = details.some((d) => READS_LARGE.test(d)) && !sortsOnlyABoundedSample(sql);
    for (const detail of details) {
      expect(detail).not.toMatch(FULL_SCAN);
      if (large) {
        expect(detail).not.toMatch(/^USE TEMP B-TREE FOR ORDER BY$/);
      }
    }
  }

  it.each(Object.entries(OVERVIEW_QUERIES))("overview: %s", async (_name, sql) => {
    // ?1 may appear more than once: bind as many values as the highest number.
    const numbers = [...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1]));
    const binds = Array.from({ length: Math.max(0, ...numbers) }, () => 0);
    expectIndexed(await plan(sql, binds), sql);
  });

  it.each([
    ["a project", { projectId: 1 }, "deliveries_project"],
    ["a status", { status: "dead" as const }, "deliveries_status"],
    ["a project and a status", { projectId: 1, status: "dead" as const }, "deliveries_"],
    ["a kind", { kind: "push" }, "deliveries_received"],
    ["a time range", { since: 1, until: 2 }, "deliveries_received"],
    ["nothing", {}, "deliveries_received"],
  ])("the delivery log filtered by %s", async (_name, filter, index) => {
    const { sql, binds } = deliveryLogQuery(filter, 50, { receivedAt: 5, id: "x" });
    const details = await plan(sql, binds);
    expect(details.join(" | ")).toContain(`INDEX ${index}`);
    expectIndexed(details);
  });
});

describe("the retention purge", () => {
  it("deletes in chunks on the received_at index, whatever the backlog", async () => {
    const old = Date.now() - 30 * 24 * 3600 * 1000;
    const rows = PURGE_CHUNK * 2 + 500;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO deliveries (id, dedupe_key, content_hash, kind, status, received_at, message, updated_at)
       SELECT 'purge-' || i, 'k-' || i, 'h-' || i, 'push', 'delivered', ?2 + i, '{}', ?2 FROM n`,
    )
      .bind(rows, old)
      .run();
    const fresh = await registerProject({ projectId: 8181, path: "overview/fresh" });
    const kept = await ingest({
      token: fresh.token,
      event: "Push Hook",
      body: push({ id: 8181, path: "overview/fresh" }),
    });
    await consume([{ body: kept }], destinations(newScope()));
    const purged = await new DeliveriesRepo(env.DB).purge(
      Date.now() - 14 * 24 * 3600 * 1000,
      Date.now() - 24 * 3600 * 1000,
    );
    expect(purged).toBe(rows);
    const left = await env.DB.prepare(
      "SELECT count(*) AS n FROM deliveries WHERE id LIKE 'purge-%'",
    ).first<{ n: number }>();
    expect(left?.n).toBe(0);
    expect(field((await admin("GET", `/deliveries/${kept.delivery_id}`)).body, "status")).toBe(
      "delivered",
    );
    const plan = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE received_at < ?1 ORDER BY received_at LIMIT ?2",
    )
      .bind(0, 1)
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(" | ")).toContain("INDEX deliveries_received");
  });

  it("drops content-hash claims once the dedupe window has passed", async () => {
    const day = 24 * 3600 * 1000;
    const twoDaysAgo = Date.now() - 2 * day;
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO content_claims (hash, delivery_id, claimed_at) VALUES ('old-hash', 'x', ?1), ('new-hash', 'y', ?2)",
      ).bind(twoDaysAgo, Date.now()),
    ]);
    await new DeliveriesRepo(env.DB).purge(Date.now() - 14 * day, Date.now() - day);
    const hashes = await env.DB.prepare(
      "SELECT hash FROM content_claims WHERE hash IN ('old-hash', 'new-hash')",
    ).all<{ hash: string }>();
    expect(hashes.results.map((r) => r.hash)).toEqual(["new-hash"]);
    const plan = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT hash FROM content_claims WHERE claimed_at < ?1 LIMIT ?2",
    )
      .bind(0, 1)
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(" | ")).toContain("content_claims_claimed");
  });
});
