#!/usr/bin/env node
// `npm run bench`: the relay under load, locally, in one run (about 90 s).
// Starts a packit-service stand-in and `wrangler dev` (local D1, Queues, R2, own state dir),
// registers a project, then drives it with autocannon:
//   - the bare route GET /healthz of the same worker: the floor;
//   - ingress with a small push, an MR with a 50 KB description, and a 200 KB note (R2 path),
//     all under a valid token (warm isolate: token cached, one queue send, plus one R2 put);
//   - end to end: unique pushes sent as fast as ingress takes them, timed until the stand-in
//     has received every one (ingress → queue → consumer → packit-compat forward).
// Writes bench/results.json and prints a table. Local figures (SQLite-backed D1, in-process
// queue without consumer concurrency, wrangler's dev proxy in front): compare the routes with
// each other, not with production.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import autocannon from "autocannon";
import { startDevRelay } from "./dev-relay.mjs";
import { groupMembers } from "./process-group.mjs";
import { startStandIn } from "./stand-in.mjs";

const port = Number(process.env.BENCH_PORT ?? 8799);
const standInPort = Number(process.env.BENCH_STAND_IN_PORT ?? 8798);
const duration = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const e2eEvents = Number(process.env.BENCH_E2E_EVENTS ?? 300);
const base = `http://127.0.0.1:${port}`;
const state = ".wrangler/bench-state";
const started = Date.now();

const secret = randomBytes(24).toString("base64url");
const vars = {
  ADMIN_TOKEN: randomBytes(24).toString("base64url"),
  FEEDBACK_TOKEN: randomBytes(24).toString("base64url"),
  ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  TOKEN_CHECK_KEY: randomBytes(32).toString("base64url"),
  PACKIT_GITLAB_TOKEN_SECRET: secret,
  PACKIT_SERVICE_URL: `http://127.0.0.1:${standInPort}`,
  EVENTS_URL: "",
  ALLOW_HTTP_INSTANCES: "true",
};

const standIn = await startStandIn({ port: standInPort, secret, quiet: true });
const dev = startDevRelay({ port, state, vars, stderr: "pipe" });
let devLog = "";
dev.child.stderr?.on("data", (d) => {
  devLog += d;
});

/** `relayctl --help` on a warm machine: the median of five runs, bundle already built. */
function relayctlHelpMs() {
  spawnSync(process.execPath, ["bin/relayctl.mjs", "--help"], { stdio: "ignore" });
  const runs = Array.from({ length: 5 }, () => {
    const started = performance.now();
    spawnSync(process.execPath, ["bin/relayctl.mjs", "--help"], { stdio: "ignore" });
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return Math.round(runs[2] ?? 0);
}

/** Resident and peak memory of the workerd processes wrangler dev started, in MiB. */
function workerdMemory() {
  const procs = groupMembers(dev.pgid).filter((p) => p.comm.startsWith("workerd"));
  let rss = 0;
  let hwm = 0;
  for (const { pid } of procs) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    hwm += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return { pids: procs.map((p) => p.pid), rss_mib: Math.round(rss), peak_mib: Math.round(hwm) };
}

/** Resets the kernel's peak-RSS mark (VmHWM) of the workerd processes (Linux clear_refs). */
function resetPeak() {
  for (const { pid } of groupMembers(dev.pgid).filter((p) => p.comm.startsWith("workerd"))) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      return false;
    }
  }
  return true;
}

async function waitFor(check, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}\n${devLog.slice(-2000)}`);
}

/**
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<{ token: string }>}
 */
async function adminPost(path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    throw new Error(`${path}: ${res.status} ${await res.text()}`);
  }
  return /** @type {Promise<{ token: string }>} */ (res.json());
}

function project() {
  const web = "https://gitlab.example.com/bench/project";
  return {
    id: 15,
    name: "project",
    path_with_namespace: "bench/project",
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
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, "the relay to start", 60_000);
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
  const pushBody = (after = "b".repeat(40)) =>
    JSON.stringify({
      object_kind: "push",
      event_name: "push",
      ref: "refs/heads/main",
      before: "a".repeat(40),
      after,
      project_id: 15,
      project: project(),
      commits: [],
      total_commits_count: 1,
    });
  const mr = JSON.stringify({
    object_kind: "merge_request",
    project: project(),
    object_attributes: {
      iid: 1,
      action: "open",
      description: "x".repeat(50_000),
      last_commit: { id: "b".repeat(40) },
    },
  });
  const bigNote = JSON.stringify({
    object_kind: "note",
    project_id: 15,
    project: project(),
    user: { username: "ada" },
    object_attributes: {
      id: 1,
      note: "y".repeat(200_000),
      noteable_type: "MergeRequest",
      action: "create",
    },
    merge_request: { iid: 1 },
  });

  // Memory first, on a quiet isolate: one body at GitLab's 25 MiB cap (a pipeline with many
  // jobs), from ingress until the stand-in has it. The kernel's peak-RSS mark is reset before.
  const jobs = [];
  let size = 0;
  for (let i = 1; size < 25 * 1024 * 1024 - 256 * 1024; i++) {
    const job = JSON.stringify({
      id: i,
      stage: "test",
      name: `rpm-build:fedora-rawhide-x86_64:${i}`,
      status: "success",
      runner: { id: 380987, description: "shared-runners-manager", tags: ["linux"] },
      user: { id: 42, name: "Ada Maintainer", username: "ada" },
    });
    jobs.push(job);
    size += job.length + 1;
  }
  const bigBody = `{"object_kind":"pipeline","object_attributes":{"id":31,"ref":"main","status":"success"},"project":${JSON.stringify(project())},"builds":[${jobs.join(",")}]}`;
  await fetch(`${base}/webhooks/gitlab`, {
    method: "POST",
    headers: headers("Push Hook"),
    body: pushBody("c".repeat(40)),
  });
  await waitFor(async () => standIn.received.length >= 1, "the first delivery", 60_000);
  // First the same size through ingress alone: an ignored kind is read, validated and
  // classified, and nothing is stored or forwarded.
  const ignoredBody = bigBody.replace('"object_kind":"pipeline"', '"object_kind":"wiki_page"');
  await new Promise((r) => setTimeout(r, 2000));
  const quiet = workerdMemory();
  resetPeak();
  const ignoredRes = await fetch(`${base}/webhooks/gitlab`, {
    method: "POST",
    headers: headers("Wiki Page Hook"),
    body: ignoredBody,
  });
  const ignoredAnswer = `${ignoredRes.status} ${(await ignoredRes.text()).slice(0, 60)}`;
  await new Promise((r) => setTimeout(r, 500));
  const ingressOnly = {
    answer: ignoredAnswer,
    growth_mib: workerdMemory().peak_mib - quiet.rss_mib,
  };

  await new Promise((r) => setTimeout(r, 2000));
  const before = workerdMemory();
  const peakReset = resetPeak();
  const bigStart = Date.now();
  const bigRes = await fetch(`${base}/webhooks/gitlab`, {
    method: "POST",
    headers: headers("Pipeline Hook"),
    body: bigBody,
  });
  const bigAnswer = `${bigRes.status} ${await bigRes.text()}`;
  const bigAccepted = Date.now() - bigStart;
  await waitFor(
    async () => standIn.received.some((r) => r.bytes === Buffer.byteLength(bigBody)),
    "the 25 MiB delivery",
    120_000,
  );
  const after = workerdMemory();
  const memory = {
    body_bytes: Buffer.byteLength(bigBody),
    answer: bigAnswer.slice(0, 120),
    accepted_ms: bigAccepted,
    delivered_ms: Date.now() - bigStart,
    workerd_rss_before_mib: before.rss_mib,
    workerd_peak_after_mib: after.peak_mib,
    growth_mib: after.peak_mib - before.rss_mib,
    ingress_only_growth_mib: ingressOnly.growth_mib,
    ingress_only_answer: ingressOnly.answer,
    peak_mark_reset: peakReset,
    goal_mib: 128,
    note: "growth = peak resident set of the workerd processes during ingress and delivery of the body, minus their resident set before it. wrangler dev runs the local R2, Queues and D1 simulators and the outbound fetch in the same workerd process, so the full figure includes their copies of the body; ingress_only is the same body read, validated and classified by ingress alone (an ignored kind: nothing stored)",
  };

  // Warm-up: JIT, token cache, D1 and queue connections.
  await run("warmup", {
    duration: 2,
    method: "POST",
    path: "/webhooks/gitlab",
    headers: headers("Push Hook"),
    body: pushBody(),
  });

  const results = [];
  results.push(await run("bare route (GET /healthz)", { path: "/healthz" }));
  results.push(
    await run("ingress: push (small)", {
      method: "POST",
      path: "/webhooks/gitlab",
      headers: headers("Push Hook"),
      body: pushBody(),
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
  results.push(
    await run("ingress: note (200 KB, via R2)", {
      method: "POST",
      path: "/webhooks/gitlab",
      headers: headers("Note Hook"),
      body: bigNote,
    }),
  );
  results.push(
    await run("unauthenticated: made-up token (401/429)", {
      method: "POST",
      path: "/webhooks/gitlab",
      headers: { ...headers("Push Hook"), "x-gitlab-token": `pgr_${"x".repeat(54)}` },
      body: pushBody(),
    }),
  );
  const bare = results[0];
  for (const r of results) {
    r.rps_ratio_to_bare = Number((r.requests_per_second / bare.requests_per_second).toFixed(2));
  }

  // Let the consumer drain what the ingress runs queued, then time unique events end to end.
  const drained = async () => {
    const before = standIn.received.length;
    await new Promise((r) => setTimeout(r, 3000));
    return standIn.received.length === before;
  };
  await waitFor(drained, "the queue to drain", 120_000);
  const startCount = standIn.received.length;
  const e2eStart = Date.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (sent < e2eEvents) {
        sent++;
        const res = await fetch(`${base}/webhooks/gitlab`, {
          method: "POST",
          headers: headers("Push Hook"),
          body: pushBody(randomBytes(20).toString("hex")),
        });
        await res.arrayBuffer();
      }
    }),
  );
  const ingressDone = Date.now();
  await waitFor(
    async () => standIn.received.length - startCount >= e2eEvents,
    "end-to-end deliveries",
    150_000,
  );
  const e2eSeconds = (Date.now() - e2eStart) / 1000;
  const endToEnd = {
    events: e2eEvents,
    ingress_seconds: Number(((ingressDone - e2eStart) / 1000).toFixed(2)),
    delivered_seconds: Number(e2eSeconds.toFixed(2)),
    events_per_second: Number((e2eEvents / e2eSeconds).toFixed(1)),
  };

  const report = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
    node: process.version,
    settings: { duration_seconds: duration, connections },
    results,
    end_to_end: endToEnd,
    d1_queries_per_warm_request: {
      value: 0,
      evidence:
        "test/integration/ingress.test.ts 'answers a warm token without reading D1' (ingress succeeds with a D1 that fails every query); a cold isolate makes 1 read",
    },
    d1_reads_per_unauthenticated_request: {
      value: 0,
      evidence:
        "test/integration/isolation-tokens.test.ts 'refuses made-up tokens without a single D1 statement' (counts every statement over 300+ random tokens per seed); the isolate loads its set of pre-tag token hashes once per 10 minutes",
    },
    memory_one_25_mib_body: memory,
    relayctl_help_ms: relayctlHelpMs(),
    run_seconds: Math.round((Date.now() - started) / 1000),
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
  console.log(
    `\nend to end: ${endToEnd.events} unique pushes, ingress took them in ${endToEnd.ingress_seconds} s, all at the stand-in after ${endToEnd.delivered_seconds} s: ${endToEnd.events_per_second} events/s`,
  );
  console.log(
    `one ${(memory.body_bytes / 2 ** 20).toFixed(1)} MiB body: workerd peak ${memory.workerd_peak_after_mib} MiB from ${memory.workerd_rss_before_mib} MiB resident (growth ${memory.growth_mib} MiB with local R2/Queues in-process; ingress alone ${memory.ingress_only_growth_mib} MiB; goal <= 128); answered ${memory.answer.slice(0, 3)} in ${memory.accepted_ms} ms, delivered after ${memory.delivered_ms} ms`,
  );
  console.log(
    `D1 queries per warm ingress request: 0; per unauthenticated request: 0 (see bench/results.json); run took ${report.run_seconds} s`,
  );
} finally {
  await dev.stop();
  standIn.server.close();
  // keep-alive sockets would hold the process open.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
}
