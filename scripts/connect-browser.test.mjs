// node --test: in headless Chromium against one `npm start` (wrangler dev with local
// D1/Queues/R2, the GitLab stand-in with its OAuth consent page, the packit-service
// stand-in): a maintainer clicks through /connect, then ops sign in to /console after
// `npm run demo` and replay a delivery. Screenshots of every step go to test-results/.
// Needs Debian's chromium (CHROMIUM_PATH to use another); without it the test is skipped,
// unless REQUIRE_BROWSER=1 (CI sets it), where a missing browser fails.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { devVars } from "./local-config.mjs";
import { startGroup } from "./process-group.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = "test-results/connect";
const CONSOLE_SHOTS = "test-results/console";
const present = existsSync(CHROMIUM);
/** Whether nothing listens on `port` right now. */
function portFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/**
 * Three neighbouring ports below Linux's ephemeral range (32768 and up, where the kernel
 * picks the local ports of outgoing connections: a port chosen there can be taken by any
 * connection a moment later), each checked free.
 */
async function freePorts() {
  for (;;) {
    const base = 10000 + Math.floor(Math.random() * 22000);
    const ports = [base, base + 1, base + 2];
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) {
      return ports;
    }
  }
}
const [relayPort = 0, standInPort = 0, gitlabPort = 0] = await freePorts();
const PORTS = { relay: relayPort, standIn: standInPort, gitlab: gitlabPort };
const RELAY = `http://127.0.0.1:${PORTS.relay}`;
const GITLAB = `http://127.0.0.1:${PORTS.gitlab}`;

/** `npm start` in its own process group; resolves once it printed that it is ready. */
async function startRelay() {
  const state = mkdtempSync(join(tmpdir(), "relay-browser-"));
  const group = startGroup(process.execPath, ["scripts/start.mjs"], {
    port: PORTS.relay,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(PORTS.relay),
      STAND_IN_PORT: String(PORTS.standIn),
      GITLAB_STAND_IN_PORT: String(PORTS.gitlab),
      RELAY_STATE_DIR: join(state, "state"),
      WRANGLER_REGISTRY_PATH: join(state, "registry"),
      WRANGLER_SEND_METRICS: "false",
    },
  });
  let output = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready:\n${output}`)), 180_000);
    const watch = (chunk) => {
      output += chunk;
      if (output.includes("Ready: relay on")) {
        clearTimeout(timer);
        resolve(undefined);
      }
    };
    group.child.stdout?.on("data", watch);
    group.child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    group.child.once("exit", (code) => reject(new Error(`npm start exited ${code}:\n${output}`)));
  });
  return group;
}

/** @type {Awaited<ReturnType<typeof startRelay>> | null} */
let relay = null;
/** @type {import("playwright-core").Browser | null} */
let browser = null;

before(async () => {
  if (!present) {
    assert.ok(!process.env.REQUIRE_BROWSER, `REQUIRE_BROWSER is set but ${CHROMIUM} is missing`);
    return;
  }
  const { chromium } = await import("playwright-core");
  relay = await startRelay();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await relay?.stop();
});

test("a maintainer connects a project through /connect with GitLab sign-in", async (t) => {
  if (!browser) {
    t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  mkdirSync(SHOTS, { recursive: true });
  const page = await browser.newPage();
  await page.goto(`${RELAY}/connect`);
  await page.getByLabel("Project or group URL").fill(`${GITLAB}/packit-demo/hello-rpm`);
  await page.screenshot({ path: `${SHOTS}/1-form.png`, fullPage: true });

  await page.getByRole("button", { name: "Sign in with GitLab and connect" }).click();
  await page.waitForURL(`${GITLAB}/oauth/authorize**`);
  assert.match((await page.textContent("body")) ?? "", /Signed in as maintainer/);
  await page.screenshot({ path: `${SHOTS}/2-gitlab-consent.png`, fullPage: true });

  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(`${RELAY}/connect/callback**`);
  const report = await page.textContent("main");
  assert.match(report ?? "", /Connected packit-demo\/hello-rpm/);
  assert.match(report ?? "", /Webhook: hook created/);
  assert.match(report ?? "", /Packit bot: @packit-bot is now Developer/);
  assert.match(report ?? "", /GitLab sent a test push event and the relay accepted it/);
  await page.screenshot({ path: `${SHOTS}/3-connected.png`, fullPage: true });

  // The result page follows to the status page, which reloads until the event came through.
  await page.getByText("Verified: GitLab's event reached the relay").waitFor({ timeout: 60_000 });
  await page.screenshot({ path: `${SHOTS}/4-verified.png`, fullPage: true });

  const response = await fetch(`http://127.0.0.1:${PORTS.standIn}/_received`);
  const received = /** @type {{ event: string, verdict: string }[]} */ (await response.json());
  assert.ok(
    received.some(
      (e) => e.event === "Push Hook" && e.verdict === "token ok (packit-demo/hello-rpm)",
    ),
    `the test event reached the packit-service stand-in: ${JSON.stringify(received)}`,
  );

  // Disconnect with a pasted access token.
  await page.goto(`${RELAY}/connect`);
  await page.getByLabel("Project or group URL").fill(`${GITLAB}/packit-demo/hello-rpm`);
  await page.getByLabel("Access token").fill("glpat-local-maintainer");
  await page.getByRole("button", { name: "Disconnect with this token" }).click();
  assert.match((await page.textContent("main")) ?? "", /1 hook\(s\) removed/);
  await page.screenshot({ path: `${SHOTS}/5-disconnected.png`, fullPage: true });
  await page.close();
});

test("ops sign in to /console, see the demo's traffic, and replay a delivery", async (t) => {
  if (!browser) {
    t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  mkdirSync(CONSOLE_SHOTS, { recursive: true });
  const demo = spawnSync(process.execPath, ["scripts/demo.mjs"], {
    env: { ...process.env, PORT: String(PORTS.relay) },
    encoding: "utf8",
  });
  assert.equal(demo.status, 0, `npm run demo failed:\n${demo.stdout}\n${demo.stderr}`);
  // The demo prints its delivery log: one line per event, with its status.
  const log = demo.stdout.slice(demo.stdout.indexOf("The delivery log:"));
  const forwarded = log.split("\n").filter((line) => / delivered /.test(line)).length;
  assert.ok(forwarded >= 3, demo.stdout);

  const page = await browser.newPage();
  await page.goto(`${RELAY}/console`);
  await page.waitForURL(`${RELAY}/console/login`);
  await page.getByLabel("Admin token").fill(devVars().ADMIN_TOKEN ?? "");
  await page.screenshot({ path: `${CONSOLE_SHOTS}/1-sign-in.png`, fullPage: true });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${RELAY}/console`);
  // The chart is drawn (uPlot's canvas) and the totals carry the demo's numbers.
  await page.locator("#chart[data-rendered=true] canvas").first().waitFor();
  const delivered = Number(await page.locator('td[data-outcome="delivered"]').textContent());
  const duplicates = Number(await page.locator('td[data-outcome="duplicate"]').textContent());
  assert.ok(delivered >= forwarded, `delivered ${delivered} < ${forwarded} delivered by the demo`);
  assert.ok(duplicates >= 1, "the demo's duplicate is counted");
  await page.screenshot({ path: `${CONSOLE_SHOTS}/2-overview.png`, fullPage: true });

  await page.getByRole("link", { name: "Deliveries" }).click();
  await page.locator("table tbody tr").first().waitFor();
  await page.screenshot({ path: `${CONSOLE_SHOTS}/3-deliveries.png`, fullPage: true });
  await page.locator("table tbody tr td a").first().click();
  await page.locator("#timeline li").first().waitFor();
  assert.match((await page.locator("#timeline").textContent()) ?? "", /delivered/);
  await page.screenshot({ path: `${CONSOLE_SHOTS}/4-delivery.png`, fullPage: true });
  await page.getByRole("button", { name: "Replay this delivery" }).click();
  await page.getByText("Replay queued").waitFor();
  await page.screenshot({ path: `${CONSOLE_SHOTS}/5-replayed.png`, fullPage: true });
  await page.close();
});
