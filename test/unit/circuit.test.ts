import { describe, expect, it } from "vitest";
import { admission, afterCall, changed, closedCircuit, probing } from "../../src/delivery/circuit";

const S = { failures: 3, openMs: 30_000, maxOpenMs: 300_000 };
const T = 1_000_000;

describe("a destination's circuit", () => {
  it("stays closed below the threshold, and a success resets the count", () => {
    let c = closedCircuit("packit x");
    c = afterCall(c, "transient", T, S, null);
    c = afterCall(c, "transient", T, S, null);
    expect(c).toMatchObject({ state: "closed", failures: 2 });
    expect(admission(c, T)).toBe("call");
    c = afterCall(c, "delivered", T, S, null);
    expect(c).toMatchObject({ state: "closed", failures: 0 });
  });

  it("opens at the threshold; parks until retry_at, then lets one probe through", () => {
    let c = closedCircuit("packit x");
    for (let i = 0; i < 3; i++) {
      c = afterCall(c, "transient", T, S, null);
    }
    expect(c).toMatchObject({ state: "open", opened_at: T, retry_at: T + 30_000, open_count: 1 });
    expect(admission(c, T + 29_999)).toBe("park");
    expect(admission(c, T + 30_000)).toBe("probe");
    const probe = probing(c, T + 30_000, 5_000);
    expect(admission(probe, T + 31_000)).toBe("park");
    // A probe whose holder vanished may be taken over once its lease ran out.
    expect(admission(probe, T + 35_000)).toBe("probe");
  });

  it("a failed probe opens it again for twice as long, capped; Retry-After wins when longer", () => {
    let c = closedCircuit("packit x");
    for (let i = 0; i < 3; i++) {
      c = afterCall(c, "transient", T, S, null);
    }
    c = afterCall(probing(c, T + 30_000, 5_000), "transient", T + 30_000, S, null);
    expect(c).toMatchObject({ state: "open", retry_at: T + 30_000 + 60_000, open_count: 2 });
    let capped = c;
    for (let i = 0; i < 10; i++) {
      capped = afterCall(probing(capped, T, 1), "transient", T, S, null);
    }
    expect((capped.retry_at ?? 0) - T).toBe(300_000);
    const told = afterCall(probing(c, T, 1), "transient", T, S, 900);
    expect((told.retry_at ?? 0) - T).toBe(900_000);
  });

  it("closes on the probe's success, and on a permanent answer (the destination is up)", () => {
    let c = closedCircuit("packit x");
    for (let i = 0; i < 3; i++) {
      c = afterCall(c, "transient", T, S, null);
    }
    expect(afterCall(probing(c, T, 1), "delivered", T, S, null)).toMatchObject({
      state: "closed",
      failures: 0,
    });
    expect(afterCall(probing(c, T, 1), "permanent", T, S, null)).toMatchObject({ state: "closed" });
  });

  it("writes only what changed", () => {
    const c = closedCircuit("packit x");
    expect(changed(c, afterCall(c, "delivered", T, S, null))).toBe(false);
    expect(changed(c, afterCall(c, "transient", T, S, null))).toBe(true);
  });
});
