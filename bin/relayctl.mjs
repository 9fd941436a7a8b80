#!/usr/bin/env node
// relayctl launcher: bundles cli/main.ts (TypeScript sharing the Worker's normalizer) with
// esbuild into node_modules/.cache on first use, then runs it.
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "node_modules/.cache/relayctl/relayctl.mjs");
const newest = ["cli", "src/events", "src/ingress"].reduce((latest, dir) => {
  try {
    return Math.max(latest, statSync(join(root, dir)).mtimeMs);
  } catch {
    return latest;
  }
}, 0);
let built = 0;
try {
  built = statSync(out).mtimeMs;
} catch {}
if (built < newest || built === 0) {
  const { build } = await import("esbuild");
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(root, "cli/main.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    outfile: out,
    logLevel: "warning",
  });
}
await import(pathToFileURL(out).href);
