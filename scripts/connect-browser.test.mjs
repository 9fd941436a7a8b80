// node --test: a maintainer clicks through /connect in headless Chromium against `npm start`
// (wrangler dev with local D1/Queues/R2, the GitLab stand-in with its OAuth consent page,
// the packit-service stand-in). Screenshots of every step go to test-results/connect/.
// Needs Debian's chromium (CHROMIUM_PATH to use another); without it the test is skipped,
// unless REQUIRE_BROWSER=1 (CI sets it), where a missing browser fails.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startGroup } from "./process-group.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = "test-results/connect";
const base = 30000 + Math.floor(Math.random() * 20000);
const PORTS = { relay: base, standIn: base + 1, gitlab: base + 2 };
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

test("a maintainer connects a project through /connect with GitLab sign-in", async (t) => {
  if (!existsSync(CHROMIUM)) {
    assert.ok(!process.env.REQUIRE_BROWSER, `REQUIRE_BROWSER is set but ${CHROMIUM} is missing`);
    t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  const { chromium } = await import("playwright-core");
  mkdirSync(SHOTS, { recursive: true });
  const relay = await startRelay();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
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
  } finally {
    await browser.close();
    await relay.stop();
  }
});
