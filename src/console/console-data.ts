/**
 * What the console reads from the admin API, validated like any client would: only the
 * fields it shows. The console calls the admin app in-process with ADMIN_TOKEN, so every
 * number and every action goes through the same routes as relayctl.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { AppError } from "../errors";

/** The relay's app (composed in app.ts): the console calls its /admin routes in-process. */
export type AdminApp = Pick<Hono<AppEnv>, "request">;

const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export async function callAdmin<T, E extends AppEnv>(
  c: Context<E>,
  admin: AdminApp,
  schema: z.ZodType<T>,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const token = (readConfig(c.env).ADMIN_TOKEN ?? "").split(",")[0]?.trim() ?? "";
  const response = await admin.request(
    `/admin${path}`,
    {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    },
    c.env,
    c.executionCtx,
  );
  const json: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const e = errorBody.safeParse(json);
    throw new AppError(
      response.status === 404
        ? "not_found"
        : response.status >= 500
          ? "unavailable"
          : "bad_request",
      e.success ? e.data.error.message : `the admin API answered ${response.status}`,
    );
  }
  return schema.parse(json);
}

const n = z.number();
const sn = z.string().nullable();

export const overview = z.object({
  since: z.string(),
  per_minute: z.array(z.record(z.string(), z.union([z.string(), n]))),
  totals: z.record(z.string(), n),
  ingress_ms: z.object({ count: n, p50: n.nullable(), p99: n.nullable() }),
  backlog: z.object({ queued: n, retrying: n, oldest_received_at: sn }),
  failed_in_retention: z.object({ dead: n, rejected: n }),
  feedback_failed: n,
  instances: z.array(z.object({ id: z.string(), url: z.string(), problem: z.string() })),
  hooks: z.array(
    z.object({
      registration_id: z.string(),
      path: z.string(),
      instance_url: z.string(),
      problem: z.string(),
    }),
  ),
});

export const delivery = z.object({
  id: z.string(),
  status: z.string(),
  kind: z.string(),
  project_id: n.nullable(),
  project_path: sn,
  reason: sn,
  attempts: n,
  received_at: z.string(),
  last_status_code: n.nullable(),
  last_error: sn,
  next_attempt_at: sn,
  duplicate_of: sn,
});
export const deliveryPage = z.object({ deliveries: z.array(delivery), next_cursor: sn });
export const deliveryDetail = delivery.extend({
  dedupe_key: z.string(),
  destinations: z.array(
    z.object({
      destination: z.string(),
      status: z.string(),
      attempts: n,
      last_status_code: n.nullable(),
      last_error: sn,
    }),
  ),
  history: z.array(
    z.object({
      destination: z.string(),
      attempted_at: z.string(),
      outcome: z.string(),
      status_code: n.nullable(),
      error: sn,
      duration_ms: n,
    }),
  ),
});
export const deliveryBody = z.object({
  bytes: n.nullable(),
  body: sn,
  normalized: z.unknown().nullable(),
  note: sn,
});
export const bulkReplay = z.object({
  replayed: n,
  failed: n,
  would_replay: n.optional(),
});
export const projects = z.object({
  projects: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      instance_url: z.string(),
      project_id: n.nullable(),
      path: z.string(),
      connection: z
        .object({
          verified_at: sn,
          connected_by: z.string(),
          hook_health: z.object({ alert_status: sn }),
        })
        .nullable()
        .optional(),
      tokens: z.array(
        z.object({
          id: z.string(),
          hint: z.string(),
          state: z.string(),
          last_used_at: sn,
          expires_at: sn,
        }),
      ),
    }),
  ),
});
export const instances = z.object({
  instances: z.array(
    z.object({
      id: z.string(),
      url: z.string(),
      credential_ok: z.boolean(),
      has_api_token: z.boolean(),
      credential_broken_at: sn,
      feedback_paused_until: sn,
      oauth_client_id: sn,
    }),
  ),
});
export const feedbackList = z.object({
  feedback: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      state: z.string(),
      attempts: n,
      last_error: sn,
      created_at: z.string(),
    }),
  ),
});
