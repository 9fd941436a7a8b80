/**
 * The bench build (`npm run bench` only, never deployed): the relay as src/index.ts exports
 * it, with its D1 binding counted. Every call that goes to D1 is one round trip (`batch`,
 * and a statement's `first`/`all`/`run`/`raw`); statements are counted too (a batch holds
 * several). GET /__bench/d1 reads the counts, POST /__bench/d1 zeroes them.
 */
import relay from "../src/index";

type Counts = {
  round_trips: number;
  statements: number;
  /** What D1 bills by, as its results report them. */
  rows_read: number;
  rows_written: number;
  by_handler: Record<string, number>;
  /** Queue handler invocations and their summed wall time. */
  queue_batches: number;
  queue_ms: number;
  /** Summed wall time of D1 batches (concurrent ones each counted). */
  d1_batch_ms: number;
};
const counts: Counts = {
  round_trips: 0,
  statements: 0,
  rows_read: 0,
  rows_written: 0,
  by_handler: {},
  queue_batches: 0,
  queue_ms: 0,
  d1_batch_ms: 0,
};
let current = "fetch";
let patched = false;

function count(statements: number): void {
  counts.round_trips += 1;
  counts.statements += statements;
  counts.by_handler[current] = (counts.by_handler[current] ?? 0) + 1;
}

function addRows(result: unknown): void {
  const meta = (result as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
  counts.rows_read += meta?.rows_read ?? 0;
  counts.rows_written += meta?.rows_written ?? 0;
}

/** D1's client classes are plain JavaScript: wrap their prototypes' calls once. */
function patch(db: D1Database): void {
  if (patched) {
    return;
  }
  patched = true;
  const dbProto = Object.getPrototypeOf(db) as D1Database;
  const batch = dbProto.batch;
  dbProto.batch = async function (this: D1Database, statements: D1PreparedStatement[]) {
    count(statements.length);
    const started = Date.now();
    const results = await batch.call(this, statements);
    counts.d1_batch_ms += Date.now() - started;
    for (const result of results) {
      addRows(result);
    }
    return results;
  } as D1Database["batch"];
  const statementProto = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  for (const name of ["all", "run"]) {
    const original = statementProto[name];
    if (original) {
      statementProto[name] = async function (this: unknown, ...args: unknown[]) {
        count(1);
        const result = await original.apply(this, args);
        addRows(result);
        return result;
      };
    }
  }
  for (const name of ["first", "raw"]) {
    const original = statementProto[name];
    if (original) {
      statementProto[name] = function (this: unknown, ...args: unknown[]) {
        count(1);
        return original.apply(this, args);
      };
    }
  }
}

export default {
  async fetch(request, env, ctx) {
    patch(env.DB);
    const url = new URL(request.url);
    if (url.pathname === "/__bench/d1") {
      if (request.method === "POST") {
        counts.round_trips = 0;
        counts.statements = 0;
        counts.rows_read = 0;
        counts.rows_written = 0;
        counts.by_handler = {};
        counts.queue_batches = 0;
        counts.queue_ms = 0;
        counts.d1_batch_ms = 0;
      }
      return Response.json(counts);
    }
    if (url.pathname === "/__bench/sink") {
      // The floor for a request with a body: read it, answer 202, nothing else.
      await request.arrayBuffer();
      return new Response(null, { status: 202 });
    }
    current = "fetch";
    return relay.fetch(request, env, ctx);
  },
  async queue(batch, env, ctx) {
    patch(env.DB);
    current = "queue";
    const started = Date.now();
    await relay.queue(batch, env, ctx);
    counts.queue_batches += 1;
    counts.queue_ms += Date.now() - started;
  },
  async scheduled(controller, env, ctx) {
    patch(env.DB);
    current = "scheduled";
    await relay.scheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<Env>;
