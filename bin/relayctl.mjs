#!/usr/bin/env node
// relayctl launcher: bundles cli/main.ts (TypeScript sharing the Worker's normalizer) with
// esbuild into node_modules/.cache on first use, then runs it.
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "node_modules/.cache/relayctl/relayctl.mjs");
// Rebuild when any source file is newer than the bundle.
function newestIn(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return latest;
}
const newest = Math.max(newestIn(join(root, "cli")), newestIn(join(root, "src")));
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
