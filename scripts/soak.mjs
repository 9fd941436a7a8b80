#!/usr/bin/env node
// `npm run soak`: packit-service misbehaves under load, then recovers. Runs `wrangler dev`
// (its own state, registry and ports) with the production defaults for retries and the
// circuit breaker, sends SOAK_EVENTS unique pushes while the packit-service double cycles
// through faults for SOAK_OUTAGE_SECONDS (500s, 429s with Retry-After, refused connections,
// slow answers of 5-30 s that do accept, and hangs that never answer), then answers
// normally. Measures what the destination went through and how fast the relay drained after
// it recovered. Writes bench/soak.json. Lost and doubled events must both be 0.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { startDevRelay, throwawayVars } from "./dev-relay.mjs";

const port = Number(process.env.SOAK_PORT ?? 8797);
const packitPort = Number(process.env.SOAK_PACKIT_PORT ?? 8796);
const events = Number(process.env.SOAK_EVENTS ?? 300);
const outageSeconds = Number(process.env.SOAK_OUTAGE_SECONDS ?? 60);
const base = `http://127.0.0.1:${port}`;
// SOAK_CIRCUIT_FAILURES=1000 takes the circuit breaker out of the way, so every fault
// reaches the relay's forwards (slow answers and hangs included); SOAK_OUT names the file.
const circuitFailures = process.env.SOAK_CIRCUIT_FAILURES;
const out = process.env.SOAK_OUT ?? "bench/soak.json";
const state = ".wrangler/soak-state";

// packit-service, as far as the soak needs it: 500 while down, 202 once up; every request
// is counted, and every Idempotency-Key it accepted.
const FAULTS = ["500", "429", "refused", "slow", "hang"];
/** @type {{ down: boolean, fault: string, requests: { at: number, down: boolean, fault: string }[], accepted: Map<string, number[]> }} */
const packit = { down: true, fault: "500", requests: [], accepted: new Map() };
const accept = (/** @type {string} */ key) => {
  packit.accepted.set(key, [...(packit.accepted.get(key) ?? []), Date.now()]);
};
const handler = (
  /** @type {import("node:http").IncomingMessage} */ req,
  /** @type {import("node:http").ServerResponse} */ res,
) => {
  req.resume();
  req.on("end", () => {
    const key = String(req.headers["idempotency-key"] ?? "");
    const fault = packit.down ? packit.fault : "none";
    packit.requests.push({ at: Date.now(), down: packit.down, fault });
    if (fault === "500") {
      res.writeHead(500).end("down for the soak");
    } else if (fault === "429") {
      res.writeHead(429, { "retry-after": "5" }).end("slow down");
    } else if (fault === "slow") {
      // Answers late, but answers: the event is accepted when the answer goes out.
      setTimeout(
        () => {
          accept(key);
          res.writeHead(202).end("accepted, slowly");
        },
        5_000 + Math.random() * 25_000,
      );
    } else if (fault === "hang") {
      // Never answers; the connection drops after a while, nothing accepted.
      setTimeout(() => res.socket?.destroy(), 40_000);
    } else {
      accept(key);
      res.writeHead(202).end("accepted");
    }
  });
};
/** @type {import("node:http").Server} */
let server = createServer(handler);
/** A fresh server each time: connections are refused while none listens. */
const listen = () =>
  new Promise((resolve, reject) => {
    server = createServer(handler);
    server.once("error", reject);
    server.listen(packitPort, "127.0.0.1", () => resolve(undefined));
  });
const stopListening = () =>
  new Promise((resolve) => {
    server.close(() => resolve(undefined));
    server.closeAllConnections();
  });
await listen();
let refusing = false;
/** Cycles the faults, a phase each, while the outage lasts; "refused" stops listening. */
const cycle = setInterval(
  async () => {
    if (!packit.down) {
      return;
    }
    packit.fault = FAULTS[(FAULTS.indexOf(packit.fault) + 1) % FAULTS.length] ?? "500";
    if (packit.fault === "refused" && !refusing) {
      refusing = true;
      await stopListening();
    } else if (refusing) {
      refusing = false;
      await listen();
    }
  },
  Number(process.env.SOAK_PHASE_SECONDS ?? 12) * 1000,
);

const vars = throwawayVars({
  PACKIT_SERVICE_URL: `http://127.0.0.1:${packitPort}`,
  ...(circuitFailures ? { CIRCUIT_FAILURES: circuitFailures } : {}),
});
mkdirSync("bench", { recursive: true });
const dev = startDevRelay({ port, state, vars });
// wrangler dev runs no crons by itself; production runs the minute's sweeps (inbox, stuck
// deliveries, circuit probes) every minute, and so does the soak.
const minuteCron = setInterval(() => {
  fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}`)
    .then((res) => res.arrayBuffer())
    .catch(() => {});
}, 60_000);

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
  clearInterval(cycle);
  if (refusing) {
    await listen();
  }
  const recovered = Date.now();
  const drained = await until(async () => packit.accepted.size >= accepted, 480_000);
  clearInterval(minuteCron);
  const lastAccepted = Math.max(...[...packit.accepted.values()].map((times) => times[0] ?? 0));
  const duringOutage = packit.requests.filter((r) => r.down);
  const results = {
    measured_at: new Date().toISOString(),
    events_sent: events,
    events_accepted: accepted,
    outage_seconds: outageSeconds,
    faults: FAULTS,
    requests_to_failing_destination: duringOutage.length,
    requests_by_fault: Object.fromEntries(
      FAULTS.map((f) => [f, duringOutage.filter((r) => r.fault === f).length]),
    ),
    // Once the first failures opened the circuit (10 s in), only probes should go out.
    requests_while_open_per_minute: Math.round(
      (duringOutage.filter((r) => r.at >= outageStarted + 10_000).length * 60_000) /
        (recovered - outageStarted - 10_000),
    ),
    drained: drained,
    drain_seconds_after_recovery: drained
      ? Math.round((lastAccepted - recovered) / 100) / 10
      : null,
    delivered_once: [...packit.accepted.values()].filter((times) => times.length === 1).length,
    lost: accepted - packit.accepted.size,
    delivered_twice: [...packit.accepted.values()].filter((times) => times.length > 1).length,
    settings: circuitFailures
      ? `CIRCUIT_FAILURES ${circuitFailures} (breaker out of the way), other timings default`
      : "defaults: CIRCUIT_FAILURES 5, CIRCUIT_OPEN_SECONDS 10, CIRCUIT_MAX_OPEN_SECONDS 20",
  };
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  if (!drained || results.lost !== 0 || results.delivered_twice !== 0) {
    process.exitCode = 1;
  }
} finally {
  clearInterval(minuteCron);
  await dev.stop();
  server.close();
}
