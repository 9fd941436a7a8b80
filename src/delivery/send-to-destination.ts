/**
 * One destination's part of a delivery: prepare the request, ask its circuit, forward once,
 * tell the circuit how it went, log it. All of it under one of the invocation's forward
 * slots, so a forward's timeout (and packit's five-minute JWT) runs only while it can use a
 * connection, and forwards queued behind a failing destination see its circuit open instead
 * of calling it.
 */
import { type Config, deliveryTimings } from "../config";
import type { AttemptRecord } from "../domain/delivery-state";
import { log } from "../lib/logger";
import type { Slots } from "../lib/slots";
import { admit, type CircuitDeps, drainParked, report } from "./circuit-gate";
import { targetStatusOf } from "./delivery-outcome";
import type { Destination, Prepared } from "./destinations";
import { attempt } from "./forward";

/**
 * How long a delivery parked behind an open circuit waits before it looks again. The drain
 * brings it back as soon as the destination recovers; this bound only keeps Queues'
 * max_retries (100) from dead-lettering it early: 100 parks of 15 min outlast the 24 h
 * retry window, where parks of a minute would give up after under two hours of outage.
 */
const PARK_SECONDS = 900;

export type SendDeps = {
  config: Config;
  circuits: CircuitDeps;
  fetcher: typeof fetch;
  /** Forwards at once in this invocation (Workers: six open connections). */
  forwardSlots: Slots;
  now: () => number;
  random: () => number;
};

/** One circuit per destination and URL: a new URL starts closed. */
export function circuitKeyFor(destination: Destination, config: Config): string {
  return `${destination} ${destination === "packit" ? config.PACKIT_SERVICE_URL : config.EVENTS_URL}`;
}

export function attemptRecord(
  destination: Destination,
  targetStatus: AttemptRecord["targetStatus"],
  outcome: string,
  statusCode: number | null,
  error: string | null,
  durationMs: number,
): AttemptRecord {
  return { destination, targetStatus, outcome, statusCode, error, durationMs };
}

/** `parkedBehind`: the circuit it parked behind, when it did not call the destination. */
type Sent = { record: AttemptRecord; retryAfter: number | null; parkedBehind?: string };

export async function sendToDestination(
  destination: Destination,
  prepare: () => Promise<Prepared>,
  deps: SendDeps,
  logFields: Record<string, unknown>,
): Promise<Sent> {
  const release = await deps.forwardSlots.acquire();
  try {
    const prepared = await prepare();
    if (prepared.outcome === "skip") {
      return { record: skipped(destination, prepared.reason), retryAfter: null };
    }
    if (prepared.outcome === "config_error") {
      // Off until the setting is fixed (reported by /healthz): not an attempt, not retried;
      // a replay after the fix delivers it.
      log("error", "destination misconfigured", {
        ...logFields,
        destination,
        error: prepared.reason,
      });
      return { record: skipped(destination, prepared.reason), retryAfter: null };
    }
    return await sendHolding(destination, prepared.request, deps, logFields);
  } finally {
    release();
  }
}

function skipped(destination: Destination, reason: string): AttemptRecord {
  return attemptRecord(destination, "skipped", "skipped", null, reason, 0);
}

async function sendHolding(
  destination: Destination,
  request: Request,
  deps: SendDeps,
  logFields: Record<string, unknown>,
): Promise<Sent> {
  const circuitKey = circuitKeyFor(destination, deps.config);
  const gate = await admit(deps.circuits, circuitKey);
  if (gate.admission === "park") {
    // The destination keeps failing: leave it alone, wait for the probe's verdict.
    const probeAt = gate.circuit.retry_at ?? gate.circuit.probe_until ?? deps.now();
    const waitSeconds = Math.max(PARK_SECONDS, Math.ceil((probeAt - deps.now()) / 1000));
    const parked = attemptRecord(
      destination,
      "retrying",
      "skipped",
      null,
      `circuit open: not called; next probe ${new Date(probeAt).toISOString()}`,
      0,
    );
    return {
      record: parked,
      retryAfter: waitSeconds + Math.floor(deps.random() * 60),
      parkedBehind: circuitKey,
    };
  }
  const result = await attempt(
    request,
    deps.fetcher,
    deps.now,
    destination === "packit" ? "PACKIT_SERVICE_URL" : "EVENTS_URL",
    deliveryTimings(deps.config).forwardTimeoutMs,
  );
  if (await report(deps.circuits, gate.circuit, result.outcome, result.retryAfterSeconds)) {
    await drainParked(deps.circuits, circuitKey, destination);
  }
  // A failed attempt has its own line; a delivered one is in its queue batch's line.
  if (result.outcome !== "delivered") {
    const misconfigured = result.error?.startsWith("configuration error") === true;
    log(misconfigured ? "error" : "warn", "delivery attempt", {
      ...logFields,
      destination,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      ...(misconfigured ? { error: result.error } : {}),
    });
  }
  return {
    record: attemptRecord(
      destination,
      targetStatusOf(result.outcome),
      result.outcome,
      result.statusCode,
      result.error,
      result.durationMs,
    ),
    retryAfter: result.retryAfterSeconds,
  };
}
