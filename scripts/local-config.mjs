// Shared by npm start and npm run demo: .dev.vars values and the demo registration.
import { existsSync, readFileSync } from "node:fs";

export const RELAY = `http://127.0.0.1:${process.env.PORT ?? "8787"}`;
export const STAND_IN_PORT = Number(process.env.STAND_IN_PORT ?? 8788);
export const GITLAB_PORT = Number(process.env.GITLAB_STAND_IN_PORT ?? 8789);
/** Where local D1/R2/Queues state lives; the browser test gives npm start a fresh one. */
export const PERSIST = process.env.RELAY_STATE_DIR
  ? ["--persist-to", process.env.RELAY_STATE_DIR]
  : [];
export const DEMO_FILE = ".wrangler/demo.json";
export const DEMO_INSTANCE = "https://gitlab.example.com";
export const DEMO_PROJECT = { id: 4242, path: "demo/hello-world" };

export function devVars() {
  if (!existsSync(".dev.vars")) {
    return {};
  }
  return Object.fromEntries(
    readFileSync(".dev.vars", "utf8")
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

export async function admin(method, path, body) {
  const res = await fetch(`${RELAY}/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${devVars().ADMIN_TOKEN}`,
      "content-type": "application/json",
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export function demoPush(extra = {}) {
  const web = `${DEMO_INSTANCE}/${DEMO_PROJECT.path}`;
  return {
    object_kind: "push",
    event_name: "push",
    ref: "refs/heads/main",
    before: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    after: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
    user_username: "ada",
    project_id: DEMO_PROJECT.id,
    project: {
      id: DEMO_PROJECT.id,
      path_with_namespace: DEMO_PROJECT.path,
      web_url: web,
      git_http_url: `${web}.git`,
    },
    commits: [],
    total_commits_count: 1,
    ...extra,
  };
}
