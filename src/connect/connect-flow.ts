/**
 * Connect: the one step GitLab's missing app model leaves to us. With the maintainer's own
 * credential (used for this call only, never stored): prove the role, register the project
 * or group, install the hook with a fresh token (reconnecting replaces hook token and
 * revokes the old ones), report or grant the bot's access, and fire GitLab's hook test.
 * The first event through the hook marks the connection verified (the queue consumer).
 * Every step is idempotent, so a connect cut short is finished by connecting again.
 */
import type { Repos } from "../app-env";
import { mintToken } from "../domain/webhook-token";
import { AppError } from "../errors";
import { decrypt } from "../lib/crypto";
import { apiTokenContext } from "../lib/secret-contexts";
import type { ConnectionRow, NewConnection } from "../storage/connections-repo";
import type { InstanceRow } from "../storage/instances-repo";
import { NO_CREDENTIAL } from "../storage/instances-repo";
import type { RegistrationRow } from "../storage/projects-repo";
import { type BotAccess, botAccess } from "./bot-access";
import {
  locate,
  requireApiScope,
  requireMaintainer,
  resolveTarget,
  type Target,
} from "./connect-target";
import { type GitlabSession, gitlabSession } from "./gitlab-session";
import { installOnGroup } from "./group-hooks";
import { ensureHook, type Installed, testHook } from "./install-hooks";

export type ConnectDeps = {
  repos: Pick<Repos, "instances" | "projects" | "connections">;
  encryptionKey: string | undefined;
  tokenCheckKey: string | undefined;
  fetcher: typeof fetch;
  now: () => number;
  forgetTokens: () => void;
};

export type ConnectReport = {
  registration_id: string;
  instance_url: string;
  kind: Target["kind"];
  path: string;
  web_url: string;
  mode: ConnectionRow["mode"];
  connected_by: string;
  hook: string;
  hooks: { installed: number; problems: { path: string; problem: string }[] };
  bot: BotAccess;
  test: { sent: boolean; result: string };
};

/** The maintainer's proof, checked: who they are, and the target they maintain. */
export async function prove(deps: ConnectDeps, url: string, credential: string) {
  const { instance, path } = locate(url, await deps.repos.instances.list());
  const maintainer = gitlabSession({
    instanceUrl: instance.url,
    credential,
    owner: "maintainer",
    fetcher: deps.fetcher,
    now: deps.now,
  });
  await requireApiScope(maintainer);
  const target = await resolveTarget(maintainer, path);
  const user = await requireMaintainer(maintainer, target);
  return { instance, maintainer, target, user };
}

export async function connect(
  deps: ConnectDeps,
  input: { url: string; credential: string; grantBot: boolean; webhookUrl: string },
): Promise<ConnectReport> {
  const { instance, maintainer, target, user } = await prove(deps, input.url, input.credential);
  const now = deps.now();
  const registration = await ensureRegistration(deps, instance, target, now);
  const { token, row: tokenRow } = await mintToken(registration.id, now, deps.tokenCheckKey);
  await deps.repos.projects.addToken(tokenRow);

  const installed =
    target.kind === "project"
      ? await installOnProject(maintainer, target, input.webhookUrl, token)
      : await installOnGroup(maintainer, target, input.webhookUrl, token, registration.id);
  // The hooks carry the new token now: every earlier one stops. A hook the relay created has
  // no signing token, so a signing secret registered before would refuse all its events.
  const dropSigningSecret = installed.created && registration.signing_secret_enc !== null;
  await deps.repos.connections.revokeOtherTokens(registration.id, [tokenRow.id], deps.now(), {
    dropSigningSecret,
  });
  deps.forgetTokens();

  const bot = await botAccess({
    maintainer,
    bot: await botSession(deps, instance),
    target,
    grant: input.grantBot,
  });
  const connection: NewConnection = {
    registration_id: registration.id,
    mode: installed.mode,
    gitlab_id: target.id,
    hook_id: installed.hookId,
    webhook_url: input.webhookUrl,
    connected_by: user.username,
    connected_at: deps.now(),
    verified_at: null,
    test_result: "GitLab's hook test has not run yet",
    bot_access: bot.state,
    synced_at: installed.mode === "projects" ? deps.now() : null,
  };
  // Saved before the test, so the test event can mark it verified.
  await deps.repos.connections.save(connection, installed.rows);
  const test = installed.testOn
    ? await testHook(maintainer, installed.testOn, installed.testOn.hookId)
    : { sent: false, result: "no project of the group has a commit GitLab could test with" };
  await deps.repos.connections.setTestResult(registration.id, test.result);
  return {
    registration_id: registration.id,
    instance_url: instance.url,
    kind: target.kind,
    path: target.path,
    web_url: target.web_url,
    mode: installed.mode,
    connected_by: user.username,
    hook: dropSigningSecret
      ? `${installed.summary}; the signing secret registered before was dropped (GitLab signs only hooks given a signing token in its settings)`
      : installed.summary,
    hooks: {
      installed: installed.mode === "projects" ? installed.rows.filter((r) => r.hook_id).length : 1,
      problems: installed.rows
        .filter((r) => r.problem !== null)
        .map((r) => ({ path: r.path, problem: r.problem ?? "" })),
    },
    bot,
    test,
  };
}

async function installOnProject(
  session: GitlabSession,
  target: Target,
  webhookUrl: string,
  token: string,
): Promise<Installed> {
  const result = await ensureHook(session, target, webhookUrl, token);
  if (result.outcome === "refused") {
    throw new AppError("forbidden", `GitLab refused to install the hook: ${result.message}`);
  }
  return {
    mode: "project",
    hookId: result.hookId,
    rows: [],
    summary: `hook ${result.action}${result.removed ? `, ${result.removed} duplicate(s) removed` : ""}`,
    testOn: { ...target, hookId: result.hookId },
    created: result.action === "created",
  };
}

async function ensureRegistration(
  deps: ConnectDeps,
  instance: InstanceRow,
  target: Target,
  now: number,
): Promise<RegistrationRow> {
  const key =
    target.kind === "project"
      ? { kind: "project" as const, gitlabProjectId: target.id }
      : { kind: "namespace" as const, path: target.path };
  const existing = await deps.repos.connections.findRegistration(instance.id, key);
  if (existing) {
    if (existing.kind === "project" && existing.path !== target.path) {
      // GitLab just told the maintainer the current path: the registration follows a rename.
      await deps.repos.projects.renamePath(existing.id, existing.path, target.path);
      return { ...existing, path: target.path };
    }
    return existing;
  }
  const id = crypto.randomUUID();
  const row: RegistrationRow = {
    id,
    instance_id: instance.id,
    instance_url: instance.url,
    ...(target.kind === "project"
      ? { kind: "project" as const, gitlab_project_id: target.id }
      : { kind: "namespace" as const, gitlab_project_id: null }),
    path: target.path,
    signing_secret_enc: null,
    created_at: now,
  };
  // The registration needs a first token to exist; the connect's own token follows.
  const first = await mintToken(id, now, deps.tokenCheckKey);
  if ((await deps.repos.projects.insertWithToken(row, first.row)) === "duplicate") {
    // A concurrent connect registered it first: use theirs.
    const raced = await deps.repos.connections.findRegistration(instance.id, key);
    if (!raced) {
      throw new AppError("conflict", "the registration changed meanwhile; connect again");
    }
    return raced;
  }
  return row;
}

/** The bot's session: the instance API token, if there is one that decrypts. */
export async function botSession(
  deps: Pick<ConnectDeps, "encryptionKey" | "fetcher" | "now">,
  instance: InstanceRow,
): Promise<GitlabSession | null> {
  if (instance.api_token_enc === NO_CREDENTIAL || !deps.encryptionKey) {
    return null;
  }
  const credential = await decrypt(
    deps.encryptionKey,
    instance.api_token_enc,
    apiTokenContext(instance.id),
  ).catch(() => null);
  if (credential === null) {
    return null;
  }
  return gitlabSession({
    instanceUrl: instance.url,
    credential,
    owner: "bot",
    fetcher: deps.fetcher,
    now: deps.now,
  });
}
