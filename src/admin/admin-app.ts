/**
 * The admin API under /admin: bearer ADMIN_TOKEN (constant time), zod-validated,
 * described by the OpenAPI document at /admin/openapi.json (public: it holds no secrets).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { AppError, renderError } from "../errors";
import { timingSafeEqual } from "../lib/crypto";
import { registerDeliveryRoutes } from "./deliveries-routes";
import { registerFeedbackAdminRoutes } from "./feedback-admin-routes";
import { registerInstanceRoutes } from "./instances-routes";
import { registerMaintenanceRoutes } from "./maintenance-routes";
import { registerProjectRoutes } from "./projects-routes";
import { registerStatsRoutes } from "./stats-routes";

export type AdminApp = OpenAPIHono<AppEnv>;

/**
 * Bearer authentication against a secret that may list several comma-separated tokens, so a
 * token can be rotated without downtime (new and old both valid until clients have moved).
 */
export function bearerAuth(secretOf: (env: Env) => string | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const expected = (secretOf(c.env) ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const header = c.req.header("authorization") ?? "";
    const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    // Compare against every token (no early exit), so timing says nothing about which matched.
    let matched = false;
    for (const token of expected) {
      if (presented && timingSafeEqual(presented, token)) {
        matched = true;
      }
    }
    if (!matched) {
      throw new AppError("unauthorized", "missing or invalid bearer token", {
        "WWW-Authenticate": 'Bearer realm="packit-gitlab-relay"',
      });
    }
    await next();
  };
}

export function createAdminApp(): AdminApp {
  const admin = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const detail = result.error.issues
          .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
          .join("; ");
        throw new AppError("validation_failed", detail.slice(0, 1000));
      }
    },
  });
  admin.onError(renderError);
  admin.openAPIRegistry.registerComponent("securitySchemes", "AdminToken", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN",
  });
  admin.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title: "packit-gitlab-relay admin API", version: "1" },
    servers: [{ url: `${new URL(c.req.url).origin}/admin` }],
  }));
  admin.use("*", async (c, next) => {
    if (c.req.path.endsWith("/openapi.json")) {
      return next();
    }
    return bearerAuth((env) => readConfig(env).ADMIN_TOKEN)(c, next);
  });
  registerInstanceRoutes(admin);
  registerProjectRoutes(admin);
  registerDeliveryRoutes(admin);
  registerStatsRoutes(admin);
  registerFeedbackAdminRoutes(admin);
  registerMaintenanceRoutes(admin);
  return admin;
}
