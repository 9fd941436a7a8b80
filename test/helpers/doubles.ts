/** Talking to the loopback destination doubles (test/doubles/server.ts) from workerd. */
import { env } from "cloudflare:workers";
import { z } from "zod";

export const EVENTS_SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => 200 - i)))}`;

const recorded = z.array(
  z.object({
    path: z.string(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    received_at: z.number(),
    cloudevent: z
      .object({
        valid: z.boolean(),
        type: z.string().optional(),
        id: z.string().optional(),
        source: z.string().optional(),
        error: z.string().optional(),
      })
      .optional(),
  }),
);
export type Recorded = z.infer<typeof recorded>[number];

export function newScope(): string {
  return `s${crypto.randomUUID().replaceAll("-", "")}`;
}

export async function received(scope: string, path?: string): Promise<Recorded[]> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/requests`);
  const all = recorded.parse(await res.json());
  return path ? all.filter((r) => r.path === path) : all;
}

/** The most scripted requests the scope's double was answering at once. */
export async function maxInFlight(scope: string): Promise<number> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/in-flight`);
  return z.object({ max: z.number() }).parse(await res.json()).max;
}

export async function script(
  scope: string,
  responses: {
    status: number;
    headers?: Record<string, string>;
    body?: string;
    delayMs?: number;
  }[],
): Promise<void> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/script`, {
    method: "POST",
    body: JSON.stringify(responses),
  });
  if (!res.ok) {
    throw new Error(`script failed: ${res.status}`);
  }
}

/** The projects the scope's GitLab double knows (GET /api/v4/projects/:id). */
export async function gitlabProjects(
  scope: string,
  list: {
    id: number;
    path_with_namespace: string;
    writable?: boolean;
    merge_requests?: { iid: number; source_project_id: number }[];
  }[],
): Promise<void> {
  const res = await fetch(`${env.TEST_DOUBLES_URL}/_doubles/${scope}/projects`, {
    method: "POST",
    body: JSON.stringify(list),
  });
  if (!res.ok) {
    throw new Error(`projects failed: ${res.status}`);
  }
}

/** Env overrides that point the destinations at this scope's doubles. */
export function destinations(
  scope: string,
  opts: { packit?: boolean; events?: boolean } = {},
): Partial<Env> {
  return {
    PACKIT_SERVICE_URL: opts.packit === false ? "" : `${env.TEST_DOUBLES_URL}/${scope}`,
    EVENTS_URL: opts.events ? `${env.TEST_DOUBLES_URL}/${scope}/events` : "",
    EVENTS_SIGNING_SECRET: EVENTS_SECRET,
  };
}
