/**
 * /connect/api: connect and disconnect as JSON, for `relayctl connect` and scripts. No relay
 * secret: the caller's GitLab access token proves the Maintainer role, to GitLab. Attempts
 * are rate-limited per IP.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { createApiApp } from "../api-app";
import type { AppEnv } from "../app-env";
import { connectDeps } from "../deps";
import { webhookUrlFor } from "../domain/webhook-paths";
import { AppError } from "../errors";
import { errorResponses, json } from "../openapi";
import { connect } from "./connect-flow";
import { auditConnect, auditDisconnect, connectionStatus, statusTicket } from "./connection-status";
import { disconnect } from "./disconnect-flow";

const credentials = {
  url: z
    .string()
    .min(1)
    .max(2048)
    .openapi({ example: "https://gitlab.gnome.org/GNOME/gnome-shell" }),
  gitlab_token: z
    .string()
    .min(1)
    .max(4096)
    .openapi({ description: "An access token with the api scope, used once and never stored" }),
};
const connectBody = z
  .object({ ...credentials, grant_bot: z.boolean().default(false) })
  .strict()
  .openapi("ConnectRequest");
const disconnectBody = z.object(credentials).strict().openapi("DisconnectRequest");

const statusSchema = z
  .object({
    path: z.string(),
    instance_url: z.string(),
    mode: z.string(),
    connected_by: z.string(),
    connected_at: z.string(),
    verified_at: z.string().nullable(),
    test_result: z.string().nullable(),
    bot_access: z.string().nullable(),
  })
  .openapi("ConnectionStatus");
const reportSchema = z
  .object({
    registration_id: z.string(),
    instance_url: z.string(),
    kind: z.enum(["project", "group"]),
    path: z.string(),
    web_url: z.string(),
    mode: z.enum(["project", "group", "projects"]),
    connected_by: z.string(),
    hook: z.string(),
    hooks: z.object({
      installed: z.number(),
      problems: z.array(z.object({ path: z.string(), problem: z.string() })),
    }),
    bot: z.object({ state: z.string(), detail: z.string() }),
    test: z.object({ sent: z.boolean(), result: z.string() }),
    status_url: z.string(),
  })
  .openapi("ConnectReport");

/**
 * Every connect or disconnect attempt counts against the caller's IP before GitLab is asked,
 * so the relay cannot be used to hammer a GitLab instance with guessed tokens.
 */
export function limitAttempts(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const limiter = c.env.AUTH_FAILURES;
    if (limiter && c.req.method === "POST") {
      const key = `connect:${c.req.header("cf-connecting-ip") ?? "unknown"}`;
      const { success } = await limiter.limit({ key });
      if (!success) {
        throw new AppError("too_many_requests", "too many connect attempts; wait a minute", {
          "Retry-After": "60",
        });
      }
    }
    await next();
  };
}

export function statusUrl(c: Context<AppEnv>, ticket: string): string {
  return `${new URL(c.req.url).origin}/connect/api/status/${ticket}`;
}

export function createConnectApi(): OpenAPIHono<AppEnv> {
  const api = createApiApp({
    basePath: "/connect/api",
    title: "packit-gitlab-relay connect API",
    bearer: null,
  });
  api.use("*", limitAttempts());

  api.openapi(
    createRoute({
      method: "post",
      path: "/connect",
      summary: "Connect a project or group: registration, hook, bot access, GitLab's hook test",
      request: { body: { content: json(connectBody), required: true } },
      responses: {
        201: {
          description: "Connected; the test event marks it verified",
          content: json(reportSchema),
        },
        ...errorResponses(400, 401, 404, 409, 503),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const report = await connect(connectDeps(c.env, c.var.repos, c.var.forgetTokens), {
        url: input.url,
        credential: input.gitlab_token,
        grantBot: input.grant_bot,
        webhookUrl: webhookUrlFor(c.req.url),
      });
      auditConnect(c, report);
      const ticket = await statusTicket(c.env, report.registration_id);
      return c.json({ ...report, status_url: statusUrl(c, ticket) }, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/disconnect",
      summary: "Remove the relay's hooks and the registration; its tokens stop working",
      request: { body: { content: json(disconnectBody), required: true } },
      responses: {
        200: {
          description: "Disconnected",
          content: json(
            z.object({
              instance_url: z.string(),
              kind: z.enum(["project", "group"]),
              path: z.string(),
              disconnected_by: z.string(),
              hooks_removed: z.number(),
              registration_removed: z.boolean(),
            }),
          ),
        },
        ...errorResponses(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const report = await disconnect(connectDeps(c.env, c.var.repos, c.var.forgetTokens), {
        url: input.url,
        credential: input.gitlab_token,
        webhookUrl: webhookUrlFor(c.req.url),
      });
      auditDisconnect(c, report);
      return c.json(report, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/status/{ticket}",
      summary: "Whether GitLab's test event (or any event) has come through the new hook",
      request: {
        params: z.object({
          ticket: z
            .string()
            .min(1)
            .max(2048)
            .openapi({ param: { in: "path" } }),
        }),
      },
      responses: {
        200: { description: "Connection status", content: json(statusSchema) },
        ...errorResponses(404),
      },
    }),
    async (c) => c.json(await connectionStatus(c, c.req.valid("param").ticket), 200),
  );
  return api;
}
