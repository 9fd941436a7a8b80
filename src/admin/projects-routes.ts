/**
 * /admin/projects: register a project hook or a group hook (a namespace and all its
 * subgroups), hand out its webhook token once, rotate and revoke tokens.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { audit } from "../audit";
import { instanceUrlOrThrow, readConfig, requireEncryptionKey } from "../config";
import { webhookUrlFor } from "../domain/webhook-paths";
import { mintToken } from "../domain/webhook-token";
import { AppError } from "../errors";
import { forgetTokens } from "../ingress/authenticate";
import { encrypt } from "../lib/crypto";
import { projectTokenContext, signingSecretContext } from "../lib/secret-contexts";
import { errorResponses, idParam, json } from "../openapi";
import type { RegistrationRow } from "../storage/projects-repo";
import { describeConnection, describeProject, gitlabSettings } from "./project-views";
import {
  createdProjectSchema,
  createProjectSchema,
  projectSchema,
  rotatedTokenSchema,
  rotateTokenSchema,
  security,
  tokenInfoSchema,
  tokenParams,
} from "./schemas";
import { describeToken } from "./webhook-tokens";

/** The triggers to tick in GitLab: what the relay forwards. Confidential ones stay off. */
export function registerProjectRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "post",
      path: "/projects",
      security,
      summary: "Register a project hook or a group hook; returns its token once",
      request: { body: { content: json(createProjectSchema), required: true } },
      responses: {
        201: { description: "Registered", content: json(createdProjectSchema) },
        ...errorResponses(400, 401, 404, 409, 503),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const instanceUrl = instanceUrlOrThrow(c.env, input.instance_url);
      const instance = await c.var.repos.instances.findByUrl(instanceUrl);
      if (!instance) {
        throw new AppError("not_found", `instance ${instanceUrl} is not registered`);
      }
      const id = crypto.randomUUID();
      const now = Date.now();
      const signingSecretEnc = input.signing_secret
        ? await encrypt(requireEncryptionKey(c.env), input.signing_secret, signingSecretContext(id))
        : null;
      const row: RegistrationRow = {
        id,
        instance_id: instance.id,
        instance_url: instance.url,
        ...("project_id" in input
          ? { kind: "project" as const, gitlab_project_id: input.project_id, path: input.path }
          : { kind: "namespace" as const, gitlab_project_id: null, path: input.namespace }),
        signing_secret_enc: signingSecretEnc,
        created_at: now,
      };
      const { token, row: tokenRow } = await mintToken(id, now, readConfig(c.env).TOKEN_CHECK_KEY);
      const repo = c.var.repos.projects;
      if ((await repo.insertWithToken(row, tokenRow)) === "duplicate") {
        throw new AppError(
          "conflict",
          row.kind === "project"
            ? `project ${row.gitlab_project_id} is already registered on ${instance.url}`
            : `namespace ${row.path} is already registered on ${instance.url}`,
        );
      }
      audit(c, "project.create", {
        project_registration_id: id,
        instance_url: instance.url,
        kind: row.kind,
        path: row.path,
        // Field names avoid "token"/"secret": the logger redacts fields named like that.
        credential_id: tokenRow.id,
        signed_hooks: signingSecretEnc !== null,
      });
      const webhookUrl = webhookUrlFor(c.req.url);
      return c.json(
        {
          ...describeProject(row, [tokenRow]),
          webhook_url: webhookUrl,
          token,
          token_id: tokenRow.id,
          gitlab_settings: gitlabSettings(row, webhookUrl, token, signingSecretEnc !== null),
        },
        201,
      );
    },
  );

  admin.openapi(
    createRoute({
      method: "get",
      path: "/projects",
      security,
      summary: "List registrations (never their secrets)",
      responses: {
        200: {
          description: "Registrations",
          content: json(z.object({ projects: z.array(projectSchema) })),
        },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const repo = c.var.repos.projects;
      const [rows, tokens, connections] = await Promise.all([
        repo.list(),
        repo.tokensByRegistration(),
        c.var.repos.connections.all(),
      ]);
      const projects = rows.map((row) => {
        const link = connections.get(row.id);
        const connection = link ? describeConnection(link, []) : null;
        return { ...describeProject(row, tokens.get(row.id) ?? []), connection };
      });
      return c.json({ projects }, 200);
    },
  );

  admin.openapi(
    createRoute({
      method: "get",
      path: "/projects/{id}",
      security,
      summary: "Show a registration and its tokens (never a secret)",
      request: { params: idParam },
      responses: {
        200: { description: "Registration", content: json(projectSchema) },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const repo = c.var.repos.projects;
      const row = await repo.get(c.req.valid("param").id);
      if (!row) {
        throw new AppError("not_found", "no such project");
      }
      const connection = await c.var.repos.connections.get(row.id);
      return c.json(
        {
          ...describeProject(row, await repo.listTokens(row.id)),
          connection: connection
            ? describeConnection(connection, await c.var.repos.connections.hooks(row.id))
            : null,
        },
        200,
      );
    },
  );

  admin.openapi(
    createRoute({
      method: "delete",
      path: "/projects/{id}",
      security,
      summary: "Remove a registration; its tokens stop working",
      request: { params: idParam },
      responses: { 204: { description: "Removed" }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      if (!(await c.var.repos.projects.delete(c.req.valid("param").id))) {
        throw new AppError("not_found", "no such project");
      }
      audit(c, "project.delete", { project_registration_id: c.req.valid("param").id });
      forgetTokens();
      return c.body(null, 204);
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/projects/{id}/tokens",
      security,
      summary: "Rotate: a new token; earlier tokens keep working for the grace period",
      request: {
        params: idParam,
        body: { content: json(rotateTokenSchema), required: false },
      },
      responses: {
        201: { description: "New token (shown once)", content: json(rotatedTokenSchema) },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      // An empty body is allowed: the validator then skips it and the default applies.
      const { grace_period_seconds: grace } = rotateTokenSchema.parse(c.req.valid("json") ?? {});
      const repo = c.var.repos.projects;
      if (!(await repo.get(id))) {
        throw new AppError("not_found", "no such project");
      }
      const now = Date.now();
      const graceEndsAt = now + grace * 1000;
      const { token, row } = await mintToken(id, now, readConfig(c.env).TOKEN_CHECK_KEY);
      await repo.rotate(row, graceEndsAt, now);
      audit(c, "project.token.rotate", {
        project_registration_id: id,
        credential_id: row.id,
        previous_expire_at: new Date(graceEndsAt).toISOString(),
      });
      forgetTokens();
      return c.json(
        {
          token,
          token_id: row.id,
          previous_tokens_expire_at: new Date(graceEndsAt).toISOString(),
        },
        201,
      );
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/projects/{id}/gitlab-token",
      security,
      summary: "Set the project's own GitLab token for feedback (e.g. a project access token)",
      request: {
        params: idParam,
        body: {
          content: json(z.object({ token: z.string().min(1).max(4096) }).strict()),
          required: true,
        },
      },
      responses: {
        204: { description: "Stored, encrypted" },
        ...errorResponses(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const sealed = await encrypt(
        requireEncryptionKey(c.env),
        c.req.valid("json").token,
        projectTokenContext(id),
      );
      if (!(await c.var.repos.projects.setGitlabToken(id, sealed))) {
        throw new AppError("not_found", "no such project hook registration");
      }
      audit(c, "project.gitlab_token.set", { project_registration_id: id, removed: false });
      return c.body(null, 204);
    },
  );

  admin.openapi(
    createRoute({
      method: "delete",
      path: "/projects/{id}/gitlab-token",
      security,
      summary: "Remove the project's own GitLab token: feedback uses the instance's again",
      request: { params: idParam },
      responses: { 204: { description: "Removed" }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      if (!(await c.var.repos.projects.setGitlabToken(c.req.valid("param").id, null))) {
        throw new AppError("not_found", "no such project hook registration");
      }
      audit(c, "project.gitlab_token.set", {
        project_registration_id: c.req.valid("param").id,
        removed: true,
      });
      return c.body(null, 204);
    },
  );

  admin.openapi(
    createRoute({
      method: "delete",
      path: "/projects/{id}/tokens/{token_id}",
      security,
      summary: "Revoke a token at once",
      request: { params: tokenParams },
      responses: {
        200: { description: "Revoked", content: json(tokenInfoSchema) },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const { id, token_id } = c.req.valid("param");
      const row = await c.var.repos.projects.revokeToken(id, token_id, Date.now());
      if (!row) {
        throw new AppError("not_found", "no such token for this project");
      }
      audit(c, "project.token.revoke", { project_registration_id: id, credential_id: token_id });
      forgetTokens();
      return c.json(describeToken(row, Date.now()), 200);
    },
  );
}
