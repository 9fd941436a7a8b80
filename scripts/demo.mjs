#!/usr/bin/env node
// `npm run demo` (with `npm start` running): sends a realistic sequence through the relay,
// then shows what reached the packit-service stand-in and what the delivery log says.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { admin, DEMO_FILE, DEMO_INSTANCE, DEMO_PROJECT, demoPush, RELAY } from "./local-config.mjs";

if (!existsSync(DEMO_FILE)) {
  console.error("Start the relay first: npm start (in another terminal).");
  process.exit(1);
}
const { token, standIn } = JSON.parse(readFileSync(DEMO_FILE, "utf8"));
try {
  await fetch(`${RELAY}/healthz`);
} catch {
  console.error(`No relay answers on ${RELAY}: run npm start (in another terminal) first.`);
  process.exit(1);
}
const web = `${DEMO_INSTANCE}/${DEMO_PROJECT.path}`;
const project = {
  id: DEMO_PROJECT.id,
  path_with_namespace: DEMO_PROJECT.path,
  web_url: web,
  git_http_url: `${web}.git`,
};
const user = { username: "ada", name: "Ada Maintainer" };
// Each run is new content: the relay would rightly treat a rerun's events as duplicates.
const run = randomUUID().slice(0, 8);
const sha = () => randomUUID().replaceAll("-", "").padEnd(40, "0");
const head = sha();
const mr = (action, extra = {}) => ({
  object_kind: "merge_request",
  event_type: "merge_request",
  user,
  project,
  object_attributes: {
    iid: 7,
    title: `Package hello 1.2 (demo ${run})`,
    action,
    state: "opened",
    source_branch: "hello-1.2",
    target_branch: "main",
    source_project_id: DEMO_PROJECT.id,
    target_project_id: DEMO_PROJECT.id,
    last_commit: { id: extra.sha ?? head },
    ...extra.attrs,
  },
  changes: {},
});
const commentKey = randomUUID();
/** @type {[label: string, event: string, body: object | null, key: string][]} */
const steps = [
  ["MR opened", "Merge Request Hook", mr("open"), randomUUID()],
  [
    "new commits pushed to the MR",
    "Merge Request Hook",
    mr("update", {
      sha: "c0ffee".padEnd(40, "0"),
      attrs: { oldrev: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327" },
    }),
    randomUUID(),
  ],
  [
    "/packit build comment",
    "Note Hook",
    {
      object_kind: "note",
      event_type: "note",
      user,
      project_id: DEMO_PROJECT.id,
      project,
      object_attributes: {
        id: 1244,
        note: "/packit build",
        created_at: new Date().toISOString(),
        noteable_type: "MergeRequest",
        action: "create",
      },
      merge_request: { iid: 7 },
    },
    commentKey,
  ],
  ["the same comment delivered again", "Note Hook", null, commentKey],
  [
    "tag pushed",
    "Tag Push Hook",
    demoPush({
      object_kind: "tag_push",
      event_name: "tag_push",
      ref: `refs/tags/v1.2.0-${run}`,
      before: "0".repeat(40),
      after: head,
    }),
    randomUUID(),
  ],
];

/** @type {string[]} */
const ids = [];
/** @type {object | null} */
let lastBody = null;
for (const [label, event, body, key] of steps) {
  const payload = JSON.stringify(body ?? lastBody);
  lastBody = body ?? lastBody;
  const res = await fetch(`${RELAY}/webhooks/gitlab`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-gitlab-event": event,
      "x-gitlab-token": token,
      "idempotency-key": key,
    },
    body: payload,
  });
  const answer = /** @type {{ delivery_id: string }} */ (await res.json());
  ids.push(answer.delivery_id);
  console.log(`→ ${label.padEnd(34)} ${res.status} ${JSON.stringify(answer)}`);
}

// Wait (bounded) until every delivery has an outcome.
const finished = new Set([
  "delivered",
  "duplicate",
  "skipped",
  "rejected",
  "dead",
  "undeliverable",
]);
/** @typedef {{ status?: string; duplicate_of?: string | null; reason?: string | null } | null} Row */
/** @param {Row[]} rows */
const settled = (rows) => rows.every((r) => finished.has(r?.status ?? ""));
/** @type {Row[]} */
let rows = ids.map(() => null);
for (let i = 0; i < 60 && !settled(rows); i++) {
  // A delivery shows up in the log once the queue consumer has claimed it.
  rows = await Promise.all(ids.map(async (id) => (await admin("GET", `/deliveries/${id}`)).body));
  if (!settled(rows)) {
    await new Promise((r) => setTimeout(r, 500));
  }
}

const received =
  /** @type {{ event: string; summary: string; verdict: string; delivery_id: string | null }[]} */ (
    await (await fetch(`${standIn}/_received`)).json()
  );
const mine = received.filter((r) => ids.includes(r.delivery_id ?? ""));
console.log("\nWhat reached packit-service (the stand-in):");
for (const r of mine) {
  console.log(`  ${r.event.padEnd(20)} ${String(r.summary).padEnd(24)} ${r.verdict}`);
}
console.log("\nThe delivery log:");
for (const [i, r] of rows.entries()) {
  const why = r?.duplicate_of ? `duplicate of ${r.duplicate_of}` : (r?.reason ?? "");
  console.log(`  ${(steps[i]?.[0] ?? "").padEnd(34)} ${String(r?.status).padEnd(10)} ${why}`);
}
const duplicates = rows.filter((r) => r?.status === "duplicate").length;
const forwardedTwice = mine.filter((r) => r.delivery_id === ids[3]).length;
console.log(`\n${duplicates} duplicate suppressed; ${mine.length} events forwarded.`);
if (duplicates !== 1 || forwardedTwice !== 0 || !settled(rows)) {
  console.error("unexpected outcome");
  process.exit(1);
}
