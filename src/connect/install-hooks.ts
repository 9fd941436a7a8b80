/**
 * Installing the relay's webhook through GitLab's hooks API: one hook per project or group,
 * updated in place when one already points at the relay (extra copies removed), so
 * connecting twice leaves one hook. Then GitLab's own test, which delivers a push event.
 */
import { z } from "zod";
import { isRelayHookUrl } from "../domain/webhook-paths";
import { AppError } from "../errors";
import type { ConnectionHookRow, ConnectionRow } from "../storage/connections-repo";
import { apiPath, type Target } from "./connect-target";
import { expectOk, type GitlabSession, messageOf } from "./gitlab-session";

/** The triggers packit-service acts on, SSL verification on; confidential events stay off. */
export function hookFields(url: string, token: string) {
  return {
    url,
    token,
    enable_ssl_verification: true,
    push_events: true,
    tag_push_events: true,
    merge_requests_events: true,
    note_events: true,
    issues_events: true,
    pipeline_events: true,
    releases_events: true,
    confidential_issues_events: false,
    confidential_note_events: false,
  };
}

const hookSchema = z.object({
  id: z.number().int(),
  url: z.string(),
  alert_status: z.string().optional(),
  disabled_until: z.string().nullable().optional(),
});
export type GitlabHook = z.infer<typeof hookSchema>;

/** What an install left: the mode, the hook(s), and where GitLab's test can run. */
export type Installed = {
  mode: ConnectionRow["mode"];
  hookId: number | null;
  rows: ConnectionHookRow[];
  summary: string;
  testOn: (Pick<Target, "kind" | "id"> & { hookId: number }) | null;
  /** A hook was created: it has no GitLab 19 signing token, whatever was set up before. */
  created: boolean;
};

export type HookInstall =
  | { outcome: "installed"; hookId: number; action: "created" | "updated"; removed: number }
  | { outcome: "refused"; status: number; message: string };

/** The relay's hooks on a target (GitLab returns hooks only to those who may manage them). */
export async function relayHooks(
  session: GitlabSession,
  on: Pick<Target, "kind" | "id">,
  webhookUrl: string,
): Promise<GitlabHook[] | { status: number; message: string }> {
  const reply = await session.call("GET", `${apiPath(on)}/hooks?per_page=100`);
  if (reply.status !== 200) {
    return { status: reply.status, message: messageOf(reply) };
  }
  const hooks = expectOk(reply, z.array(hookSchema), "listing hooks");
  return hooks.filter((h) => isRelayHookUrl(h.url, webhookUrl));
}

export async function ensureHook(
  session: GitlabSession,
  on: Pick<Target, "kind" | "id">,
  webhookUrl: string,
  token: string,
): Promise<HookInstall> {
  const mine = await relayHooks(session, on, webhookUrl);
  if (!Array.isArray(mine)) {
    return { outcome: "refused", ...mine };
  }
  const fields = hookFields(webhookUrl, token);
  const [first, ...extra] = mine;
  const reply = first
    ? await session.call("PUT", `${apiPath(on)}/hooks/${first.id}`, fields)
    : await session.call("POST", `${apiPath(on)}/hooks`, fields);
  if (reply.status !== 200 && reply.status !== 201) {
    return { outcome: "refused", status: reply.status, message: messageOf(reply) };
  }
  const hook = expectOk(reply, hookSchema, "installing the hook");
  for (const copy of extra) {
    await session.call("DELETE", `${apiPath(on)}/hooks/${copy.id}`);
  }
  return {
    outcome: "installed",
    hookId: hook.id,
    action: first ? "updated" : "created",
    removed: extra.length,
  };
}

/** Removes every hook on the target that points at the relay; how many went. */
export async function removeHooks(
  session: GitlabSession,
  on: Pick<Target, "kind" | "id">,
  webhookUrl: string,
): Promise<number> {
  const mine = await relayHooks(session, on, webhookUrl);
  if (!Array.isArray(mine)) {
    if (mine.status === 404) {
      return 0;
    }
    throw new AppError("forbidden", `removing the hook: ${mine.message}`);
  }
  for (const hook of mine) {
    await session.call("DELETE", `${apiPath(on)}/hooks/${hook.id}`);
  }
  return mine.length;
}

/**
 * GitLab's hook test (POST .../hooks/:id/test/push_events): GitLab sends a push event built
 * from the latest commit and answers 201 only if the receiver answered 2xx.
 */
export async function testHook(
  session: GitlabSession,
  on: Pick<Target, "kind" | "id">,
  hookId: number,
): Promise<{ sent: boolean; result: string }> {
  try {
    const reply = await session.call("POST", `${apiPath(on)}/hooks/${hookId}/test/push_events`);
    if (reply.status === 201 || reply.status === 200) {
      return { sent: true, result: "GitLab sent a test push event and the relay accepted it" };
    }
    return { sent: false, result: `GitLab's test did not reach the relay: ${messageOf(reply)}` };
  } catch (err) {
    // Hook tests are limited to 5 a minute per user; the hook itself is installed.
    if (err instanceof AppError && err.status < 500 && err.code !== "unauthorized") {
      return { sent: false, result: `GitLab did not run the test: ${err.message}` };
    }
    throw err;
  }
}
