/**
 * relayctl connect / disconnect: a maintainer's one step, through the relay's public connect
 * API (no ADMIN_TOKEN: the GitLab access token proves the role, to GitLab). The token comes
 * from --gitlab-token or GITLAB_TOKEN (kept out of shell history); --oauth prints the page
 * that signs in with GitLab instead.
 */
import { z } from "zod";
import { CliError, type Command, type Ctx, call, relayUrl, show, str } from "./cli-kit";

const POLL_MS = 2_000;
const POLLS = 30;

const report = z.object({
  path: z.string(),
  mode: z.string(),
  connected_by: z.string(),
  hook: z.string(),
  hooks: z.object({ problems: z.array(z.object({ path: z.string(), problem: z.string() })) }),
  bot: z.object({ state: z.string(), detail: z.string() }),
  test: z.object({ sent: z.boolean(), result: z.string() }),
  status_url: z.string(),
});
const status = z.object({ verified_at: z.string().nullable() });

function gitlabToken(ctx: Ctx, flags: Record<string, string | boolean | undefined>): string {
  const token = str(flags, "gitlab-token") ?? ctx.io.env.GITLAB_TOKEN;
  if (!token) {
    throw new CliError(
      "give an access token with the api scope: GITLAB_TOKEN in the environment, or --gitlab-token (or use --oauth)",
    );
  }
  return token;
}

/** Follows the status URL until an event came through the hook, or gives up after a minute. */
async function followVerification(ctx: Ctx, statusUrl: string): Promise<string | null> {
  const path = new URL(statusUrl).pathname;
  for (let i = 0; i < POLLS; i++) {
    const current = status.parse(await call(ctx, "GET", path));
    if (current.verified_at) {
      return current.verified_at;
    }
    await ctx.io.sleep(POLL_MS);
  }
  return null;
}

export const CONNECT_COMMANDS: Record<string, Command> = {
  connect: {
    usage: "connect URL [--gitlab-token T | --oauth] [--grant-bot] [--no-wait]",
    summary:
      "connect a project or group you maintain: registration, webhook, bot access, GitLab's test (no ADMIN_TOKEN)",
    flags: {
      "gitlab-token": "string",
      oauth: "boolean",
      "grant-bot": "boolean",
      "no-wait": "boolean",
    },
    run: async ([url], flags, ctx) => {
      if (!url) {
        throw new CliError("missing URL (the project's or group's GitLab URL)");
      }
      if (flags.oauth) {
        const page = `${relayUrl(ctx)}/connect?url=${encodeURIComponent(url)}`;
        ctx.io.out(`open ${page} and choose "Sign in with GitLab and connect"`);
        return 0;
      }
      const body = {
        url,
        gitlab_token: gitlabToken(ctx, flags),
        grant_bot: flags["grant-bot"] === true,
      };
      const raw = await call(ctx, "POST", "/connect/api/connect", body);
      if (ctx.json) {
        show(ctx, raw);
        return 0;
      }
      const r = report.parse(raw);
      ctx.io.out(`connected ${r.path} (${r.mode}) as @${r.connected_by}`);
      ctx.io.out(`  webhook: ${r.hook}`);
      for (const p of r.hooks.problems) {
        ctx.io.out(`  ! ${p.path}: ${p.problem}`);
      }
      ctx.io.out(`  bot: ${r.bot.state}: ${r.bot.detail}`);
      ctx.io.out(`  test: ${r.test.result}`);
      if (!r.test.sent || flags["no-wait"]) {
        ctx.io.out(`  status: ${r.status_url}`);
        return r.test.sent ? 0 : 1;
      }
      const verified = await followVerification(ctx, r.status_url);
      ctx.io.out(
        verified
          ? `  verified: the test event reached the relay at ${verified}`
          : `  not verified yet; follow ${r.status_url}`,
      );
      return verified ? 0 : 1;
    },
  },
  disconnect: {
    usage: "disconnect URL [--gitlab-token T]",
    summary: "remove the relay's hooks from a project or group you maintain, and its registration",
    flags: { "gitlab-token": "string" },
    run: async ([url], flags, ctx) => {
      if (!url) {
        throw new CliError("missing URL (the project's or group's GitLab URL)");
      }
      const body = { url, gitlab_token: gitlabToken(ctx, flags) };
      show(ctx, await call(ctx, "POST", "/connect/api/disconnect", body));
      return 0;
    },
  },
};
