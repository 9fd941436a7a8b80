/**
 * Tenant isolation, authentication cost: made-up tokens cost no D1 read and cannot evict
 * real ones from the isolate's cache; failures are rate-limited per client IP; tokens issued
 * before check tags keep working.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/crypto";
import { toBase64Url } from "../../src/lib/encoding";
import { registerProject } from "../helpers/admin";
import { fuzzSeeds } from "../helpers/fuzz-seeds";
import { push } from "../helpers/gitlab-payloads";
import { countingD1, d1FailingOn } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const P = { id: 6101, path: "tokens/app" };
let token = "";
let legacyToken = "";

beforeAll(async () => {
  const reg = await registerProject({ projectId: P.id, path: P.path });
  token = reg.token;
  // A token issued before check tags existed: `pgr_` + 43 characters, stored as format 1.
  legacyToken = `pgr_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
  await env.DB.prepare(
    `INSERT INTO tokens (id, registration_id, hash, hint, created_at, format)
     VALUES (?1, ?2, ?3, 'pgr_old…', ?4, 1)`,
  )
    .bind(crypto.randomUUID(), reg.id, await sha256Hex(legacyToken), Date.now())
    .run();
});

const ip = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
const send = (tok: string, overrides: Partial<Env> = {}, from = ip()) =>
  sendWebhook(
    { token: tok, event: "Push Hook", body: push(P), headers: { "cf-connecting-ip": from } },
    overrides,
  );

const madeUp = fc.oneof(
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{54}$/), // tagged shape, wrong tag
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{43}$/), // pre-tag shape, unknown
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{0,80}$/), // any other length
  fc.stringMatching(/^pgr_.{1,40}$/), // not base64url
);

describe("tokens", () => {
  it("issues tagged tokens, and still accepts one issued before tags", async () => {
    expect(token).toMatch(/^pgr_[A-Za-z0-9_-]{54}$/);
    expect((await send(token)).status).toBe(202);
    expect((await send(legacyToken)).status).toBe(202);
  });

  it("refuses made-up tokens without a single D1 statement", async () => {
    // Warm: the isolate has loaded its set of pre-tag token hashes once.
    expect((await send(legacyToken)).status).toBe(202);
    const counter = countingD1();
    for (const seed of fuzzSeeds(20261125)) {
      await fc.assert(
        fc.asyncProperty(madeUp, async (candidate) => {
          const res = await send(candidate, { DB: counter.db });
          expect([401, 429]).toContain(res.status);
        }),
        { seed, numRuns: 300 },
      );
    }
    expect(counter.count()).toBe(0);
  }, 60_000); // hundreds of requests on a shared two-core machine

  it("a flood of made-up tokens never evicts a real one from the isolate's cache", async () => {
    expect((await send(token)).status).toBe(202);
    // More than the 4,096 entries of the cache.
    for (let i = 0; i < 4500; i++) {
      const candidate = `pgr_${toBase64Url(crypto.getRandomValues(new Uint8Array(40))).slice(0, i % 2 ? 43 : 54)}`;
      await send(candidate);
    }
    // The real token still answers from the cache: a D1 that fails everything is not asked.
    expect((await send(token, { DB: d1FailingOn(/./) })).status).toBe(202);
  }, 60_000); // thousands of requests on a shared two-core machine

  it("answers 503, not 401, when the check key is missing: the sender did nothing wrong", async () => {
    const res = await send(token, { TOKEN_CHECK_KEY: "" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
  });
});

describe("failed authentications per client IP", () => {
  it("are answered 429 past the limit, while a valid token from the same IP still passes", async () => {
    const from = "203.0.113.77";
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) {
      statuses.push((await send(`pgr_${"x".repeat(54)}`, {}, from)).status);
    }
    expect(statuses.slice(0, 60).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const limited = await send(`pgr_${"y".repeat(54)}`, {}, from);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await send(token, {}, from)).status).toBe(202);
    // Another client is not affected.
    expect((await send(`pgr_${"x".repeat(54)}`, {}, "203.0.113.78")).status).toBe(401);
  });
});
