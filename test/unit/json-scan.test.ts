import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseMembers, scanJson } from "../../src/lib/json-scan";
import { fuzzSeeds } from "../helpers/fuzz-seeds";

const enc = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** What JSON.parse (after a strict UTF-8 decode) makes of the bytes, or why it refuses. */
function reference(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(strictDecoder.decode(bytes)) };
  } catch {
    return { ok: false };
  }
}

function agrees(bytes: Uint8Array) {
  const scanned = scanJson(bytes, 10_000);
  const ref = reference(bytes);
  expect(scanned.ok).toBe(ref.ok);
  if (!scanned.ok || !ref.ok) {
    return;
  }
  const isObject = ref.value !== null && typeof ref.value === "object" && !Array.isArray(ref.value);
  expect(scanned.object).toBe(isObject);
  if (scanned.object && isObject) {
    const all = parseMembers(bytes, scanned.members, scanned.members.keys());
    expect(all).toEqual(ref.value);
  }
}

describe("scanJson agrees with JSON.parse", () => {
  it("on valid JSON of every shape, with members parsed one by one", () => {
    for (const seed of fuzzSeeds(20261125)) {
      fc.assert(
        fc.property(fc.json({ maxDepth: 6 }), (text) => agrees(enc.encode(text))),
        { seed, numRuns: 1500 },
      );
      fc.assert(
        fc.property(
          fc.dictionary(
            fc.string({ maxLength: 8, unit: "binary" }),
            fc.jsonValue({ maxDepth: 4, stringUnit: "binary" }),
          ),
          (obj) => agrees(enc.encode(JSON.stringify(obj, null, 2))),
        ),
        { seed, numRuns: 800 },
      );
    }
  });

  it("on mutated and random bytes (validity, UTF-8, numbers, escapes)", () => {
    const mutated = fc
      .tuple(fc.json({ maxDepth: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([text, at, byte]) => {
        const bytes = enc.encode(text);
        if (bytes.length > 0) {
          bytes[at % bytes.length] = byte;
        }
        return bytes;
      });
    for (const seed of fuzzSeeds(20261125)) {
      fc.assert(fc.property(mutated, agrees), { seed, numRuns: 3000 });
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), agrees), { seed, numRuns: 2000 });
    }
  });

  it.each([
    ['{"a":1,"a":2}', { a: 2 }],
    ['{"a":{"x":1},"b":[1,{"c":"\\u00e9"}],"a":"last"}', { a: "last", b: [1, { c: "é" }] }],
    ['{"\\u0061":1}', { a: 1 }],
    [
      ' \n{ "k" : -0.5e+3 , "t":true,"f":false,"n":null } \r\n',
      { k: -500, t: true, f: false, n: null },
    ],
  ])("%s", (text, expected) => {
    const bytes = enc.encode(text);
    const scanned = scanJson(bytes, 64);
    expect(scanned.ok && scanned.object).toBe(true);
    if (scanned.ok && scanned.object) {
      expect(parseMembers(bytes, scanned.members, scanned.members.keys())).toEqual(expected);
    }
  });

  it.each([
    ["", "invalid_json"],
    ["{", "invalid_json"],
    ['{"a":01}', "invalid_json"],
    ['{"a":1,}', "invalid_json"],
    ["[1 2]", "invalid_json"],
    ['"\u0001"', "invalid_json"],
    ["\ufeff{}", "invalid_json"],
    ['{"a":"\\x"}', "invalid_json"],
  ])("refuses %j", (text, reason) => {
    expect(scanJson(enc.encode(text), 64)).toMatchObject({ ok: false, reason });
  });

  it("refuses invalid UTF-8 inside strings: overlongs, surrogates, truncated sequences", () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0xff],
    ]) {
      const bytes = new Uint8Array([0x22, ...bad, 0x22]);
      expect(scanJson(bytes, 64)).toMatchObject({ ok: false, reason: "invalid_utf8" });
      expect(reference(bytes).ok).toBe(false);
    }
  });

  it("refuses nesting past the limit before building anything", () => {
    const deep = `${"[".repeat(65)}${"]".repeat(65)}`;
    expect(scanJson(enc.encode(deep), 64)).toMatchObject({ ok: false, reason: "too_deep" });
    const fits = `${"[".repeat(64)}${"]".repeat(64)}`;
    expect(scanJson(enc.encode(fits), 64)).toMatchObject({ ok: true });
    // Far deeper than JSON.parse's own recursion limit: still a clean refusal.
    const abyss = enc.encode("[".repeat(2_000_000));
    expect(scanJson(abyss, 64)).toMatchObject({ ok: false, reason: "too_deep" });
  });
});
