/**
 * A connected hook's health as GitLab sees it (`alert_status`: executable,
 * temporarily_disabled, disabled; `disabled_until`), read with the bot's credential where it
 * may (reading hooks takes Maintainer), and re-enabling: a hook test that succeeds is what
 * re-enables a disabled hook in GitLab (reference/gitlab.md §2.3).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ApiApp } from "../api-app";
import type { AppEnv } from "../app-env";
import { audit } from "../audit";
import { connectDeps } from "../deps";
import { AppError } from "../errors";
import { errorResponses, idParam, json } from "../openapi";
import type { ConnectionRow } from "../storage/connections-repo";
import { botSession, type ConnectDeps } from "./connect-flow";
import { apiPath } from "./connect-target";
import { type GitlabReply, type GitlabSession, messageOf } from "./gitlab-session";
import { testHook } from "./install-hooks";

const MAX_HOOKS_READ = 25;
const hookAnswer = z.object({
  alert_status: z.string().optional(),
  disabled_until: z.string().nullable().optional(),
});
const healthSchema = z.object({
  on: z.string(),
  hook_id: z.number().int(),
  alert_status: z.string().nullable(),
  disabled_until: z.string().nullable(),
  problem: z.string().nullable(),
});
const security = [{ AdminToken: [] }];

type Placed = { kind: "project" | "group"; id: number; label: string; hookId: number };
type Health = z.infer<typeof healthSchema>;

/** The hooks a connection installed, and the bot's session to read them with. */
async function placedHooks(deps: ConnectDeps, connection: ConnectionRow) {
  const registration = await deps.repos.projects.get(connection.registration_id);
  const instance = registration ? await deps.repos.instances.get(registration.instance_id) : null;
  const bot = instance ? await botSession(deps, instance) : null;
  if (!registration || !bot) {
    return null;
  }
  const hooks: Placed[] =
    connection.mode === "projects"
      ? (await deps.repos.connections.hooks(connection.registration_id)).flatMap((h) =>
          h.hook_id === null
            ? []
            : [
                {
                  kind: "project" as const,
                  id: h.gitlab_project_id,
                  label: h.path,
                  hookId: h.hook_id,
                },
              ],
        )
      : connection.hook_id === null
        ? []
        : [
            {
              kind: connection.mode === "group" ? ("group" as const) : ("project" as const),
              id: connection.gitlab_id,
              label: registration.path,
              hookId: connection.hook_id,
            },
          ];
  return { bot, hooks: hooks.slice(0, MAX_HOOKS_READ) };
}

/** One hook's state; unreadable (no bot, no rights, GitLab down) says why, never throws. */
async function readHealth(bot: GitlabSession | null, hook: Placed): Promise<Health> {
  const unread = (problem: string) => ({
    on: hook.label,
    hook_id: hook.hookId,
    alert_status: null,
    disabled_until: null,
    problem,
  });
  if (!bot) {
    return unread("the instance has no usable API token (the bot)");
  }
  let reply: GitlabReply;
  try {
    reply = await bot.call("GET", `${apiPath(hook)}/hooks/${hook.hookId}`);
  } catch (err) {
    return unread(err instanceof Error ? err.message : String(err));
  }
  const parsed = hookAnswer.safeParse(reply.body);
  const ok = reply.status === 200 && parsed.success;
  return {
    on: hook.label,
    hook_id: hook.hookId,
    alert_status: ok ? (parsed.data.alert_status ?? null) : null,
    disabled_until: ok ? (parsed.data.disabled_until ?? null) : null,
    problem: ok
      ? null
      : reply.status === 403 || reply.status === 404
        ? "the bot cannot read this hook (that takes Maintainer); ask a maintainer to look"
        : messageOf(reply),
  };
}

/**
 * The cron's pass (every ten minutes, beside the group sync): the stalest connections' hooks
 * read with the bot and stored, so GET /admin/projects/{id} shows auto-disabled hooks.
 */
export async function checkHookHealth(deps: ConnectDeps, limit = 25): Promise<number> {
  let checked = 0;
  for (const connection of await deps.repos.connections.dueForHealthCheck(limit)) {
    const placed = await placedHooks(deps, connection).catch(() => null);
    const read: { hook: Placed; health: Health }[] = [];
    for (const hook of placed?.hooks ?? []) {
      const health = await readHealth(placed?.bot ?? null, hook);
      read.push({ hook, health });
    }
    const main = connection.mode === "projects" ? undefined : read[0]?.health;
    const until = main?.disabled_until ? Date.parse(main.disabled_until) : Number.NaN;
    await deps.repos.connections.recordHealth(
      connection.registration_id,
      main?.alert_status
        ? { alert_status: main.alert_status, disabled_until: Number.isNaN(until) ? null : until }
        : null,
      new Map(
        connection.mode === "projects" ? read.map((r) => [r.hook.id, r.health.alert_status]) : [],
      ),
      deps.now(),
    );
    checked++;
  }
  return checked;
}

export function registerHookHealthRoutes(admin: ApiApp): void {
  async function placed(c: Context<AppEnv>, id: string) {
    const connection = await c.var.repos.connections.get(id);
    if (!connection) {
      throw new AppError("not_found", "no connected project or group with that id");
    }
    const found = await placedHooks(
      connectDeps(c.env, c.var.repos, c.var.forgetTokens),
      connection,
    );
    if (!found) {
      throw new AppError("unavailable", "the instance has no usable API token (the bot)");
    }
    return found;
  }

  admin.openapi(
    createRoute({
      method: "get",
      path: "/projects/{id}/hook",
      security,
      summary: "The connected hook's state in GitLab (auto-disabled or not), read by the bot",
      request: { params: idParam },
      responses: {
        200: {
          description: "Hook health",
          content: json(z.object({ hooks: z.array(healthSchema) })),
        },
        ...errorResponses(401, 404, 503),
      },
    }),
    async (c) => {
      const { bot, hooks } = await placed(c, c.req.valid("param").id);
      const health: Health[] = [];
      for (const hook of hooks) {
        health.push(await readHealth(bot, hook));
      }
      return c.json({ hooks: health }, 200);
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/projects/{id}/hook/test",
      security,
      summary:
        "Re-enable: run GitLab's hook test with the bot (a passing test re-enables a disabled hook)",
      request: { params: idParam },
      responses: {
        200: {
          description: "What GitLab answered",
          content: json(
            z.object({
              results: z.array(z.object({ on: z.string(), sent: z.boolean(), result: z.string() })),
            }),
          ),
        },
        ...errorResponses(401, 404, 503),
      },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const { bot, hooks } = await placed(c, id);
      const results = [];
      for (const hook of hooks) {
        results.push({ on: hook.label, ...(await testHook(bot, hook, hook.hookId)) });
      }
      audit(c, "hook.test", { project_registration_id: id, hooks: results.length });
      return c.json({ results }, 200);
    },
  );
}
