#!/usr/bin/env node
// `npm run deploy [-- --env production]`: remote D1 migrations first, then `wrangler deploy`,
// both for the same environment.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
for (const step of [
  ["d1", "migrations", "apply", "DB", "--remote", ...args],
  ["deploy", ...args],
]) {
  const result = spawnSync("npx", ["wrangler", ...step], { stdio: "inherit" });
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
}
