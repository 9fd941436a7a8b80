#!/usr/bin/env node
// `npm run profile`: where ingress spends its CPU. Starts the relay (`wrangler dev`, no events
// consumer, as the bench measures ingress), warms it up, then records a V8 CPU profile
// through wrangler's inspector (DevTools protocol) while small pushes arrive, and reports each
// step's share of the isolate's busy time and its microseconds per request, inclusive of what
// it calls. Writes bench/profile.json. `PROFILE_CONSUMER=1` keeps the consumer on and a
// packit-service stand-in answering, to see the delivery side too (bench/profile-e2e.json).
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { relayUp, startDevRelay, throwawayVars, writeIngressOnlyConfig } from "./dev-relay.mjs";
import { startStandIn } from "./stand-in.mjs";

const port = Number(process.env.PROFILE_PORT ?? 8796);
const inspectorPort = Number(process.env.PROFILE_INSPECTOR_PORT ?? 9296);
const requests = Number(process.env.PROFILE_REQUESTS ?? 3000);
const base = `http://127.0.0.1:${port}`;
const CONFIG = "wrangler.profile-ingress.toml";
const withConsumer = process.env.PROFILE_CONSUMER === "1";
// PROFILE_BODY_KB: pushes that carry that much of a build log besides (large-body ingress).
const padBytes = Number(process.env.PROFILE_BODY_KB ?? 0) * 1024;
const standInPort = port + 1;
const vars = throwawayVars({
  PACKIT_SERVICE_URL: withConsumer ? `http://127.0.0.1:${standInPort}` : "http://127.0.0.1:9",
});

/** The relay's own functions worth naming, as esbuild keeps their names. */
const STEPS = [
  "handleWebhook",
  "limitFailures",
  "authenticate",
  "readBody",
  "checkSignature",
  "parsePayload",
  "scanJson",
  "classifyEvent",
  "authorize",
  "projectIdentity",
  "dedupeKey",
  "sha256Hex",
  "buildMessage",
  "gzip",
  "putBody",
  "storeMessage",
  "keptHeaders",
  "log",
  "requestLog",
  // The delivery side (PROFILE_CONSUMER=1).
  "consumeEvents",
  "deliver",
  "loadBody",
  "storedFormOf",
  "claim",
  "readPayload",
  "normalize",
  "preparePackitRequest",
  "attempt",
  "admit",
  "report",
  "record",
  "touchTokens",
];

writeIngressOnlyConfig(CONFIG);
const standIn = withConsumer
  ? await startStandIn({ port: standInPort, secret: vars.PACKIT_GITLAB_TOKEN_SECRET, quiet: true })
  : null;
const dev = startDevRelay({
  port,
  state: ".wrangler/profile-state",
  vars,
  ...(withConsumer ? {} : { config: CONFIG }),
  inspectorPort,
});

async function admin(path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return /** @type {{ token: string }} */ (await res.json());
}

/** About `bytes` of a build log: lines alike but for times and hashes (gzip shrinks it ~4×). */
function buildLog(bytes) {
  const lines = [];
  for (let i = 0, size = 0; size < bytes; i++) {
    const line = `[10:${String(i % 60).padStart(2, "0")}] Installing python3-pkg${i % 311}-${i % 7}.${i % 13}-1.fc42.noarch sha256:${randomBytes(8).toString("hex")}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n");
}

async function pushes(count, token) {
  const web = "https://gitlab.example.com/bench/project";
  // Each push its own event, so the consumer (when on) delivers every one.
  const body = () =>
    JSON.stringify({
      object_kind: "push",
      ref: "refs/heads/main",
      after: randomBytes(20).toString("hex"),
      project_id: 15,
      project: {
        id: 15,
        path_with_namespace: "bench/project",
        web_url: web,
        git_http_url: `${web}.git`,
      },
      commits: [],
      ...(padBytes ? { build_log: buildLog(padBytes) } : {}),
    });
  let sent = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (sent < count) {
        sent++;
        const res = await fetch(`${base}/webhooks/gitlab`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-gitlab-event": "Push Hook",
            "x-gitlab-token": token,
          },
          body: body(),
        });
        await res.arrayBuffer();
      }
    }),
  );
}

/** One DevTools protocol session over the inspector's WebSocket. */
async function session() {
  const targets = /** @type {{ webSocketDebuggerUrl: string }[]} */ (
    await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()
  );
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) {
    throw new Error("no inspector target");
  }
  // Wrangler's inspector proxy takes connections that name an origin.
  const ws = new WebSocket(url, { headers: { origin: `http://127.0.0.1:${inspectorPort}` } });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 0;
  /** @type {Map<number, (value: any) => void>} */
  const pending = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    // workerd answers some commands by echoing them (no result), Profiler.stop with its result.
    if (message.id !== undefined) {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    }
  };
  return {
    /** @param {string} method @param {object} [params] */
    send(method, params = {}) {
      const id = ++next;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close: () => ws.close(),
  };
}

/** Self and inclusive microseconds per function name, from a V8 CPU profile. */
function aggregate(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const inclusive = new Map();
  const walk = (node, stack) => {
    const name = node.callFrame.functionName || "(anonymous)";
    const mine = self.get(node.id) ?? 0;
    // Counted once per name along a path, so recursion does not count twice.
    for (const frame of new Set([...stack, name])) {
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + mine);
    }
    for (const child of node.children ?? []) {
      walk(byId.get(child), [...stack, name]);
    }
  };
  walk(profile.nodes[0], []);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()]
    .filter(([id]) => ["(idle)", "(program)"].includes(byId.get(id)?.callFrame.functionName))
    .reduce((a, [, v]) => a + v, 0);
  const selfByName = new Map();
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    const name = `${frame?.functionName || "(anonymous)"} ${String(frame?.url ?? "")
      .split("/")
      .pop()}:${frame?.lineNumber ?? ""}`;
    selfByName.set(name, (selfByName.get(name) ?? 0) + us);
  }
  return { inclusive, selfByName, busy: total - idle, total };
}

try {
  await relayUp(base);
  await admin("/instances", { url: "https://gitlab.example.com", api_token: "glpat-profile" });
  const { token } = await admin("/projects", {
    instance_url: "https://gitlab.example.com",
    project_id: 15,
    path: "bench/project",
  });
  await pushes(500, token);
  const devtools = await session();
  await devtools.send("Profiler.enable");
  await devtools.send("Profiler.setSamplingInterval", { interval: 100 });
  await devtools.send("Profiler.start");
  const started = Date.now();
  const before = standIn?.received.length ?? 0;
  await pushes(requests, token);
  while (standIn && standIn.received.length - before < requests) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const wall = Date.now() - started;
  const { profile } = await devtools.send("Profiler.stop");
  devtools.close();
  const { inclusive, selfByName, busy, total } = aggregate(profile);
  const steps = STEPS.filter((name) => inclusive.has(name)).map((name) => ({
    step: name,
    us_per_request: Math.round((inclusive.get(name) ?? 0) / requests),
    share_of_busy: Number(((inclusive.get(name) ?? 0) / busy).toFixed(3)),
  }));
  const report = {
    body_kb: Math.round(padBytes / 1024),
    date: new Date().toISOString(),
    requests,
    wall_ms: wall,
    isolate_busy_us_per_request: Math.round(busy / requests),
    sampled_us: total,
    steps,
    top_self: [...selfByName.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => ({ function: name, us_per_request: Math.round(us / requests) })),
    note: "V8 CPU profile of the relay's isolate (wrangler dev, 100 µs sampling) over small authenticated pushes; inclusive time per function name, divided by the requests. Native work a function awaits (queue send, digest) is outside the isolate's JavaScript and not counted here.",
  };
  mkdirSync("bench", { recursive: true });
  writeFileSync(
    withConsumer
      ? "bench/profile-e2e.json"
      : padBytes
        ? `bench/profile-${padBytes / 1024}kb.json`
        : "bench/profile.json",
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log(
    `${requests} pushes in ${wall} ms; isolate busy ${report.isolate_busy_us_per_request} µs/request`,
  );
  console.log("| step | µs/request | share of busy time |\n|---|---:|---:|");
  for (const s of steps) {
    console.log(`| ${s.step} | ${s.us_per_request} | ${(s.share_of_busy * 100).toFixed(1)} % |`);
  }
} finally {
  await dev.stop();
  standIn?.server.close();
  rmSync(CONFIG, { force: true });
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
}
