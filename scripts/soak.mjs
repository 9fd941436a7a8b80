#!/usr/bin/env node
// `npm run soak`: packit-service goes down for a minute under load, then comes back. Runs
// `wrangler dev` (its own state, registry and ports) with the production defaults for
// retries and the circuit breaker, sends SOAK_EVENTS unique pushes during the outage, and
// measures what the destination went through and how fast the relay drained after it
// recovered. Writes bench/soak.json. Lost and doubled events must both be 0.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { startGroup } from "./process-group.mjs";

const port = Number(process.env.SOAK_PORT ?? 8797);
const packitPort = Number(process.env.SOAK_PACKIT_PORT ?? 8796);
const events = Number(process.env.SOAK_EVENTS ?? 300);
const outageSeconds = Number(process.env.SOAK_OUTAGE_SECONDS ?? 60);
const base = `http://127.0.0.1:${port}`;
const state = ".wrangler/soak-state";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

// packit-service, as far as the soak needs it: 500 while down, 202 once up; every request
// is counted, and every Idempotency-Key it accepted.
/** @type {{ down: boolean, requests: { at: number, down: boolean }[], accepted: Map<string, number[]> }} */
const packit = { down: true, requests: [], accepted: new Map() };
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const key = String(req.headers["idempotency-key"] ?? "");
    packit.requests.push({ at: Date.now(), down: packit.down });
    if (packit.down) {
      res.writeHead(500).end("down for the soak");
      return;
    }
    packit.accepted.set(key, [...(packit.accepted.get(key) ?? []), Date.now()]);
    res.writeHead(202).end("accepted");
  });
});
await new Promise((resolve) => server.listen(packitPort, "127.0.0.1", () => resolve(undefined)));

const vars = {
  ADMIN_TOKEN: randomBytes(24).toString("base64url"),
  FEEDBACK_TOKEN: randomBytes(24).toString("base64url"),
  ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  TOKEN_CHECK_KEY: randomBytes(32).toString("base64url"),
  PACKIT_GITLAB_TOKEN_SECRET: randomBytes(24).toString("base64url"),
  PACKIT_SERVICE_URL: `http://127.0.0.1:${packitPort}`,
  EVENTS_URL: "",
  ALLOW_HTTP_INSTANCES: "true",
};
rmSync(state, { recursive: true, force: true });
mkdirSync("bench", { recursive: true });
const migrate = spawnSync(
  "npx",
  ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", state],
  { env, stdio: "ignore" },
);
if (migrate.status !== 0) {
  throw new Error("migrations failed");
}
const dev = startGroup(
  "npx",
  [
    "wrangler",
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    state,
    "--log-level",
    "error",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ],
  {
    env: { ...env, WRANGLER_REGISTRY_PATH: `${state}/registry` },
    stdio: ["ignore", "ignore", "ignore"],
    port,
  },
);

/** @param {() => Promise<boolean>} check @param {number} timeoutMs */
async function until(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** @param {string} path @param {unknown} body */
async function admin(path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return /** @type {{ token?: string }} */ (await res.json());
}

try {
  if (!(await until(async () => (await fetch(`${base}/healthz`)).ok, 120_000))) {
    throw new Error("the relay did not start");
  }
  const instance = "https://gitlab.soak.example";
  await admin("/instances", { url: instance, api_token: "glpat-soak" });
  const { token } = await admin("/projects", {
    instance_url: instance,
    project_id: 1,
    path: "soak/app",
  });
  const project = {
    id: 1,
    path_with_namespace: "soak/app",
    web_url: `${instance}/soak/app`,
    git_http_url: `${instance}/soak/app.git`,
  };
  const outageStarted = Date.now();
  let accepted = 0;
  for (let i = 0; i < events; i++) {
    const res = await fetch(`${base}/webhooks/gitlab`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-gitlab-event": "Push Hook",
        "x-gitlab-token": String(token),
      },
      body: JSON.stringify({
        object_kind: "push",
        ref: "refs/heads/main",
        after: randomBytes(20).toString("hex"),
        project_id: 1,
        project,
        commits: [],
      }),
    });
    accepted += res.status === 202 ? 1 : 0;
  }
  await new Promise((r) =>
    setTimeout(r, Math.max(0, outageStarted + outageSeconds * 1000 - Date.now())),
  );
  packit.down = false;
  const recovered = Date.now();
  const drained = await until(async () => packit.accepted.size >= accepted, 600_000);
  const lastAccepted = Math.max(...[...packit.accepted.values()].map((times) => times[0] ?? 0));
  const duringOutage = packit.requests.filter((r) => r.down);
  const results = {
    measured_at: new Date().toISOString(),
    events_sent: events,
    events_accepted: accepted,
    outage_seconds: outageSeconds,
    requests_to_failing_destination: duringOutage.length,
    // Once the first failures opened the circuit (10 s in), only probes should go out.
    requests_while_open_per_minute: Math.round(
      (duringOutage.filter((r) => r.at >= outageStarted + 10_000).length * 60_000) /
        (recovered - outageStarted - 10_000),
    ),
    drained: drained,
    drain_seconds_after_recovery: drained
      ? Math.round((lastAccepted - recovered) / 100) / 10
      : null,
    lost: accepted - packit.accepted.size,
    delivered_twice: [...packit.accepted.values()].filter((times) => times.length > 1).length,
    settings: "defaults: CIRCUIT_FAILURES 5, CIRCUIT_OPEN_SECONDS 10, CIRCUIT_MAX_OPEN_SECONDS 20",
  };
  writeFileSync("bench/soak.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  if (!drained || results.lost !== 0 || results.delivered_twice !== 0) {
    process.exitCode = 1;
  }
} finally {
  await dev.stop();
  server.close();
}
