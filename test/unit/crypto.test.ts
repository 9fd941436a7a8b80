import { describe, expect, it } from "vitest";
import {
  decrypt,
  encrypt,
  generateSecret,
  sha256Hex,
  timingSafeEqual,
  uuidV7,
} from "../../src/lib/crypto";

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(1)));
const OTHER_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(2)));

describe("crypto helpers", () => {
  it("hashes like SHA-256", async () => {
    expect(await sha256Hex("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("compares in constant time, unequal lengths included", () => {
    expect(timingSafeEqual("secret", "secret")).toBe(true);
    expect(timingSafeEqual("secret", "secreT")).toBe(false);
    expect(timingSafeEqual("secret", "secret-longer")).toBe(false);
  });

  it("makes version-7 UUIDs that sort in the order of their times", () => {
    const now = Date.UTC(2026, 10, 29, 12, 0, 0, 123);
    const id = uuidV7(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(now);
    expect(uuidV7(now)).not.toBe(id);
    const ids = [now + 1, now - 1, now + 86_400_000, now].map(uuidV7);
    expect([...ids].sort()).toEqual([ids[1], ids[3], ids[0], ids[2]]);
  });

  it("generates 256-bit secrets with the prefix", () => {
    const a = generateSecret("pgr_");
    expect(a).toMatch(/^pgr_[A-Za-z0-9_-]{43}$/);
    expect(generateSecret("pgr_")).not.toBe(a);
  });

  it("round-trips AES-GCM and refuses another key, another context or a tampered envelope", async () => {
    const sealed = await encrypt(KEY, "glpat-secret", "instances:1:api_token");
    expect(sealed).not.toContain("glpat");
    expect(await decrypt(KEY, sealed, "instances:1:api_token")).toBe("glpat-secret");
    await expect(decrypt(OTHER_KEY, sealed, "instances:1:api_token")).rejects.toThrow();
    await expect(decrypt(KEY, sealed, "instances:2:api_token")).rejects.toThrow();
    // Change one character well inside the ciphertext (the last one may carry only padding
    // bits, and changing two could restore the original): always a different byte.
    const at = sealed.length - 10;
    const tampered = `${sealed.slice(0, at)}${sealed[at] === "A" ? "B" : "A"}${sealed.slice(at + 1)}`;
    expect(tampered).not.toBe(sealed);
    await expect(decrypt(KEY, tampered, "instances:1:api_token")).rejects.toThrow();
    expect(await encrypt(KEY, "glpat-secret", "c")).not.toBe(
      await encrypt(KEY, "glpat-secret", "c"),
    );
  });

  it("refuses a key that is not 32 bytes", async () => {
    await expect(encrypt(btoa("short"), "x", "c")).rejects.toThrow(/32 bytes/);
  });
});

describe("log redaction", () => {
  it("masks credentials wherever they appear in a value", async () => {
    const { redact } = await import("../../src/lib/logger");
    const out = JSON.stringify(
      redact({
        error: "fetch https://relay:s3cret@packit.example/api failed",
        note: "token pgr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA and glpat-abcdefghijkl",
        api_token: "anything",
      }),
    );
    expect(out).not.toMatch(/s3cret|pgr_A|glpat-abc|anything/);
    expect(out).toContain("packit.example");
  });
});
