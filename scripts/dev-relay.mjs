// A throwaway `wrangler dev` for measurements (bench, soak): fresh local state in `state`
// (migrations applied), its own registry (so no other wrangler dev takes its queue
// messages), settings as --var, its own process group (stopped as a whole).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { startGroup } from "./process-group.mjs";

/**
 * @param {{ port: number, state: string, vars: Record<string, string>,
 *   stderr?: "pipe" | "ignore", entry?: string, keepState?: boolean, config?: string,
 *   inspectorPort?: number }} options
 *   entry: another entry point than wrangler.toml's main (the bench build);
 *   keepState: start on the state already in `state` (seeded) instead of a fresh one;
 *   config: another wrangler configuration (in the repository's root, for its relative paths).
 */
export function startDevRelay({
  port,
  state,
  vars,
  stderr = "ignore",
  entry,
  keepState = false,
  config,
  inspectorPort,
}) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  if (!keepState) {
    rmSync(state, { recursive: true, force: true });
  }
  const migrate = spawnSync(
    "npx",
    [
      "wrangler",
      "d1",
      "migrations",
      "apply",
      "DB",
      "--local",
      "--persist-to",
      state,
      ...(config ? ["--config", config] : []),
    ],
    { env, stdio: "ignore" },
  );
  if (migrate.status !== 0) {
    throw new Error("migrations failed");
  }
  return startGroup(
    "npx",
    [
      "wrangler",
      "dev",
      ...(entry ? [entry] : []),
      ...(config ? ["--config", config] : []),
      ...(inspectorPort ? ["--inspector-port", String(inspectorPort)] : []),
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
      stdio: ["ignore", "ignore", stderr],
      port,
    },
  );
}

/** Resolves once the relay at `base` answers /healthz (two minutes at most). */
export async function relayUp(base) {
  for (let i = 0; i < 240; i++) {
    const up = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) {
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the relay at ${base} did not come up`);
}

/**
 * Writes `file` (in the repository's root, for wrangler.toml's relative paths): wrangler.toml
 * without the events queue's consumer, for measuring ingress alone.
 * @param {string} file
 */
export function writeIngressOnlyConfig(file) {
  writeFileSync(
    file,
    readFileSync("wrangler.toml", "utf8").replace(
      /^\[\[queues\.consumers\]\]\nqueue = "packit-gitlab-relay-events"\n(?:[^[\n].*\n|\n)*?(?=\[)/m,
      "",
    ),
  );
}

/**
 * Fresh secrets and local settings for a throwaway relay (bench, soak, profile); the caller
 * adds its destination and any other setting.
 * @param {Record<string, string>} settings
 */
export function throwawayVars(settings) {
  return {
    ADMIN_TOKEN: randomBytes(24).toString("base64url"),
    FEEDBACK_TOKEN: randomBytes(24).toString("base64url"),
    ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    TOKEN_CHECK_KEY: randomBytes(32).toString("base64url"),
    PACKIT_GITLAB_TOKEN_SECRET: randomBytes(24).toString("base64url"),
    EVENTS_URL: "",
    ALLOW_HTTP_INSTANCES: "true",
    ...settings,
  };
}
