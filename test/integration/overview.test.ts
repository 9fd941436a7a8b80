/**
 * GET /admin/overview against a delivery log the test builds through the real ingress and
 * consumer, and the query plans behind it: the console never scans the delivery log.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { OVERVIEW_QUERIES } from "../../src/storage/overview-repo";
import { admin, field, registerProject } from "../helpers/admin";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, script } from "../helpers/doubles";
import { push } from "../helpers/gitlab-payloads";
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

describe("the console's queries use indexes", () => {
  const LARGE =
    /^SCAN (deliveries|delivery_attempts|delivery_targets|feedback|outcome_counts|ignored_counts)\b/;

  it.each(Object.entries(OVERVIEW_QUERIES))("%s", async (_name, sql) => {
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...Array.from({ length: (sql.match(/\?\d/g) ?? []).length }, () => 0))
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.length).toBeGreaterThan(0);
    for (const detail of details) {
      expect(detail).not.toMatch(LARGE);
    }
  });
});
