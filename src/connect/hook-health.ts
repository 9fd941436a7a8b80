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
import { botSession } from "./connect-flow";
import { apiPath } from "./connect-target";
import { messageOf } from "./gitlab-session";
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

export function registerHookHealthRoutes(admin: ApiApp): void {
  async function placed(c: Context<AppEnv>, id: string) {
    const connection = await c.var.repos.connections.get(id);
    const registration = await c.var.repos.projects.get(id);
    if (!connection || !registration) {
      throw new AppError("not_found", "no connected project or group with that id");
    }
    const instance = await c.var.repos.instances.get(registration.instance_id);
    const bot = instance
      ? await botSession(connectDeps(c.env, c.var.repos, c.var.forgetTokens), instance)
      : null;
    if (!bot) {
      throw new AppError("unavailable", "the instance has no usable API token (the bot)");
    }
    const hooks: Placed[] =
      connection.mode === "projects"
        ? (await c.var.repos.connections.hooks(id)).flatMap((h) =>
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
      const health = [];
      for (const hook of hooks) {
        const reply = await bot.call("GET", `${apiPath(hook)}/hooks/${hook.hookId}`);
        const parsed = hookAnswer.safeParse(reply.body);
        health.push({
          on: hook.label,
          hook_id: hook.hookId,
          alert_status:
            reply.status === 200 && parsed.success ? (parsed.data.alert_status ?? null) : null,
          disabled_until:
            reply.status === 200 && parsed.success ? (parsed.data.disabled_until ?? null) : null,
          problem:
            reply.status === 200
              ? null
              : reply.status === 403 || reply.status === 404
                ? "the bot cannot read this hook (that takes Maintainer); ask a maintainer to look"
                : messageOf(reply),
        });
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
