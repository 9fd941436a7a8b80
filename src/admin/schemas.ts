/** Request and response schemas of the admin API; they are also its OpenAPI document. */
import { z } from "@hono/zod-openapi";
import { idParam } from "../openapi";

/** Every admin route takes the ADMIN_TOKEN bearer. */
export const security = [{ AdminToken: [] }];

const secretText = (example: string) => z.string().min(1).max(4096).openapi({ example });

export const instanceSchema = z
  .object({
    id: z.string(),
    url: z.string().openapi({ example: "https://gitlab.gnome.org" }),
    created_at: z.string(),
    updated_at: z.string(),
    credential_ok: z
      .boolean()
      .openapi({ description: "false after GitLab answered 401, or when no API token is set" }),
    has_api_token: z.boolean().openapi({
      description: "false after a URL change without a new api_token: the old one was dropped",
    }),
    credential_broken_at: z.string().nullable(),
    feedback_paused_until: z
      .string()
      .nullable()
      .openapi({ description: "GitLab rate-limited the relay; feedback waits until then" }),
    oauth_client_id: z.string().nullable().openapi({
      description: "The GitLab OAuth application maintainers sign in with on /connect (scope api)",
    }),
  })
  .openapi("Instance");

export const createInstanceSchema = z
  .object({
    url: z.string().min(1).max(2048).openapi({ example: "https://gitlab.com" }),
    api_token: secretText("glpat-xxxxxxxxxxxxxxxxxxxx"),
  })
  .strict();

export const updateInstanceSchema = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    api_token: secretText("glpat-xxxxxxxxxxxxxxxxxxxx").optional(),
    oauth_client_id: z.string().min(1).max(200).nullable().optional().openapi({
      description:
        "Application ID of a GitLab OAuth application (scope api, redirect URI {relay}/connect/callback); null removes it",
    }),
    oauth_client_secret: secretText("gloas-xxxxxxxx").optional(),
  })
  .strict()
  .refine(
    (v) => v.url !== undefined || v.api_token !== undefined || v.oauth_client_id !== undefined,
    { message: "give url, api_token or oauth_client_id (with oauth_client_secret)" },
  )
  .refine(
    (v) => (typeof v.oauth_client_id === "string") === (v.oauth_client_secret !== undefined),
    { message: "oauth_client_id and oauth_client_secret come together (null removes both)" },
  );

/** GitLab full paths: segments of letters, digits, `_`, `-`, `.`, joined by `/`. */
const gitlabPath = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/, "not a GitLab path");

const signingSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/=_-]{32,}$/, "must be whsec_ followed by base64")
  .optional()
  .openapi({ description: "GitLab 19 signing token; requests must then be signed" });

export const createProjectSchema = z.union([
  z
    .object({
      instance_url: z.string().min(1).max(2048),
      project_id: z.number().int().positive(),
      path: gitlabPath.openapi({ example: "packit/hello-world" }),
      signing_secret: signingSecret,
    })
    .strict()
    .openapi("ProjectHookRegistration"),
  z
    .object({
      instance_url: z.string().min(1).max(2048),
      namespace: gitlabPath.openapi({ example: "redhat/centos-stream" }),
      signing_secret: signingSecret,
    })
    .strict()
    .openapi("GroupHookRegistration"),
]);

export const tokenInfoSchema = z
  .object({
    id: z.string(),
    hint: z.string().openapi({ example: "pgr_AbCd…wxyz" }),
    state: z.enum(["active", "grace", "expired", "revoked"]),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
  })
  .openapi("TokenInfo");

export const connectionSchema = z
  .object({
    mode: z.enum(["project", "group", "projects"]).openapi({
      description: "projects: the tier has no group hooks, so each project has its own hook",
    }),
    hook_id: z.number().int().nullable(),
    connected_by: z.string(),
    connected_at: z.string(),
    verified_at: z.string().nullable().openapi({ description: "first event through the hook" }),
    test_result: z.string().nullable(),
    bot_access: z.string().nullable(),
    synced_at: z.string().nullable(),
    hook_health: z
      .object({
        alert_status: z.string().nullable(),
        disabled_until: z.string().nullable(),
        checked_at: z.string().nullable(),
      })
      .openapi({
        description:
          "GitLab's alert_status (executable, temporarily_disabled, disabled) as the bot last read it (cron, every 10 min); null: unreadable",
      }),
    project_hooks: z.array(
      z.object({
        project_id: z.number().int(),
        path: z.string(),
        hook_id: z.number().int().nullable(),
        problem: z.string().nullable(),
        alert_status: z.string().nullable(),
      }),
    ),
  })
  .openapi("Connection");

export const projectSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["project", "namespace"]),
    instance_url: z.string(),
    project_id: z.number().int().nullable(),
    path: z.string().openapi({ description: "project path, or the namespace a group hook covers" }),
    signed: z.boolean().openapi({ description: "whether a signing secret is registered" }),
    created_at: z.string(),
    tokens: z.array(tokenInfoSchema),
    connection: connectionSchema.nullable().optional().openapi({
      description:
        "set when a maintainer connected it; project_hooks are listed by GET /admin/projects/{id} only",
    }),
  })
  .openapi("Project");

export const gitlabSettingsSchema = z
  .object({
    where: z.string(),
    url: z.string(),
    secret_token: z.string(),
    signing_token: z.string().nullable(),
    trigger: z.array(z.string()),
    api_fields: z.record(z.string(), z.union([z.boolean(), z.string()])),
    enable_ssl_verification: z.boolean(),
  })
  .openapi("GitlabSettings");

export const createdProjectSchema = projectSchema
  .extend({
    webhook_url: z.string(),
    token: z.string().openapi({ description: "shown once; only its SHA-256 is stored" }),
    token_id: z.string(),
    gitlab_settings: gitlabSettingsSchema,
  })
  .openapi("CreatedProject");

export const rotateTokenSchema = z
  .object({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(24 * 3600)
      .openapi({ description: "how long earlier tokens keep working (default 24 h)" }),
  })
  .strict();

export const rotatedTokenSchema = z
  .object({
    token: z.string(),
    token_id: z.string(),
    previous_tokens_expire_at: z.string(),
  })
  .openapi("RotatedToken");

export const tokenParams = idParam.extend({
  token_id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { in: "path" } }),
});
