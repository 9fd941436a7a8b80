/** /admin/instances: register the GitLab instances the relay talks to, with their API tokens. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { audit } from "../audit";
import { instanceUrlOrThrow, requireEncryptionKey } from "../config";
import { AppError } from "../errors";
import { encrypt } from "../lib/crypto";
import { apiTokenContext, oauthSecretContext } from "../lib/secret-contexts";
import { errorResponses, idParam, json } from "../openapi";
import { toInstance } from "../storage/instances-repo";
import { createInstanceSchema, instanceSchema, security, updateInstanceSchema } from "./schemas";

export function registerInstanceRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "post",
      path: "/instances",
      security,
      summary: "Register a GitLab instance",
      request: { body: { content: json(createInstanceSchema), required: true } },
      responses: {
        201: { description: "Registered", content: json(instanceSchema) },
        ...errorResponses(400, 401, 409, 503),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const url = instanceUrlOrThrow(c.env, input.url);
      const key = requireEncryptionKey(c.env);
      const id = crypto.randomUUID();
      const now = Date.now();
      const row = {
        id,
        url,
        api_token_enc: await encrypt(key, input.api_token, apiTokenContext(id)),
        created_at: now,
        updated_at: now,
        oauth_client_id: null,
        oauth_client_secret_enc: null,
      };
      if ((await c.var.repos.instances.insert(row)) === "duplicate") {
        throw new AppError("conflict", `instance ${url} is already registered`);
      }
      audit(c, "instance.create", { instance_id: id, url });
      return c.json(toInstance({ ...row, credential_broken_at: null, paused_until: null }), 201);
    },
  );

  admin.openapi(
    createRoute({
      method: "get",
      path: "/instances",
      security,
      summary: "List instances",
      responses: {
        200: {
          description: "Instances",
          content: json(z.object({ instances: z.array(instanceSchema) })),
        },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const rows = await c.var.repos.instances.list();
      return c.json({ instances: rows.map(toInstance) }, 200);
    },
  );

  admin.openapi(
    createRoute({
      method: "patch",
      path: "/instances/{id}",
      security,
      summary: "Change an instance's URL, API token or OAuth application",
      request: {
        params: idParam,
        body: { content: json(updateInstanceSchema), required: true },
      },
      responses: {
        200: { description: "Updated", content: json(instanceSchema) },
        ...errorResponses(400, 401, 404, 409, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const input = c.req.valid("json");
      const changes: Parameters<typeof c.var.repos.instances.update>[1] = {};
      if (input.url !== undefined) {
        changes.url = instanceUrlOrThrow(c.env, input.url);
      }
      if (input.api_token !== undefined) {
        changes.api_token_enc = await encrypt(
          requireEncryptionKey(c.env),
          input.api_token,
          apiTokenContext(id),
        );
      }
      if (input.oauth_client_id === null) {
        changes.oauth = null;
      } else if (input.oauth_client_id !== undefined && input.oauth_client_secret !== undefined) {
        changes.oauth = {
          client_id: input.oauth_client_id,
          client_secret_enc: await encrypt(
            requireEncryptionKey(c.env),
            input.oauth_client_secret,
            oauthSecretContext(id),
          ),
        };
      }
      const repo = c.var.repos.instances;
      const result = await repo.update(id, changes, Date.now());
      if (result.outcome === "duplicate") {
        throw new AppError("conflict", "another instance has that URL");
      }
      const row = result.outcome === "ok" ? await repo.get(id) : null;
      if (!row || result.outcome !== "ok") {
        throw new AppError("not_found", "no such instance");
      }
      audit(c, "instance.update", {
        instance_id: id,
        url: row.url,
        url_changed: result.urlChanged,
        api_credential_replaced: changes.api_token_enc !== undefined,
        oauth_app: changes.oauth === undefined ? "kept" : changes.oauth ? "set" : "removed",
        credentials_dropped: result.urlChanged && changes.api_token_enc === undefined,
      });
      return c.json(toInstance(row), 200);
    },
  );

  admin.openapi(
    createRoute({
      method: "delete",
      path: "/instances/{id}",
      security,
      summary: "Remove an instance that no project uses any more",
      request: { params: idParam },
      responses: {
        204: { description: "Removed" },
        ...errorResponses(401, 404, 409),
      },
    }),
    async (c) => {
      const outcome = await c.var.repos.instances.delete(c.req.valid("param").id);
      if (outcome === "missing") {
        throw new AppError("not_found", "no such instance");
      }
      if (outcome === "in_use") {
        throw new AppError("conflict", "projects are still registered on this instance");
      }
      audit(c, "instance.delete", { instance_id: c.req.valid("param").id });
      return c.body(null, 204);
    },
  );
}
