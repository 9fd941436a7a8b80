/**
 * A group connects with one group hook where GitLab offers group hooks (Premium and up);
 * where it does not (the API answers 404, or 403 to a Maintainer who is not Owner), with a
 * hook on every project of the group and its subgroups, all carrying the namespace
 * registration's token. The sync (group-sync.ts) adds hooks to projects created later.
 */
import { z } from "zod";
import { AppError } from "../errors";
import type { ConnectionHookRow } from "../storage/connections-repo";
import type { Target } from "./connect-target";
import { expectOk, type GitlabSession } from "./gitlab-session";
import { ensureHook, type Installed } from "./install-hooks";

/** Enough for the largest groups the relay serves; beyond it the sync keeps going. */
const MAX_PAGES = 50;

const groupProject = z.object({
  id: z.number().int(),
  path_with_namespace: z.string(),
  empty_repo: z.boolean().optional(),
  archived: z.boolean().optional(),
});
export type GroupProject = z.infer<typeof groupProject>;

/** Every project of the group and its subgroups that the credential can see. */
export async function groupProjects(
  session: GitlabSession,
  groupId: number,
): Promise<GroupProject[]> {
  const all: GroupProject[] = [];
  let page: string | null = "1";
  for (let n = 0; page && n < MAX_PAGES; n++) {
    const reply = await session.call(
      "GET",
      `/groups/${groupId}/projects?include_subgroups=true&per_page=100&page=${encodeURIComponent(page)}`,
    );
    all.push(...expectOk(reply, z.array(groupProject), "listing the group's projects"));
    page = reply.next || null;
  }
  return all.filter((p) => p.archived !== true);
}

/** Installs the hook on one project of a per-project group; a refusal is recorded, not thrown. */
export async function hookProject(
  session: GitlabSession,
  project: GroupProject,
  webhookUrl: string,
  token: string,
  registrationId: string,
): Promise<ConnectionHookRow> {
  const result = await ensureHook(session, { kind: "project", id: project.id }, webhookUrl, token);
  return {
    registration_id: registrationId,
    gitlab_project_id: project.id,
    path: project.path_with_namespace,
    hook_id: result.outcome === "installed" ? result.hookId : null,
    problem:
      result.outcome === "installed"
        ? null
        : `GitLab refused the hook (${result.status}): ${result.message}`,
  };
}

export async function installOnGroup(
  session: GitlabSession,
  target: Target,
  webhookUrl: string,
  token: string,
  registrationId: string,
): Promise<Installed> {
  const group = await ensureHook(session, target, webhookUrl, token);
  if (group.outcome === "installed") {
    return {
      mode: "group",
      hookId: group.hookId,
      rows: [],
      summary: `group hook ${group.action}`,
      testOn: { ...target, hookId: group.hookId },
      created: group.action === "created",
    };
  }
  if (group.status !== 404 && group.status !== 403) {
    throw new AppError("forbidden", `GitLab refused the group hook: ${group.message}`);
  }
  const projects = await groupProjects(session, target.id);
  const rows: ConnectionHookRow[] = [];
  for (const project of projects) {
    rows.push(await hookProject(session, project, webhookUrl, token, registrationId));
  }
  const testable = rows.find(
    (r) => r.hook_id !== null && !projects.find((p) => p.id === r.gitlab_project_id)?.empty_repo,
  );
  const reason =
    group.status === 404
      ? "this GitLab offers no group hooks (a Premium feature)"
      : "group hooks need the Owner role";
  return {
    mode: "projects",
    hookId: null,
    rows,
    created: true,
    summary: `${reason}: a hook on each of ${rows.filter((r) => r.hook_id).length} of ${projects.length} projects, kept in sync as projects are added`,
    testOn:
      testable?.hook_id != null
        ? { kind: "project", id: testable.gitlab_project_id, hookId: testable.hook_id }
        : null,
  };
}
