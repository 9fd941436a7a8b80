#!/usr/bin/env node
// Ingress benchmark: starts the relay with `wrangler dev` (local D1, Queues, R2) on its own
// state directory, registers a project, then drives with autocannon, in one run:
//   - the bare route (GET /healthz, same worker, no I/O): the floor;
//   - ingress with a small push, and with a merge request carrying a 50 KB description,
//     both under a valid token (warm isolate: token cached, one queue send each).
// Writes bench/results.json and prints a table. Figures are local (SQLite-backed D1,
// in-process queue, no consumer concurrency): compare routes with each other, not with
// production.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import autocannon from "autocannon";

const port = Number(process.env.BENCH_PORT ?? 8799);
const duration = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const base = `http://127.0.0.1:${port}`;
const state = ".wrangler/bench-state";
const adminToken = randomBytes(24).toString("base64url");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

rmSync(state, { recursive: true, force: true });
const migrate = spawnSync(
  "npx",
  ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", state],
  { env, stdio: "ignore" },
);
if (migrate.status !== 0) {
  throw new Error("migrations failed");
}

const vars = {
  ADMIN_TOKEN: adminToken,
  FEEDBACK_TOKEN: randomBytes(24).toString("base64url"),
  ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  ALLOW_HTTP_INSTANCES: "true",
};
const dev = spawn(
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
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ],
  { env, stdio: ["ignore", "pipe", "pipe"] },
);
let devLog = "";
dev.stdout.on("data", (d) => {
  devLog += d;
});
dev.stderr.on("data", (d) => {
  devLog += d;
});

async function waitReady() {
  for (let i = 0; i < 120; i++) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) {
        return;
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`relay did not start:\n${devLog.slice(-2000)}`);
}

async function adminPost(path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    throw new Error(`${path}: ${res.status} ${await res.text()}`);
  }
  return res.json();
}

function project(id, path) {
  const web = `https://gitlab.example.com/${path}`;
  return {
    id,
    name: path.split("/").at(-1),
    path_with_namespace: path,
    web_url: web,
    git_http_url: `${web}.git`,
  };
}

function run(name, { path, ...opts }) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${base}${path}`, connections, duration, ...opts }, (err, result) => {
      if (err) {
        return reject(err);
      }
      resolve({
        name,
        requests_per_second: Math.round(result.requests.average),
        latency_p50_ms: result.latency.p50,
        latency_p99_ms: result.latency.p99,
        non_2xx: result.non2xx,
        errors: result.errors,
        total: result.requests.total,
      });
    });
  });
}

try {
  await waitReady();
  await adminPost("/instances", { url: "https://gitlab.example.com", api_token: "glpat-bench" });
  const reg = await adminPost("/projects", {
    instance_url: "https://gitlab.example.com",
    project_id: 15,
    path: "bench/project",
  });
  const headers = (event) => ({
    "content-type": "application/json",
    "x-gitlab-event": event,
    "x-gitlab-token": reg.token,
  });
  const push = JSON.stringify({
    object_kind: "push",
    event_name: "push",
    ref: "refs/heads/main",
    before: "a".repeat(40),
    after: "b".repeat(40),
    project_id: 15,
    project: project(15, "bench/project"),
    commits: [],
    total_commits_count: 0,
  });
  const mr = JSON.stringify({
    object_kind: "merge_request",
    project: project(15, "bench/project"),
    object_attributes: {
      iid: 1,
      action: "open",
      description: "x".repeat(50_000),
      last_commit: { id: "b".repeat(40) },
    },
  });

  // Warm-up: JIT, token cache, D1 and queue connections.
  await run("warmup", {
    duration: 2,
    method: "POST",
    path: "/webhooks/gitlab",
    headers: headers("Push Hook"),
    body: push,
  });

  const results = [];
  results.push(await run("bare route (GET /healthz)", { path: "/healthz" }));
  results.push(
    await run("ingress: push (small)", {
      method: "POST",
      path: "/webhooks/gitlab",
      headers: headers("Push Hook"),
      body: push,
    }),
  );
  results.push(
    await run("ingress: merge request (50 KB)", {
      method: "POST",
      path: "/webhooks/gitlab",
      headers: headers("Merge Request Hook"),
      body: mr,
    }),
  );

  const bare = results[0];
  for (const r of results) {
    r.rps_ratio_to_bare = Number((r.requests_per_second / bare.requests_per_second).toFixed(2));
  }
  const report = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
    node: process.version,
    settings: { duration_seconds: duration, connections },
    results,
  };
  mkdirSync("bench", { recursive: true });
  writeFileSync("bench/results.json", `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `\n${report.date}  ${report.machine}  (${connections} connections, ${duration} s each)`,
  );
  console.log("| route | req/s | p50 ms | p99 ms | non-2xx | vs bare |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.requests_per_second} | ${r.latency_p50_ms} | ${r.latency_p99_ms} | ${r.non_2xx} | ${r.rps_ratio_to_bare} |`,
    );
  }
} finally {
  dev.kill("SIGINT");
}
