/**
 * D1 batches from concurrent callers, sent as one: a queue batch's ten claims (or the
 * records of the forwards that finish together) cost one round trip instead of ten. D1 runs
 * a batch as one transaction, its statements in order, so each caller's statements keep
 * their order and their neighbours (`changes()` still reads the statement just before).
 *
 * Isolation is kept: should the combined batch fail, each caller's statements run again
 * on their own, so one caller's failure is its own (a batch that failed wrote nothing).
 */

/** Statements per D1 call at most; more pending ones go in further calls. */
const MAX_STATEMENTS = 100;

type Pending = {
  statements: D1PreparedStatement[];
  resolve: (results: D1Result[]) => void;
  reject: (error: unknown) => void;
};

export type BatchRunner = (statements: D1PreparedStatement[]) => Promise<D1Result[]>;

/** Runs each batch at once: what a request handler uses (nothing to combine with). */
export function directBatches(db: D1Database): BatchRunner {
  return (statements) => db.batch(statements);
}

/**
 * Combines the batches handed to it within `windowMs` of the first one (0: the batches
 * handed over before the event loop's next turn).
 */
export function batchWindow(db: D1Database, windowMs = 0): BatchRunner {
  let pending: Pending[] = [];
  let scheduled = false;

  async function runAlone(group: Pending): Promise<void> {
    try {
      group.resolve(await db.batch(group.statements));
    } catch (err) {
      group.reject(err);
    }
  }

  async function send(groups: Pending[]): Promise<void> {
    if (groups.length === 1 && groups[0]) {
      return runAlone(groups[0]);
    }
    let results: D1Result[];
    try {
      results = await db.batch(groups.flatMap((g) => g.statements));
    } catch {
      await Promise.all(groups.map(runAlone));
      return;
    }
    let at = 0;
    for (const group of groups) {
      group.resolve(results.slice(at, at + group.statements.length));
      at += group.statements.length;
    }
  }

  function flush(): void {
    scheduled = false;
    const groups = pending;
    pending = [];
    let chunk: Pending[] = [];
    let size = 0;
    for (const group of groups) {
      if (chunk.length > 0 && size + group.statements.length > MAX_STATEMENTS) {
        void send(chunk);
        chunk = [];
        size = 0;
      }
      chunk.push(group);
      size += group.statements.length;
    }
    if (chunk.length > 0) {
      void send(chunk);
    }
  }

  return (statements) =>
    new Promise<D1Result[]>((resolve, reject) => {
      pending.push({ statements, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, windowMs);
      }
    });
}
