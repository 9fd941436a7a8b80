/** A GitLab world for connect tests (scripts/gitlab-world.mjs behind the loopback doubles). */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { z } from "zod";
import { admin } from "./admin";
import { capturingQueue, consume } from "./deliveries";
import { newScope } from "./doubles";
import { asJson, BASE, call, type JsonResponse } from "./relay";

export const BOT_TOKEN = "glpat-packit-bot-instance-token";
export const MAINTAINER_TOKEN = "glpat-maria-maintainer-0001";
export const DEVELOPER_TOKEN = "glpat-dev-developer-0002";
export const READ_ONLY_TOKEN = "glpat-maria-read-api-0003";

const worldState = z.object({
  hooks: z.array(
    z.object({
      id: z.number(),
      on: z.string(),
      url: z.string(),
      token: z.string(),
      push_events: z.boolean(),
      tag_push_events: z.boolean(),
      merge_requests_events: z.boolean(),
      note_events: z.boolean(),
      issues_events: z.boolean(),
      pipeline_events: z.boolean(),
      releases_events: z.boolean(),
      confidential_issues_events: z.boolean(),
      enable_ssl_verification: z.boolean(),
    }),
  ),
  members: z.array(z.object({ on: z.string(), user: z.number(), level: z.number() })),
  revoked: z.array(z.string()),
  tests: z.array(z.object({ hook: z.number(), status: z.union([z.number(), z.string()]) })),
});
export type WorldState = z.infer<typeof worldState>;

export type World = { scope: string; instanceUrl: string };

/**
 * A registered instance whose bot is @packit-bot, with @maria (Maintainer of fedora/python-rpm,
 * of the free-tier group fedora, Owner of the premium group gnome) and @dev (Developer).
 */
export async function gitlabWorld(extra: Record<string, unknown> = {}): Promise<World> {
  const scope = newScope();
  const instanceUrl = `${env.TEST_DOUBLES_URL}/${scope}`;
  await seed(scope, {
    users: [
      { id: 1, username: "maria" },
      { id: 2, username: "dev" },
      { id: 9, username: "packit-bot" },
    ],
    tokens: {
      [MAINTAINER_TOKEN]: { user: 1 },
      [DEVELOPER_TOKEN]: { user: 2 },
      [READ_ONLY_TOKEN]: { user: 1, scopes: ["read_api"] },
      [BOT_TOKEN]: { user: 9 },
    },
    groups: [
      { id: 100, path: "fedora", tier: "free" },
      { id: 101, path: "fedora/sub", tier: "free" },
      { id: 200, path: "gnome", tier: "premium" },
    ],
    projects: [
      { id: 10, path: "fedora/python-rpm" },
      { id: 11, path: "fedora/sub/tool" },
      { id: 12, path: "fedora/empty", empty: true },
      { id: 20, path: "gnome/shell" },
    ],
    members: [
      { on: "project:10", user: 2, level: 30 },
      { on: "group:100", user: 1, level: 40 },
      { on: "group:200", user: 1, level: 50 },
    ],
    sessionUser: 1,
    ...extra,
  });
  const res = await admin("POST", "/instances", { url: instanceUrl, api_token: BOT_TOKEN });
  expect(res.status).toBe(201);
  return { scope, instanceUrl };
}

export async function seed(scope: string, seedData: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/world`, {
    method: "POST",
    body: JSON.stringify(seedData),
  });
  expect(res.status).toBe(200);
}

export async function worldOf(scope: string): Promise<WorldState> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/world`);
  return worldState.parse(await res.json());
}

export function connectApi(
  path: "/connect" | "/disconnect",
  body: unknown,
  ip = `198.51.100.${Math.floor(Math.random() * 250)}`,
): Promise<JsonResponse> {
  return call(
    new Request(`${BASE}/connect/api${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": ip },
      body: JSON.stringify(body),
    }),
  ).then(asJson);
}

const held = z.array(
  z.object({ url: z.string(), headers: z.record(z.string(), z.string()), body: z.string() }),
);

/**
 * Delivers what GitLab's hook tests sent (held by the double: the relay runs in workerd) to
 * the relay, then runs the queued events through the real consumer. Returns ingress' answers.
 */
export async function deliverHookTests(scope: string): Promise<number[]> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/held`, { method: "POST" });
  const statuses: number[] = [];
  const { queue, sent } = capturingQueue();
  for (const delivery of held.parse(await res.json())) {
    const answer = await call(
      new Request(delivery.url, { method: "POST", headers: delivery.headers, body: delivery.body }),
      { EVENTS_QUEUE: queue },
    );
    await answer.body?.cancel();
    statuses.push(answer.status);
  }
  if (sent.length > 0) {
    await consume(sent.map((body) => ({ body })));
  }
  return statuses;
}
