/**
 * The circuit breaker of one destination, pure: whether a delivery may call it now, and what
 * a call's outcome makes of the circuit. Closed: every delivery calls; after `failures`
 * consecutive transient failures it opens: nobody calls until `retryAt`, then one probe
 * (half-open); the probe's success closes it (and the parked deliveries are re-driven), its
 * failure opens it again for twice as long, up to `maxOpenMs`, never shorter than the
 * destination's Retry-After. A permanent answer (4xx) means the destination is up.
 */
import type { AttemptOutcome } from "./forward";

export type Circuit = {
  destination: string;
  state: "closed" | "open" | "half_open";
  failures: number;
  opened_at: number | null;
  retry_at: number | null;
  probe_until: number | null;
  open_count: number;
  version: number;
};

export type CircuitSettings = { failures: number; openMs: number; maxOpenMs: number };

export const closedCircuit = (destination: string): Circuit => ({
  destination,
  state: "closed",
  failures: 0,
  opened_at: null,
  retry_at: null,
  probe_until: null,
  open_count: 0,
  version: 0,
});

export type Admission = "call" | "probe" | "park";

export function admission(c: Circuit, now: number): Admission {
  if (c.state === "closed") {
    return "call";
  }
  if (c.state === "open") {
    return (c.retry_at ?? 0) <= now ? "probe" : "park";
  }
  // Half-open: one probe at a time; a probe whose holder vanished may be taken over.
  return (c.probe_until ?? 0) <= now ? "probe" : "park";
}

/** The circuit while one delivery probes the destination (its lease: `probeMs`). */
export function probing(c: Circuit, now: number, probeMs: number): Circuit {
  return { ...c, state: "half_open", probe_until: now + probeMs };
}

export function afterCall(
  c: Circuit,
  outcome: AttemptOutcome,
  now: number,
  settings: CircuitSettings,
  retryAfterSeconds: number | null,
): Circuit {
  if (outcome !== "transient") {
    return { ...closedCircuit(c.destination), version: c.version };
  }
  const failures = c.failures + 1;
  if (c.state === "half_open" || (c.state === "closed" && failures >= settings.failures)) {
    const wait = Math.min(settings.openMs * 2 ** c.open_count, settings.maxOpenMs);
    return {
      ...c,
      state: "open",
      failures,
      opened_at: c.state === "closed" ? now : c.opened_at,
      retry_at: now + Math.max(wait, (retryAfterSeconds ?? 0) * 1000),
      probe_until: null,
      open_count: c.open_count + 1,
    };
  }
  return { ...c, failures };
}

/** Whether `next` must be written: a state change, or a failure count that moved. */
export function changed(before: Circuit, next: Circuit): boolean {
  return before.state !== next.state || before.failures !== next.failures;
}
