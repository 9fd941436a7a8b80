/**
 * The admin API under /admin: bearer ADMIN_TOKEN (constant time), zod-validated,
 * described by the OpenAPI document at /admin/openapi.json (public: it holds no secrets).
 */
import { type ApiApp, createApiApp } from "../api-app";
import { readConfig } from "../config";
import { registerDeliveryRoutes } from "./deliveries-routes";
import { registerDeliveryBodyRoute } from "./delivery-body-route";
import { registerFeedbackAdminRoutes } from "./feedback-admin-routes";
import { registerInstanceCheckRoute } from "./instance-check-route";
import { registerInstanceRoutes } from "./instances-routes";
import { registerMaintenanceRoutes } from "./maintenance-routes";
import { registerOverviewRoutes } from "./overview-routes";
import { registerProjectRoutes } from "./projects-routes";
import { registerStatsRoutes } from "./stats-routes";

/** `extra`: route modules of other capabilities that live under /admin (composed in app.ts). */
export function createAdminApp(extra: ((admin: ApiApp) => void)[] = []): ApiApp {
  const admin = createApiApp({
    basePath: "/admin",
    title: "packit-gitlab-relay admin API",
    bearer: {
      scheme: "AdminToken",
      secretName: "ADMIN_TOKEN",
      secretOf: (env) => readConfig(env).ADMIN_TOKEN,
    },
  });
  registerInstanceRoutes(admin);
  registerInstanceCheckRoute(admin);
  registerProjectRoutes(admin);
  registerDeliveryRoutes(admin);
  registerDeliveryBodyRoute(admin);
  registerStatsRoutes(admin);
  registerOverviewRoutes(admin);
  registerFeedbackAdminRoutes(admin);
  registerMaintenanceRoutes(admin);
  for (const register of extra) {
    register(admin);
  }
  return admin;
}
