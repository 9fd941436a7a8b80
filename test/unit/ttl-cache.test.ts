import { describe, expect, it } from "vitest";
import { TtlCache } from "../../src/lib/ttl-cache";

describe("TtlCache", () => {
  it("expires entries after their TTL", () => {
    const cache = new TtlCache<string, number>(10, 1000);
    cache.set("a", 1, 0);
    expect(cache.get("a", 999)).toBe(1);
    expect(cache.get("a", 1000)).toBeUndefined();
  });

  it("stays within its bound, evicting the least recently used", () => {
    const cache = new TtlCache<string, number | null>(2, 1000);
    cache.set("a", 1, 0);
    cache.set("b", null, 0);
    expect(cache.get("a", 1)).toBe(1);
    cache.set("c", 3, 2);
    expect(cache.size).toBe(2);
    expect(cache.get("b", 3)).toBeUndefined();
    expect(cache.get("a", 3)).toBe(1);
    expect(cache.get("c", 3)).toBe(3);
  });

  it("keeps negative entries (null) apart from misses (undefined)", () => {
    const cache = new TtlCache<string, number | null>(2, 1000);
    cache.set("x", null, 0);
    expect(cache.get("x", 1)).toBeNull();
    expect(cache.get("y", 1)).toBeUndefined();
  });
});
