#!/usr/bin/env node
// `npm run schemas`: writes the JSON Schema of the normalized event (src/events/normalized-event.ts)
// to schemas/normalized-event.v2.json. A test fails when the committed file is stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const out = "node_modules/.cache/relay-schemas/entry.mjs";
await build({
  stdin: {
    contents: `import { z } from "zod";
      import { normalizedEvent } from "./src/events/normalized-event.ts";
      export const schema = z.toJSONSchema(normalizedEvent);`,
    resolveDir: process.cwd(),
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: out,
  logLevel: "warning",
});
const { schema } = await import(pathToFileURL(out).href);
const document = {
  title: "Normalized GitLab event, version 2",
  ...schema,
};
mkdirSync("schemas", { recursive: true });
writeFileSync("schemas/normalized-event.v2.json", `${JSON.stringify(document, null, 2)}\n`);
console.log("wrote schemas/normalized-event.v2.json");
