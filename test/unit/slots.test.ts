import { describe, expect, it } from "vitest";
import { slots } from "../../src/lib/slots";

describe("forward slots", () => {
  it("lets n holders in, the rest in arrival order as slots come back, each release once", async () => {
    const s = slots(2);
    const order: string[] = [];
    const a = await s.acquire();
    const b = await s.acquire();
    const waiting = ["c", "d"].map((name) =>
      s.acquire().then((release) => {
        order.push(name);
        return release;
      }),
    );
    await Promise.resolve();
    expect(order).toEqual([]);
    a();
    a(); // a second release of the same slot frees nothing more
    const c = await waiting[0];
    expect(order).toEqual(["c"]);
    b();
    await waiting[1];
    expect(order).toEqual(["c", "d"]);
    c?.();
  });
});
