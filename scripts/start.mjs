#!/usr/bin/env node
// `npm start`: the whole relay locally on port 8787: .dev.vars prepared, local D1 migrated,
// then `wrangler dev` with local D1, Queues and R2.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `Node ${process.versions.node} is too old: wrangler needs Node 22.12 or newer (see README).`,
  );
  process.exit(1);
}

process.env.WRANGLER_SEND_METRICS ??= "false";
const port = process.env.PORT ?? "8787";

const generators = {
  ADMIN_TOKEN: () => randomBytes(32).toString("base64url"),
  FEEDBACK_TOKEN: () => randomBytes(32).toString("base64url"),
  ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
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
  console.log("Created .dev.vars with fresh local secrets (ADMIN_TOKEN is in there).");
}

function run(args) {
  const result = spawnSync("npx", ["wrangler", ...args], { stdio: "inherit" });
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
}

run(["d1", "migrations", "apply", "DB", "--local"]);
const dev = spawn(
  "npx",
  ["wrangler", "dev", "--port", port, "--ip", "127.0.0.1", ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => dev.kill(signal));
}
dev.on("exit", (code) => process.exit(code ?? 0));
