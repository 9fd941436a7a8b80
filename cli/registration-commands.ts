/** relayctl commands for instances, project and group registrations, and their tokens. */

import { z } from "zod";
import { createdProjectSchema } from "../src/admin/schemas";
import {
  api,
  CliError,
  type Command,
  type Ctx,
  listOf,
  positiveInt,
  required,
  show,
  str,
} from "./cli-kit";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const registrations = z.object({
  projects: z.array(
    z.object({
      id: z.string(),
      instance_url: z.string(),
      project_id: z.number().nullable(),
      path: z.string(),
    }),
  ),
});

/**
 * A registration named as the operator has it at hand: its id, GitLab's project id, or the
 * path (project or namespace); `--instance` narrows it to one instance.
 */
export async function registrationId(
  ctx: Ctx,
  ref: string | undefined,
  instance: string | undefined,
): Promise<string> {
  const wanted = required(ref, "PROJECT (a registration id, a GitLab project id or a path)");
  if (UUID.test(wanted)) {
    return wanted;
  }
  const list = registrations.parse(await api(ctx, "GET", "/projects")).projects;
  const matches = list.filter(
    (p) =>
      (!instance || p.instance_url === instance.replace(/\/+$/, "")) &&
      (String(p.project_id) === wanted || p.path.toLowerCase() === wanted.toLowerCase()),
  );
  const [only, ...more] = matches;
  if (!only) {
    throw new CliError(`no registration matches ${wanted}${instance ? ` on ${instance}` : ""}`);
  }
  if (more.length > 0) {
    throw new CliError(
      `${wanted} matches ${matches.length} registrations (${matches.map((m) => m.instance_url).join(", ")}): add --instance URL`,
    );
  }
  return only.id;
}

export const REGISTRATION_COMMANDS: Record<string, Command> = {
  "instances add": {
    usage: "instances add URL --token API_TOKEN",
    summary: "register a GitLab instance and the API token the relay uses on it",
    flags: { token: "string" },
    run: async ([url], flags, ctx) => {
      const body = {
        url: required(url, "URL"),
        api_token: required(str(flags, "token"), "--token"),
      };
      show(ctx, await api(ctx, "POST", "/instances", body));
      return 0;
    },
  },
  "instances list": {
    usage: "instances list",
    summary: "list registered instances",
    run: async (_a, _f, ctx) => {
      const res = await api(ctx, "GET", "/instances");
      show(ctx, ctx.json ? res : listOf(res, "instances"), [
        "id",
        "url",
        "credential_ok",
        "feedback_paused_until",
      ]);
      return 0;
    },
  },
  "instances update": {
    usage:
      "instances update ID [--url URL] [--token API_TOKEN] [--oauth-client-id ID --oauth-client-secret S | --remove-oauth]",
    summary:
      "change an instance's URL, API token, or the OAuth application maintainers sign in with on /connect",
    flags: {
      url: "string",
      token: "string",
      "oauth-client-id": "string",
      "oauth-client-secret": "string",
      "remove-oauth": "boolean",
    },
    run: async ([id], flags, ctx) => {
      const body: Record<string, string | null> = {};
      const url = str(flags, "url");
      const token = str(flags, "token");
      if (url) {
        body.url = url;
      }
      if (token) {
        body.api_token = token;
      }
      const clientId = str(flags, "oauth-client-id");
      const clientSecret = str(flags, "oauth-client-secret");
      if (clientId || clientSecret) {
        body.oauth_client_id = required(clientId, "--oauth-client-id");
        body.oauth_client_secret = required(clientSecret, "--oauth-client-secret");
      }
      if (flags["remove-oauth"]) {
        body.oauth_client_id = null;
      }
      show(
        ctx,
        await api(ctx, "PATCH", `/instances/${encodeURIComponent(required(id, "ID"))}`, body),
      );
      return 0;
    },
  },
  "instances check": {
    usage: "instances check ID",
    summary:
      "ask GitLab whether the API token works and whether each registered project is still where it was",
    run: async ([id], _f, ctx) => {
      const res = await api(
        ctx,
        "POST",
        `/instances/${encodeURIComponent(required(id, "ID"))}/check`,
      );
      if (ctx.json) {
        show(ctx, res);
        return 0;
      }
      const check = z
        .object({
          credential: z.string(),
          gitlab_user: z.string().nullable(),
          projects: z.array(z.object({ path: z.string(), problem: z.string().nullable() })),
        })
        .parse(res);
      ctx.io.out(
        `API token: ${check.credential}${check.gitlab_user ? ` (@${check.gitlab_user})` : ""}`,
      );
      for (const p of check.projects.filter((x) => x.problem)) {
        ctx.io.out(`warning: ${p.path}: ${p.problem}`);
      }
      return check.credential === "ok" || check.credential === "unreachable" ? 0 : 1;
    },
  },
  "instances remove": {
    usage: "instances remove ID",
    summary: "remove an instance no project uses",
    run: async ([id], _f, ctx) => {
      await api(ctx, "DELETE", `/instances/${encodeURIComponent(required(id, "ID"))}`);
      show(ctx, { removed: id });
      return 0;
    },
  },
  "projects add": {
    usage:
      "projects add --instance URL (--project-id N --path GROUP/PROJECT | --namespace GROUP) [--signing-secret whsec_...]",
    summary:
      "register a project or group hook; prints the webhook URL, the token (once) and the GitLab settings",
    flags: {
      instance: "string",
      "project-id": "string",
      path: "string",
      namespace: "string",
      "signing-secret": "string",
    },
    run: async (_a, flags, ctx) => {
      const instance = required(str(flags, "instance"), "--instance");
      const namespace = str(flags, "namespace");
      const body: Record<string, unknown> = namespace
        ? { instance_url: instance, namespace }
        : {
            instance_url: instance,
            project_id: positiveInt(
              required(str(flags, "project-id"), "--project-id or --namespace"),
              "--project-id",
            ),
            path: required(str(flags, "path"), "--path"),
          };
      const secret = str(flags, "signing-secret");
      if (secret) {
        body.signing_secret = secret;
      }
      const res = await api(ctx, "POST", "/projects", body);
      if (ctx.json) {
        show(ctx, res);
        return 0;
      }
      // The server's own response schema: a drift between the two fails here, not silently.
      const created = createdProjectSchema.parse(res);
      ctx.io.out(`registered ${created.id}`);
      ctx.io.out(`In GitLab, open ${created.gitlab_settings.where} and add a webhook:`);
      ctx.io.out(`  URL:           ${created.webhook_url}`);
      ctx.io.out(`  Secret token:  ${created.token}   (shown once: store it now)`);
      ctx.io.out(`  Trigger:       ${created.gitlab_settings.trigger.join(", ")}`);
      ctx.io.out("  SSL verification: enabled");
      return 0;
    },
  },
  "projects list": {
    usage: "projects list",
    summary: "list registrations (never their secrets)",
    run: async (_a, _f, ctx) => {
      const res = await api(ctx, "GET", "/projects");
      show(ctx, ctx.json ? res : listOf(res, "projects"), [
        "id",
        "kind",
        "instance_url",
        "project_id",
        "path",
        "signed",
      ]);
      return 0;
    },
  },
  "projects show": {
    usage: "projects show PROJECT [--instance URL]",
    summary: "show a registration (by id, GitLab project id or path), its tokens and connection",
    flags: { instance: "string" },
    run: async ([ref], flags, ctx) => {
      const id = await registrationId(ctx, ref, str(flags, "instance"));
      show(ctx, await api(ctx, "GET", `/projects/${encodeURIComponent(id)}`));
      return 0;
    },
  },
  "projects remove": {
    usage: "projects remove PROJECT [--instance URL]",
    summary: "remove a registration; its tokens stop working",
    flags: { instance: "string" },
    run: async ([ref], flags, ctx) => {
      const id = await registrationId(ctx, ref, str(flags, "instance"));
      await api(ctx, "DELETE", `/projects/${encodeURIComponent(id)}`);
      show(ctx, { removed: id });
      return 0;
    },
  },
  "tokens rotate": {
    usage: "tokens rotate PROJECT [--instance URL] [--grace SECONDS]",
    summary: "issue a new webhook token; earlier ones work for the grace period (default 24 h)",
    flags: { grace: "string", instance: "string" },
    run: async ([ref], flags, ctx) => {
      const id = await registrationId(ctx, ref, str(flags, "instance"));
      const grace = str(flags, "grace");
      const body = grace === undefined ? undefined : { grace_period_seconds: Number(grace) };
      show(ctx, await api(ctx, "POST", `/projects/${encodeURIComponent(id)}/tokens`, body));
      return 0;
    },
  },
  "tokens revoke": {
    usage: "tokens revoke PROJECT TOKEN_ID [--instance URL]",
    summary: "revoke a webhook token at once",
    flags: { instance: "string" },
    run: async ([ref, tokenId], flags, ctx) => {
      const id = await registrationId(ctx, ref, str(flags, "instance"));
      const path = `/projects/${encodeURIComponent(id)}/tokens/${encodeURIComponent(required(tokenId, "TOKEN_ID"))}`;
      show(ctx, await api(ctx, "DELETE", path));
      return 0;
    },
  },
};
