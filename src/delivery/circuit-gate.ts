/**
 * The circuit breakers at work (decisions in circuit.ts, state in D1 shared by every
 * consumer): `admit` before calling a destination, `report` after. A closed circuit is read
 * from an isolate cache (a few seconds), so a healthy destination costs no extra D1 read;
 * every change is a compare-and-set. When a probe closes a circuit, the deliveries parked
 * behind it are sent back to the queue at once (`drainParked`).
 *
 * The breaker's own trouble (D1 unreachable) never stops or repeats a delivery: `admit` then
 * lets the call through, `report` and `drainParked` log and carry on. A throw after a
 * successful forward would send the event again when the queue retries it.
 */
import type { QueueMessage } from "../domain/queue-message";
import { fromStored } from "../domain/stored-message";
import { sendInBatches } from "../events/send-batches";
import { log } from "../lib/logger";
import { TtlCache } from "../lib/ttl-cache";
import type { CircuitsRepo } from "../storage/circuits-repo";
import {
  type Admission,
  afterCall,
  type Circuit,
  type CircuitSettings,
  changed,
  closedCircuit,
  admission as decide,
  probing,
} from "./circuit";
import type { AttemptOutcome } from "./forward";

/** How many parked deliveries one close re-drives; the rest follow their own retries. */
const DRAIN_LIMIT = 1000;
const cache = new TtlCache<string, Circuit>(16, 5_000);

export type CircuitDeps = {
  circuits: Pick<CircuitsRepo, "all" | "get" | "put" | "parked" | "unpark">;
  queue: Pick<Queue<QueueMessage>, "sendBatch">;
  settings: CircuitSettings;
  /** How long a probe may take before another delivery may probe instead. */
  probeMs: number;
  now: () => number;
};

export function forgetCircuits(): void {
  cache.clear();
}

async function read(deps: CircuitDeps, destination: string): Promise<Circuit> {
  const fresh = (await deps.circuits.get(destination)) ?? closedCircuit(destination);
  cache.set(destination, fresh, deps.now());
  return fresh;
}

async function write(deps: CircuitDeps, next: Circuit): Promise<Circuit | null> {
  if (!(await deps.circuits.put(next, deps.now()))) {
    return null;
  }
  const written = { ...next, version: next.version + 1 };
  cache.set(next.destination, written, deps.now());
  return written;
}

export async function admit(
  deps: CircuitDeps,
  destination: string,
): Promise<{ admission: Admission; circuit: Circuit }> {
  try {
    return await admitOrThrow(deps, destination);
  } catch (err) {
    log("warn", "circuit state unreadable: calling the destination", {
      destination,
      error: String(err),
    });
    return { admission: "call", circuit: closedCircuit(destination) };
  }
}

async function admitOrThrow(
  deps: CircuitDeps,
  destination: string,
): Promise<{ admission: Admission; circuit: Circuit }> {
  const circuit = cache.get(destination, deps.now()) ?? (await read(deps, destination));
  const verdict = decide(circuit, deps.now());
  if (verdict !== "probe") {
    return { admission: verdict, circuit };
  }
  // One probe at a time: whoever writes half-open first probes; the others park.
  const probe = await write(deps, probing(circuit, deps.now(), deps.probeMs));
  if (probe) {
    log("info", "circuit half-open: probing", { destination });
    return { admission: "probe", circuit: probe };
  }
  return { admission: "park", circuit: await read(deps, destination) };
}

/**
 * Records a call's outcome; true when it ended a run of failures (an open circuit closed, or
 * a closed one's failure count went back to 0): the destination is back, and the caller
 * drains what waits for it.
 */
export async function report(
  deps: CircuitDeps,
  circuit: Circuit,
  outcome: AttemptOutcome,
  retryAfterSeconds: number | null,
): Promise<boolean> {
  try {
    return await reportOrThrow(deps, circuit, outcome, retryAfterSeconds);
  } catch (err) {
    log("warn", "circuit state not recorded", {
      destination: circuit.destination,
      error: String(err),
    });
    return false;
  }
}

async function reportOrThrow(
  deps: CircuitDeps,
  circuit: Circuit,
  outcome: AttemptOutcome,
  retryAfterSeconds: number | null,
): Promise<boolean> {
  let current = circuit;
  for (let tries = 0; tries < 2; tries++) {
    const next = afterCall(current, outcome, deps.now(), deps.settings, retryAfterSeconds);
    if (!changed(current, next)) {
      return false;
    }
    if (await write(deps, next)) {
      if (next.state === "open" && current.state !== "open") {
        log("warn", "circuit open: destination left alone until a probe", {
          destination: next.destination,
          failures: next.failures,
          retry_at: new Date(next.retry_at ?? 0).toISOString(),
        });
      }
      return next.state === "closed" && (current.state !== "closed" || current.failures > 0);
    }
    current = await read(deps, circuit.destination);
  }
  return false;
}

/** Sends the deliveries parked behind a circuit (`destination`'s) back to the queue at once. */
export async function drainParked(
  deps: CircuitDeps,
  circuitKey: string,
  destination: string,
): Promise<number> {
  const rows = await deps.circuits.parked(destination, deps.now(), DRAIN_LIMIT).catch((err) => {
    // They keep their own retries; the stale-row sweep is the backstop.
    log("warn", "could not find the deliveries waiting for a destination", {
      destination: circuitKey,
      error: String(err),
    });
    return [];
  });
  // Rebuilt for the row's current generation: a replayed delivery's copy must not be stale.
  const items = rows.flatMap((row) => {
    const message = fromStored(row);
    return message ? [{ ref: row.id, message }] : [];
  });
  let sent = 0;
  await sendInBatches(
    deps.queue,
    items,
    async (refs) => {
      sent += refs.length;
    },
    async (refs, err) => {
      // They keep their own retries; the stale-row sweep is the backstop.
      log("warn", "could not re-drive parked deliveries", {
        count: refs.length,
        error: String(err),
      });
    },
  );
  log("info", "destination back: waiting deliveries re-driven", {
    destination: circuitKey,
    count: sent,
  });
  return sent;
}

/**
 * Asked by a delivery that parked behind `circuitKeys`, once its park is recorded: when every
 * one of them is closed now (read fresh, which also corrects this isolate's cache), the
 * delivery is due in `delaySeconds` rather than after its park. A probe that closed a circuit
 * meanwhile drained only the parks already written, and a park decided on an isolate's cached
 * "open" may be written after another isolate's drain: without this such a delivery would
 * wait out its whole park. False when D1 cannot say: the park stands, with its own retry and
 * the minute's cron as backstops.
 */
export async function unparkIfClosed(
  deps: CircuitDeps,
  circuitKeys: readonly string[],
  delivery: { id: string; generation: number; delaySeconds: number },
): Promise<boolean> {
  try {
    for (const key of circuitKeys) {
      if ((await read(deps, key)).state !== "closed") {
        return false;
      }
    }
    const now = deps.now();
    await deps.circuits.unpark(
      delivery.id,
      delivery.generation,
      now + delivery.delaySeconds * 1000,
      now,
    );
    return true;
  } catch (err) {
    log("warn", "could not look at a circuit again after parking", {
      delivery_id: delivery.id,
      error: String(err),
    });
    return false;
  }
}

/**
 * Cron, every minute: each configured destination whose circuit's wait is over gets one of
 * its parked deliveries back, which the consumer admits as the probe. Without it an outage
 * that ends while no new event arrives would be noticed only when a parked delivery's own
 * wait (15 minutes) ran out. `circuitKeys` are the configured ones: a circuit left by an old
 * URL is never probed.
 */
export async function probeDue(deps: CircuitDeps, circuitKeys: readonly string[]): Promise<number> {
  const now = deps.now();
  const due = (await deps.circuits.all()).filter(
    (c) =>
      circuitKeys.includes(c.destination) && c.state !== "closed" && decide(c, now) === "probe",
  );
  let sent = 0;
  for (const circuit of due) {
    const destination = circuit.destination.slice(0, circuit.destination.indexOf(" "));
    const rows = await deps.circuits.parked(destination, now, 1);
    const items = rows.flatMap((row) => {
      const message = fromStored(row);
      return message ? [{ ref: row.id, message }] : [];
    });
    await sendInBatches(
      deps.queue,
      items,
      async (refs) => {
        sent += refs.length;
        log("info", "circuit wait over: a parked delivery sent to probe", {
          destination: circuit.destination,
          delivery_id: refs[0],
        });
      },
      async (refs, err) => {
        log("warn", "could not send a probe", { count: refs.length, error: String(err) });
      },
    );
  }
  return sent;
}
