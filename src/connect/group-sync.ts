/**
 * Groups hooked project by project (no group hooks on their tier) stay complete: every ten
 * minutes the cron lists each such group's projects with the bot's credential, installs the
 * hook on projects added since (each sync's new hooks share one fresh token of the group's
 * registration) and forgets projects that left. Where the bot may not manage hooks (that
 * takes Maintainer), the project is recorded with the problem, so GET /admin/projects/{id}
 * lists what a maintainer must reconnect.
 */
import { mintToken } from "../domain/webhook-token";
import { log } from "../lib/logger";
import type { ConnectionHookRow, ConnectionRow } from "../storage/connections-repo";
import { botSession, type ConnectDeps } from "./connect-flow";
import { type GroupProject, groupProjects, hookProject } from "./group-hooks";

/** Groups handled per run, oldest sync first; the rest wait for the next run. */
const GROUPS_PER_RUN = 20;
export const SYNC_EVERY_MINUTES = 10;

export type SyncSummary = { groups: number; added: number; refused: number; gone: number };

export async function syncGroups(deps: ConnectDeps): Promise<SyncSummary> {
  const summary: SyncSummary = { groups: 0, added: 0, refused: 0, gone: 0 };
  const due = (await deps.repos.connections.perProjectGroups()).slice(0, GROUPS_PER_RUN);
  for (const connection of due) {
    try {
      const result = await syncGroup(deps, connection);
      summary.groups++;
      summary.added += result.added;
      summary.refused += result.refused;
      summary.gone += result.gone;
    } catch (err) {
      log("warn", "group sync failed", {
        project_registration_id: connection.registration_id,
        error: String(err),
      });
    }
  }
  return summary;
}

async function syncGroup(deps: ConnectDeps, connection: ConnectionRow) {
  const registration = await deps.repos.projects.get(connection.registration_id);
  const instance = registration ? await deps.repos.instances.get(registration.instance_id) : null;
  const bot = instance ? await botSession(deps, instance) : null;
  if (!registration || !bot) {
    await deps.repos.connections.recordSync(connection.registration_id, [], [], deps.now());
    return { added: 0, refused: 0, gone: 0 };
  }
  const projects = await groupProjects(bot, connection.gitlab_id);
  const known = await deps.repos.connections.hooks(connection.registration_id);
  const current = new Set(projects.map((p) => p.id));
  const gone = known
    .filter((k) => !current.has(k.gitlab_project_id))
    .map((k) => k.gitlab_project_id);
  // New projects, and earlier refusals (the bot may have been promoted since).
  const todo: GroupProject[] = projects.filter((p) => {
    const row = known.find((k) => k.gitlab_project_id === p.id);
    return !row || row.hook_id === null;
  });
  const rows: ConnectionHookRow[] = [];
  let token: string | null = null;
  let tokenId: string | null = null;
  for (const project of todo) {
    if (token === null) {
      const minted = await mintToken(registration.id, deps.now(), deps.tokenCheckKey);
      await deps.repos.projects.addToken(minted.row);
      token = minted.token;
      tokenId = minted.row.id;
    }
    rows.push(
      await hookProject(bot, project, connection.webhook_url, token, registration.id).then((row) =>
        row.hook_id === null
          ? {
              ...row,
              problem: `needs a reconnect by a maintainer: the bot could not install the hook (${row.problem})`,
            }
          : row,
      ),
    );
  }
  await deps.repos.connections.recordSync(registration.id, rows, gone, deps.now());
  const added = rows.filter((r) => r.hook_id !== null).length;
  if (tokenId !== null && added === 0) {
    // No hook carries it: it must not stay valid.
    await deps.repos.projects.revokeToken(registration.id, tokenId, deps.now());
  }
  if (added || gone.length || rows.length > added) {
    log("info", "group hooks synced", {
      project_registration_id: registration.id,
      path: registration.path,
      added,
      refused: rows.length - added,
      gone: gone.length,
    });
  }
  return { added, refused: rows.length - added, gone: gone.length };
}
