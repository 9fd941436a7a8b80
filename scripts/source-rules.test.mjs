// node --test: rules on the source tree that no linter checks. Import cycles and dependency
// directions are Biome's (biome.json: noImportCycles, noRestrictedImports).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const MAX_LINES = 300;

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

test(`no file in src/ is over ${MAX_LINES} lines`, () => {
  const long = sources(join(import.meta.dirname, "..", "src"))
    .map((file) => ({ file, lines: readFileSync(file, "utf8").split("\n").length - 1 }))
    .filter((f) => f.lines > MAX_LINES);
  assert.deepEqual(long, []);
});
