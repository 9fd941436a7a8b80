/**
 * Migrations that move data, run on data written before them: the database is emptied,
 * migrated up to the one before, filled the old way, then migrated the rest of the way.
 */
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";

async function emptyDatabase(): Promise<void> {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  await env.DB.batch([
    env.DB.prepare("PRAGMA defer_foreign_keys = true"),
    ...results.map((r) => env.DB.prepare(`DROP TABLE "${r.name}"`)),
  ]);
}

function migrationsBefore(name: string) {
  const at = env.TEST_MIGRATIONS.findIndex((m) => m.name.startsWith(name));
  expect(at).toBeGreaterThan(0);
  return { before: env.TEST_MIGRATIONS.slice(0, at), rest: env.TEST_MIGRATIONS };
}

describe("0010: destinations and attempts clustered, content-hash claims in their own table", () => {
  const now = Date.now();
  const hash = "c".repeat(64);

  beforeAll(async () => {
    await emptyDatabase();
    const { before, rest } = migrationsBefore("0010");
    await applyD1Migrations(env.DB, before);
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO deliveries (id, dedupe_key, content_hash, kind, status, attempts, received_at, message, updated_at)
         VALUES ('d-1', 'ik_1', '', 'push', 'retrying', 2, ?1, '{}', ?1)`,
      ).bind(now),
      env.DB.prepare(
        "INSERT INTO delivery_keys (key, delivery_id, claimed_at) VALUES ('k:ik_1', 'd-1', ?1), (?2, 'd-1', ?1)",
      ).bind(now, `h:${hash}`),
      env.DB.prepare(
        `INSERT INTO delivery_targets (delivery_id, destination, status, attempts, last_status_code)
         VALUES ('d-1', 'packit', 'retrying', 2, 503)`,
      ),
      // Two attempts, the second one in the same millisecond as the first.
      env.DB.prepare(
        `INSERT INTO delivery_attempts (delivery_id, destination, attempted_at, outcome, status_code, duration_ms)
         VALUES ('d-1', 'packit', ?1, 'transient', 503, 12), ('d-1', 'packit', ?2, 'transient', 502, 9),
           ('d-1', 'packit', ?2, 'transient', 504, 9)`,
      ).bind(now - 60_000, now),
    ]);
    await applyD1Migrations(env.DB, rest);
  });

  it("moves content-hash claims (128 bits of them); the log's own index holds dedupe keys", async () => {
    const claims = await env.DB.prepare(
      "SELECT hash, delivery_id, claimed_at FROM content_claims",
    ).all();
    expect(claims.results).toEqual([
      { hash: hash.slice(0, 32), delivery_id: "d-1", claimed_at: now },
    ]);
    const plan = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE dedupe_key = 'ik_1'",
    ).all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join()).toContain("deliveries_dedupe");
  });

  it("keeps every destination and attempt, one of two in the same millisecond", async () => {
    const targets = await env.DB.prepare(
      "SELECT delivery_id, destination, status, attempts, last_status_code FROM delivery_targets",
    ).all();
    expect(targets.results).toEqual([
      {
        delivery_id: "d-1",
        destination: "packit",
        status: "retrying",
        attempts: 2,
        last_status_code: 503,
      },
    ]);
    const attempts = await env.DB.prepare(
      "SELECT attempted_at, status_code FROM delivery_attempts WHERE delivery_id = 'd-1' ORDER BY attempted_at",
    ).all();
    expect(attempts.results).toEqual([
      { attempted_at: now - 60_000, status_code: 503 },
      { attempted_at: now, status_code: 502 },
    ]);
  });

  it("deletes a delivery's destinations and attempts with it, and leaves none of the rebuild's scaffolding behind", async () => {
    await env.DB.prepare("DELETE FROM deliveries WHERE id = 'd-1'").run();
    const left = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM delivery_targets) + (SELECT count(*) FROM delivery_attempts) AS n",
    ).first<{ n: number }>();
    expect(left?.n).toBe(0);
    const { results } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE name IN ('delivery_targets_v2', 'delivery_attempts_v2', 'delivery_keys')",
    ).all();
    expect(results).toEqual([]);
  });
});
