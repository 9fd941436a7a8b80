import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { batchWindow } from "../../src/storage/batch-window";
import { registerProject } from "../helpers/admin";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, received } from "../helpers/doubles";
import { push } from "../helpers/gitlab-payloads";

/** env.DB, with the statements of every `batch` call it was handed. */
function countingDb() {
  const calls: string[][] = [];
  const db = new Proxy(env.DB, {
    get(target, prop, receiver) {
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          calls.push(statements.map((s) => (s as unknown as { statement: string }).statement));
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, calls };
}

const insert = (key: string) => env.DB.prepare("INSERT INTO window_test (k) VALUES (?1)").bind(key);

describe("combined D1 batches", () => {
  beforeAll(async () => {
    await env.DB.prepare("CREATE TABLE window_test (k TEXT PRIMARY KEY)").run();
  });

  it("sends what callers hand over together as one batch, each caller getting its results", async () => {
    const { db, calls } = countingDb();
    const run = batchWindow(db);
    const [a, b, c] = await Promise.all([
      run([insert("a1"), env.DB.prepare("SELECT 'a' AS who")]),
      run([env.DB.prepare("SELECT 'b' AS who")]),
      run([insert("c1"), insert("c2"), env.DB.prepare("SELECT 'c' AS who")]),
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(6);
    expect(a?.map((r) => r.results)).toEqual([[], [{ who: "a" }]]);
    expect(b?.map((r) => r.results)).toEqual([[{ who: "b" }]]);
    expect(c?.at(-1)?.results).toEqual([{ who: "c" }]);
  });

  it("keeps a failing caller's failure its own: the others' writes land, none of its own", async () => {
    const { db, calls } = countingDb();
    const run = batchWindow(db);
    const outcomes = await Promise.allSettled([
      run([insert("ok1")]),
      run([insert("half"), insert("ok1")]), // the second statement breaks the primary key
      run([insert("ok2")]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // One combined try, then each on its own.
    expect(calls).toHaveLength(4);
    const { results } = await env.DB.prepare(
      "SELECT k FROM window_test WHERE k IN ('ok1', 'ok2', 'half') ORDER BY k",
    ).all<{ k: string }>();
    expect(results.map((r) => r.k)).toEqual(["ok1", "ok2"]);
  });

  it("splits what is pending into calls of at most 100 statements", async () => {
    const { db, calls } = countingDb();
    const run = batchWindow(db);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        run(Array.from({ length: 7 }, (_, j) => insert(`split-${i}-${j}`))),
      ),
    );
    expect(calls.map((c) => c.length)).toEqual([98, 98, 14]);
  });

  it("claims a queue batch's deliveries in fewer D1 round trips than messages", async () => {
    const p = { id: 9801, path: "window/claims" };
    const { token } = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const messages = [];
    for (let i = 0; i < 10; i++) {
      const after = crypto.randomUUID().replaceAll("-", "").padEnd(40, "5");
      messages.push(await ingest({ token, event: "Push Hook", body: push(p, { after }) }));
    }
    const { db, calls } = countingDb();
    await consume(
      messages.map((body) => ({ body })),
      { ...destinations(scope), DB: db },
    );
    expect(await received(scope, "/api/webhooks/gitlab")).toHaveLength(10);
    const claimCalls = calls.filter((c) => c.some((s) => s.includes("INTO content_claims")));
    const claims = claimCalls.flat().filter((s) => s.includes("INTO content_claims"));
    expect(claims).toHaveLength(10);
    expect(claimCalls.length).toBeLessThan(10);
  });
});
