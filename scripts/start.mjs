#!/usr/bin/env node
// `npm start`: the whole relay locally. Prepares .dev.vars (fresh local secrets), applies the
// D1 migrations locally, starts a packit-service stand-in on 8788 that prints what arrives
// and a GitLab stand-in on 8789 (users, projects, hooks, OAuth) for /connect, runs
// `wrangler dev` on 8787 (local D1, Queues, R2), registers a demo project and prints a curl
// that sends it a webhook, and how to connect a project of the GitLab stand-in.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { LOCAL_GITLAB, startGitlabStandIn } from "./gitlab-stand-in.mjs";
import {
  admin,
  DEMO_FILE,
  DEMO_INSTANCE,
  DEMO_PROJECT,
  demoPush,
  devVars,
  GITLAB_PORT,
  PERSIST,
  RELAY,
  STAND_IN_PORT,
} from "./local-config.mjs";
import { startGroup } from "./process-group.mjs";
import { startStandIn } from "./stand-in.mjs";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `Node ${process.versions.node} is too old: wrangler needs Node 22.12 or newer (see README).`,
  );
  process.exit(1);
}
process.env.WRANGLER_SEND_METRICS ??= "false";

const generators = {
  ADMIN_TOKEN: () => randomBytes(32).toString("base64url"),
  FEEDBACK_TOKEN: () => randomBytes(32).toString("base64url"),
  ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
  TOKEN_CHECK_KEY: () => randomBytes(32).toString("base64url"),
  PACKIT_GITLAB_TOKEN_SECRET: () => randomBytes(32).toString("base64url"),
  EVENTS_SIGNING_SECRET: () => `whsec_${randomBytes(32).toString("base64")}`,
};
if (!existsSync(".dev.vars")) {
  const example = readFileSync(".dev.vars.example", "utf8");
  const filled = example.replace(
    /^([A-Z_]+)=generate$/gm,
    (_line, name) => `${name}=${generators[name]()}`,
  );
  writeFileSync(".dev.vars", filled, { mode: 0o600 });
  console.log("Created .dev.vars with fresh local secrets.");
} else {
  // A .dev.vars from an older checkout: add secrets introduced since, never change others.
  const current = readFileSync(".dev.vars", "utf8");
  const missing = Object.keys(generators).filter(
    (name) => !new RegExp(`^${name}=`, "m").test(current),
  );
  if (missing.length > 0) {
    const lines = missing.map((name) => `${name}=${generators[name]()}`).join("\n");
    writeFileSync(".dev.vars", `${current.replace(/\n*$/, "\n")}${lines}\n`, { mode: 0o600 });
    console.log(`Added ${missing.join(", ")} to .dev.vars.`);
  }
}

// Wrangler draws a table per migration applied; a newcomer needs one line, and the whole
// output only when it failed.
const migrate = spawnSync(
  "npx",
  ["wrangler", "d1", "migrations", "apply", "DB", "--local", ...PERSIST],
  { encoding: "utf8" },
);
if (migrate.status !== 0) {
  process.stderr.write(`${migrate.stdout ?? ""}${migrate.stderr ?? ""}`);
  console.error("applying the D1 migrations locally failed (output above)");
  process.exit(migrate.status ?? 1);
}
const applied = (migrate.stdout.match(/^│ (\d{4}_[\w-]+\.sql)/gm) ?? []).map((l) => l.slice(2));
console.log(
  applied.length > 0
    ? `Local D1: applied ${new Set(applied).size} migration(s).`
    : "Local D1: up to date.",
);

try {
  await startStandIn({ port: STAND_IN_PORT, secret: devVars().PACKIT_GITLAB_TOKEN_SECRET ?? "" });
} catch (err) {
  const code = /** @type {{ code?: string }} */ (err).code;
  console.error(
    `cannot start the packit-service stand-in on port ${STAND_IN_PORT} (${code}): is another npm start running?`,
  );
  process.exit(1);
}
console.log(`packit-service stand-in listening on http://127.0.0.1:${STAND_IN_PORT}`);
let gitlab;
try {
  gitlab = await startGitlabStandIn({ port: GITLAB_PORT });
} catch (err) {
  const code = /** @type {{ code?: string }} */ (err).code;
  console.error(
    `cannot start the GitLab stand-in on port ${GITLAB_PORT} (${code}): set GITLAB_STAND_IN_PORT to a free port`,
  );
  process.exit(1);
}
console.log(`GitLab stand-in listening on ${gitlab.instanceUrl}`);

const port = new URL(RELAY).port;
if (!(await portFree(Number(port)))) {
  console.error(
    `port ${port} is busy (another npm start?): stop it, or run PORT=8790 npm start to use another port.`,
  );
  process.exit(1);
}
// Its own process group, stopped as a whole on Ctrl-C (scripts/process-group.mjs): no
// wrangler or workerd outlives `npm start`. stdin is not passed on, so wrangler's hotkeys
// are off; Ctrl-C stops everything.
// The forwarding URLs follow STAND_IN_PORT when .dev.vars still names the default stand-in,
// so a moved stand-in never leaves minted JWTs going to whatever else listens on 8788.
const forwardVars = Object.entries({
  PACKIT_SERVICE_URL: `http://127.0.0.1:${STAND_IN_PORT}`,
  EVENTS_URL: `http://127.0.0.1:${STAND_IN_PORT}/events`,
})
  .filter(([name]) => /^http:\/\/127\.0\.0\.1:8788(\/events)?$/.test(devVars()[name] ?? ""))
  .flatMap(([name, value]) => ["--var", `${name}:${value}`]);
const dev = startGroup(
  "npx",
  [
    "wrangler",
    "dev",
    "--port",
    port,
    "--ip",
    "127.0.0.1",
    // Wrangler takes 9229 for the debugger, or the next free port when that one is taken.
    ...(process.env.INSPECTOR_PORT ? ["--inspector-port", process.env.INSPECTOR_PORT] : []),
    ...forwardVars,
    ...PERSIST,
    ...process.argv.slice(2),
  ],
  { stdio: ["ignore", "pipe", "pipe"], port: Number(port) },
);
// Wrangler's own output. Until the relay is ready it is held back (the bindings table twice,
// the cron notice, the set-up requests below) and shown only if wrangler stops before then.
// Always dropped: what a machine offline gets (the Request.cf lookup failing, with its
// stack) and wrangler's line per request, which repeats the relay's own log line.
/** @type {string[] | null} */
let heldBack = [];
/** @param {import("node:stream").Readable | null} from @param {NodeJS.WriteStream} to */
function passOn(from, to) {
  if (!from) {
    return;
  }
  let skippingStack = false;
  createInterface({ input: from }).on("line", (line) => {
    if (/ENOTFOUND workers\.cloudflare\.com|Unable to fetch the `Request\.cf` object/.test(line)) {
      skippingStack = true;
      return;
    }
    if (skippingStack && /^\s+at |^\s*\{?$|^\s+(errno|code|syscall|hostname)/.test(line)) {
      return;
    }
    skippingStack = false;
    if (/^\[wrangler:info\] (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \//.test(line)) {
      return;
    }
    if (heldBack) {
      heldBack.push(line);
      return;
    }
    to.write(`${line}\n`);
  });
}
passOn(dev.child.stdout, process.stdout);
passOn(dev.child.stderr, process.stderr);
dev.child.on("exit", async (code) => {
  if (heldBack && code !== 0) {
    process.stderr.write(`${heldBack.join("\n")}\n`);
  }
  await dev.stop();
  process.exit(code ?? 0);
});

/** The GitLab stand-in as an instance with its bot token and OAuth application. */
async function connectable(instanceUrl) {
  const created = await admin("POST", "/instances", {
    url: instanceUrl,
    api_token: LOCAL_GITLAB.botToken,
  });
  const id =
    created.body?.id ??
    (await admin("GET", "/instances")).body.instances.find((i) => i.url === instanceUrl)?.id;
  await admin("PATCH", `/instances/${id}`, {
    oauth_client_id: LOCAL_GITLAB.oauthClientId,
    oauth_client_secret: LOCAL_GITLAB.oauthClientSecret,
  });
}

/** Whether nothing listens on `port` yet (wrangler's own message for a busy port is long). */
function portFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function ready() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${RELAY}/healthz`)).ok) {
        return true;
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

if (await ready()) {
  const health = /** @type {{ problems?: string[] } | null} */ (
    await (await fetch(`${RELAY}/healthz`)).json().catch(() => null)
  );
  for (const problem of health?.problems ?? []) {
    console.warn(`configuration: ${problem}`);
  }
  await admin("POST", "/instances", { url: DEMO_INSTANCE, api_token: "glpat-local-demo" });
  let created = await admin("POST", "/projects", {
    instance_url: DEMO_INSTANCE,
    project_id: DEMO_PROJECT.id,
    path: DEMO_PROJECT.path,
  });
  let token = created.body?.token;
  if (created.status === 409) {
    // Already registered by an earlier run: a fresh token, shown once, like an operator would.
    const list = await admin("GET", "/projects");
    const id = list.body.projects.find((p) => p.project_id === DEMO_PROJECT.id)?.id;
    created = await admin("POST", `/projects/${id}/tokens`, { grace_period_seconds: 0 });
    token = created.body?.token;
  }
  await connectable(gitlab.instanceUrl);
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(
    DEMO_FILE,
    JSON.stringify({ token, standIn: `http://127.0.0.1:${STAND_IN_PORT}` }),
    { mode: 0o600 },
  );
  console.log(
    `\nReady: relay on ${RELAY}, demo project ${DEMO_PROJECT.path} (id ${DEMO_PROJECT.id}) registered.`,
  );
  console.log("Send it a webhook:\n");
  console.log(
    `curl -s -X POST ${RELAY}/webhooks/gitlab -H 'content-type: application/json' -H 'x-gitlab-event: Push Hook' \\\n  -H 'x-gitlab-token: ${token}' \\\n  -d '${JSON.stringify(demoPush())}'\n`,
  );
  console.log(
    "Then watch the stand-in print it. Paste it twice and the second is recorded as a duplicate\n" +
      "(same bytes, same event). `npm run demo` sends a whole sequence.\n" +
      "Local Queues keep messages in memory: events accepted but not yet delivered are lost when\n" +
      "npm start stops (Cloudflare Queues persist them in production).\n",
  );
  console.log(
    `Connect a project as a maintainer would: open ${RELAY}/connect, give\n` +
      `  ${gitlab.instanceUrl}/${LOCAL_GITLAB.project}  (or the group ${gitlab.instanceUrl}/${LOCAL_GITLAB.group})\n` +
      `and "Sign in with GitLab", or paste the access token ${LOCAL_GITLAB.maintainerToken}.\n` +
      "GitLab's hook test then reaches the relay and the packit-service stand-in.\n",
  );
  console.log(`The console: ${RELAY}/console, signed in with ADMIN_TOKEN from .dev.vars.\n`);
  console.log("Requests and the relay's log lines follow. Ctrl-C stops everything.\n");
  heldBack = null;
} else {
  process.stderr.write(`${(heldBack ?? []).join("\n")}\n`);
  console.error("the relay did not come up on time (wrangler's output above)");
  heldBack = null;
}
