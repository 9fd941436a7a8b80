/**
 * The two OpenAPI sub-apps (/admin and /api/v1) are built the same way: zod validation
 * failures become the error envelope, errors go through the one renderer, a bearer secret
 * guards every route but `GET {basePath}/openapi.json`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { AppError, renderError } from "./errors";
import { timingSafeEqual } from "./lib/crypto";

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

/** An OpenAPI sub-app of the relay (/admin or /api/v1); route modules register on one. */
export type ApiApp = OpenAPIHono<AppEnv>;

export function createApiApp(options: {
  basePath: string;
  title: string;
  /** The bearer guarding every route; none for the public connect API (GitLab proves). */
  bearer: {
    scheme: string;
    secretName: string;
    secretOf: (env: Env) => string | undefined;
  } | null;
}): OpenAPIHono<AppEnv> {
  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const detail = result.error.issues
          .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
          .join("; ");
        throw new AppError("validation_failed", detail.slice(0, 1000));
      }
    },
  });
  api.onError(renderError);
  const bearer = options.bearer;
  if (bearer) {
    api.openAPIRegistry.registerComponent("securitySchemes", bearer.scheme, {
      type: "http",
      scheme: "bearer",
      description: bearer.secretName,
    });
  }
  api.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title: options.title, version: "1" },
    servers: [{ url: `${new URL(c.req.url).origin}${options.basePath}` }],
  }));
  // Exactly one public route: the document itself. A suffix match would also exempt
  // parameterised routes called with `openapi.json` as their parameter.
  if (!bearer) {
    return api;
  }
  const publicPath = `${options.basePath}/openapi.json`;
  const auth = bearerAuth(bearer.secretOf);
  api.use("*", async (c, next) => {
    if (c.req.method === "GET" && c.req.path === publicPath) {
      return next();
    }
    return auth(c, next);
  });
  return api;
}
