/**
 * /console: sign-in and sessions (forged, expired, rotated out), CSRF on every form, the
 * overview's numbers, a delivery's page and replay from it, and no secret in any page.
 */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, field, registerProject } from "../helpers/admin";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, received, script } from "../helpers/doubles";
import { push } from "../helpers/gitlab-payloads";
import { BASE, call } from "../helpers/relay";

const PROJECT = { id: 9090, path: "console/app" };

function get(
  path: string,
  cookie = "",
  overrides: Partial<Env> = {},
  headers: Record<string, string> = {},
) {
  return call(
    new Request(`${BASE}${path}`, { headers: { cookie, ...headers }, redirect: "manual" }),
    overrides,
  );
}

function post(path: string, fields: Record<string, string>, cookie = "", origin = BASE) {
  return call(
    new Request(`${BASE}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin,
        cookie,
        "cf-connecting-ip": `192.0.2.${Math.floor(Math.random() * 250)}`,
      },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    }),
  );
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await post("/console/login", { admin_token: ADMIN_TOKEN });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(/HttpOnly/i);
  expect(setCookie).toMatch(/SameSite=Strict/i);
  const cookie = setCookie.split(";")[0] ?? "";
  const page = await (await get("/console/deliveries", cookie)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
  expect(csrf.length).toBeGreaterThan(20);
  return { cookie, csrf };
}

describe("signing in", () => {
  it("without a session every page sends to the sign-in page", async () => {
    for (const path of [
      "/console",
      "/console/deliveries",
      "/console/projects",
      "/console/feedback",
    ]) {
      const res = await get(path);
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/console/login");
    }
  });

  it("refuses a wrong token, and a forged or tampered cookie", async () => {
    const wrong = await post("/console/login", { admin_token: "not-the-token" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("not the admin token");
    const { cookie } = await signIn();
    const tampered = `${cookie.slice(0, -6)}AAAAAA`;
    expect((await get("/console", tampered)).status).toBe(303);
    expect((await get("/console", "console_session=eyJhbGciOiJub25lIn0.e30.")).status).toBe(303);
  });

  it("a session ends after an hour, and when ADMIN_TOKEN is rotated away", async () => {
    const { cookie } = await signIn();
    expect((await get("/console/projects", cookie)).status).toBe(200);
    expect(
      (await get("/console/projects", cookie, { ADMIN_TOKEN: "a-new-admin-token" })).status,
    ).toBe(303);
    expect(
      (await get("/console/projects", cookie, { ADMIN_TOKEN: `a-new-admin-token,${ADMIN_TOKEN}` }))
        .status,
    ).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3601 * 1000);
    const expired = await get("/console/projects", cookie);
    vi.useRealTimers();
    expect(expired.status).toBe(303);
  });

  it("every form needs the session's CSRF token and the relay's own origin", async () => {
    const { cookie, csrf } = await signIn();
    expect((await post("/console/logout", {}, cookie)).status).toBe(403);
    expect(
      (await post("/console/logout", { csrf: "forged-forged-forged-forged" }, cookie)).status,
    ).toBe(403);
    expect((await post("/console/logout", { csrf }, cookie, "https://evil.example")).status).toBe(
      403,
    );
    const out = await post("/console/logout", { csrf }, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/console_session=;/);
  });

  it("Cloudflare Access: a valid assertion for the audience signs in, another does not", async () => {
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    const scope = newScope();
    const team = `${env.TEST_DOUBLES_URL}/${scope}`;
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    await script(
      scope,
      Array.from({ length: 3 }, () => ({ status: 200, body: JSON.stringify({ keys: [jwk] }) })),
    );
    const assertion = (aud: string) =>
      new SignJWT({ email: "ops@example.org" })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer(team)
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
    const access = { ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: "console-aud" };
    const ok = await get("/console/projects", "", access, {
      "cf-access-jwt-assertion": await assertion("console-aud"),
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("ops@example.org");
    const other = await get("/console/projects", "", access, {
      "cf-access-jwt-assertion": await assertion("another-app"),
    });
    expect(other.status).toBe(303);
    expect((await received(scope)).some((r) => r.path === "/cdn-cgi/access/certs")).toBe(true);
  });
});

describe("the pages", () => {
  it("the overview shows the chart data and the numbers, and no secret", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path });
    const scope = newScope();
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(PROJECT, { after: "c0".padEnd(40, "1") }),
    });
    await consume([{ body: message }], destinations(scope));
    const { cookie } = await signIn();
    const res = await get("/console", cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await res.text();
    const data = JSON.parse(
      /<script type="application\/json" id="chart-data">([^<]*)<\/script>/.exec(html)?.[1] ?? "{}",
    );
    expect(data.x.length).toBeGreaterThan(1400);
    const delivered = data.series.find((s: { label: string }) => s.label === "delivered");
    expect(delivered.values.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(/<td data-outcome="delivered">[1-9]/);
    for (const secret of [ADMIN_TOKEN, token, env.ENCRYPTION_KEY ?? "none"]) {
      expect(html).not.toContain(secret);
    }
    const projects = await (await get("/console/projects", cookie)).text();
    expect(projects).toContain("console/app");
    expect(projects).toContain("by ops (hand-configured hook)");
    expect(projects).not.toContain(token);
    const chart = await get("/console/assets/uplot.js", cookie);
    expect(chart.headers.get("content-type")).toContain("javascript");
    expect((await chart.text()).length).toBeGreaterThan(10_000);
  });

  it("a delivery's page shows its attempts and masked body; replay from the page sends it again", async () => {
    const { token } = await registerProject({ projectId: PROJECT.id + 1, path: "console/other" });
    const scope = newScope();
    await script(scope, [{ status: 400, body: "nope" }]);
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push(
        { id: PROJECT.id + 1, path: "console/other" },
        { after: "c1".padEnd(40, "2"), note: `glpat-${"x".repeat(20)}` },
      ),
    });
    await consume([{ body: message }], destinations(scope));
    const { cookie, csrf } = await signIn();
    const page = await get(`/console/deliveries/${message.delivery_id}`, cookie);
    const html = await page.text();
    expect(html).toContain("rejected");
    expect(html).toMatch(/<ol id="timeline"><li class="bad">[^<]*packit permanent \(400\)/);
    expect(html).not.toContain(`glpat-${"x".repeat(20)}`);
    expect(html).toContain("object_kind");
    const replay = await post(
      `/console/deliveries/${message.delivery_id}/replay`,
      { csrf },
      cookie,
    );
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe(
      `/console/deliveries/${message.delivery_id}?replayed=1`,
    );
    const d = await call(
      new Request(`${BASE}/admin/deliveries/${message.delivery_id}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }),
    );
    expect(field(await d.json(), "status")).toBe("queued");
  });

  it("bulk replay asks first, showing how many", async () => {
    const { cookie, csrf } = await signIn();
    const res = await post("/console/deliveries/replay?status=rejected", { csrf }, cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/This replays <b id="would-replay">\d+<\/b> rejected deliveries/);
  });
});
