/** The HTTP side of the relay: request ids, the error envelope, and every route. */
import { Hono } from "hono";
import { createAdminApp } from "./admin/admin-app";
import type { AppEnv } from "./app-env";
import { configProblems, readConfig } from "./config";
import { createConnectApi } from "./connect/connect-api";
import { createConnectPage } from "./connect/connect-page";
import { registerHookHealthRoutes } from "./connect/hook-health";
import { createConsoleApp } from "./console/console-routes";
import { repos } from "./deps";
import { AppError, renderError } from "./errors";
import { createFeedbackApp } from "./feedback/feedback-routes";
import { forgetTokens } from "./ingress/authenticate";
import { registerWebhookRoutes } from "./ingress/webhook-route";
import { log } from "./lib/logger";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    const requestId = crypto.randomUUID();
    const started = Date.now();
    c.set("requestId", requestId);
    c.set("repos", repos(c.env.DB));
    c.set("forgetTokens", forgetTokens);
    await next();
    c.header("X-Request-Id", requestId);
    // One line per request; the path only (no query string: it may carry filters, never secrets).
    log("info", "request", {
      request_id: requestId,
      method: c.req.method,
      // Status tickets are capabilities: their text stays out of the log.
      path: c.req.path.replace(/^(\/connect(?:\/api)?\/status\/).+$/, "$1…"),
      status: c.res.status,
      duration_ms: Date.now() - started,
      ...c.get("logFields"),
    });
  });
  app.onError(renderError);
  app.notFound(() => {
    throw new AppError("not_found", "no such route");
  });

  // Degraded (still 200: the relay takes and stores events) when a setting is missing or
  // contradicts another; the reasons name settings, never their values.
  app.get("/healthz", async (c) => {
    const problems = configProblems(readConfig(c.env));
    // A destination left alone by its circuit breaker is degraded service, not an outage.
    const circuits = await c.var.repos.circuits.all().catch(() => []);
    for (const circuit of circuits.filter((x) => x.state !== "closed")) {
      problems.push(
        `${circuit.destination.split(" ")[0]}: circuit ${circuit.state.replace("_", "-")} after ${circuit.failures} failures in a row; deliveries wait for a probe`,
      );
    }
    return c.json(problems.length === 0 ? { status: "ok" } : { status: "degraded", problems });
  });
  registerWebhookRoutes(app);
  const admin = createAdminApp([registerHookHealthRoutes]);
  app.route("/admin", admin);
  // The console reads and acts through the admin API, with the whole app's middleware.
  app.route("/console", createConsoleApp({ request: (...args) => app.request(...args) }));
  app.route("/api/v1", createFeedbackApp());
  app.route("/connect/api", createConnectApi());
  app.route("/connect", createConnectPage());
  return app;
}
