#!/usr/bin/env node
// `npm run smoke -- --url https://relay.example.org` (ADMIN_TOKEN in the environment): checks
// a deployed relay end to end with a throwaway registration, then removes it. Health, the
// admin API, a webhook accepted and queued, and the delivery's outcome from the log. The push
// names a project on smoke.invalid, so packit-service (if forwarding is on) records it and
// finds nothing to build.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { url: { type: "string" } } });
const base = (values.url ?? process.env.RELAY_URL ?? "").replace(/\/+$/, "");
const adminToken = process.env.ADMIN_TOKEN ?? "";
if (!base || !adminToken) {
  console.error("usage: ADMIN_TOKEN=... npm run smoke -- --url https://relay.example.org");
  process.exit(2);
}

let failed = false;
/** @param {boolean} ok @param {string} what */
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  failed ||= !ok;
}

/** @param {string} method @param {string} path @param {unknown} [body] */
async function admin(method, path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const run = randomBytes(4).toString("hex");
const instanceUrl = `https://smoke-${run}.invalid`;
const path = `relay-smoke/check-${run}`;
let instanceId = null;
let registrationId = null;
try {
  const health = await fetch(`${base}/healthz`);
  const state = /** @type {{ status?: string; problems?: string[] }} */ (await health.json());
  check(
    health.ok,
    `GET /healthz: ${state.status}${state.problems ? ` (${state.problems.join("; ")})` : ""}`,
  );

  const instance = await admin("POST", "/instances", {
    url: instanceUrl,
    api_token: `smoke-${run}`,
  });
  instanceId = instance.body?.id ?? null;
  check(instance.status === 201, `admin API: throwaway instance ${instanceUrl}`);
  const project = await admin("POST", "/projects", {
    instance_url: instanceUrl,
    project_id: 1,
    path,
  });
  registrationId = project.body?.id ?? null;
  check(project.status === 201, `admin API: throwaway project ${path}`);

  const web = `${instanceUrl}/${path}`;
  const hook = await fetch(project.body?.webhook_url ?? `${base}/webhooks/gitlab`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": String(project.body?.token ?? ""),
    },
    body: JSON.stringify({
      object_kind: "push",
      ref: "refs/heads/main",
      after: randomBytes(20).toString("hex"),
      project_id: 1,
      project: { id: 1, path_with_namespace: path, web_url: web, git_http_url: `${web}.git` },
      commits: [],
    }),
  });
  const answer = /** @type {{ status?: string; delivery_id?: string }} */ (await hook.json());
  check(
    hook.status === 202 && answer.status === "queued",
    `webhook: ${hook.status} ${answer.status}`,
  );

  // The consumer records the delivery when it takes the message: 404 until then.
  let outcome = "not recorded yet";
  for (let i = 0; i < 60 && ["not recorded yet", "queued"].includes(outcome); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const delivery = await admin("GET", `/deliveries/${answer.delivery_id}`);
    outcome = delivery.status === 404 ? "not recorded yet" : (delivery.body?.status ?? "unknown");
  }
  check(
    ["delivered", "undeliverable", "retrying"].includes(outcome),
    `delivery: ${outcome} (the consumer ran; undeliverable means no destination is configured)`,
  );
} catch (err) {
  check(false, `could not reach ${base}: ${String(err)}`);
} finally {
  if (registrationId) {
    await admin("DELETE", `/projects/${registrationId}`).catch(() => undefined);
  }
  if (instanceId) {
    await admin("DELETE", `/instances/${instanceId}`).catch(() => undefined);
  }
}
process.exitCode = failed ? 1 : 0;
