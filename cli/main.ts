/** Node entry of relayctl: process, files and a y/N prompt around the core in relayctl.ts. */
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { relayctl } from "./relayctl";

// A closed pipe (`relayctl ... | head`) is not an error worth a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") {
    throw err;
  }
});

const code = await relayctl(process.argv.slice(2), {
  fetch: (request) => fetch(request),
  env: {
    RELAY_URL: process.env.RELAY_URL,
    ADMIN_TOKEN: process.env.ADMIN_TOKEN,
    GITLAB_TOKEN: process.env.GITLAB_TOKEN,
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readFile: (path) => readFile(path, "utf8"),
  confirm: async (question) => {
    if (!process.stdin.isTTY) {
      return false;
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`${question} [y/N] `);
    rl.close();
    return /^y(es)?$/i.test(answer.trim());
  },
});
process.exitCode = code;
