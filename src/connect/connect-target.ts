/**
 * What a maintainer names, and their right to connect it: a project or group URL on a
 * registered instance, resolved with GitLab, and the caller's role there (GitLab decides;
 * the relay only reads what GitLab answers for the caller's own credential).
 */
import { z } from "zod";
import { AppError } from "../errors";
import { isGitlabPath } from "../gitlab/git-repo-url";
import type { InstanceRow } from "../storage/instances-repo";
import { expectOk, type GitlabSession, messageOf } from "./gitlab-session";

/** GitLab's access levels; connecting (managing hooks) takes Maintainer. */
export const MAINTAINER = 40;
export const DEVELOPER = 30;
const ROLE_NAMES: Record<number, string> = {
  0: "not a member",
  5: "Minimal Access",
  10: "Guest",
  15: "Planner",
  20: "Reporter",
  30: "Developer",
  40: "Maintainer",
  50: "Owner",
};
export const roleName = (level: number) => ROLE_NAMES[level] ?? `access level ${level}`;

export type Located = { instance: InstanceRow; path: string };

/**
 * The instance serving `input` (the longest registered URL it starts with) and the path
 * below it, from a project or group URL as a browser shows it (`/groups/x`, `/-/tree/main`,
 * `.git` and trailing slashes allowed).
 */
export function locate(input: string, instances: readonly InstanceRow[]): Located {
  // WHATWG URL parsing resolves `..` (also as %2e%2e) and `\`: refuse them on the raw text,
  // so the path asked of GitLab is the path the maintainer wrote.
  if (/\\|(^|\/)(\.|%2e){1,2}(\/|$|[?#])/i.test(input.trim())) {
    throw new AppError("validation_failed", "url: dot segments and backslashes are not allowed");
  }
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new AppError("validation_failed", "url: give the project's or group's full URL");
  }
  const href = `${url.origin}${url.pathname}`;
  const instance = [...instances]
    .sort((a, b) => b.url.length - a.url.length)
    .find((i) => href.startsWith(`${i.url}/`));
  if (!instance) {
    throw new AppError(
      "not_found",
      `${url.origin} is not a GitLab instance this relay serves; ask its operators to register it`,
    );
  }
  const path = decodeURIComponent(href.slice(instance.url.length + 1))
    .replace(/\/-\/.*$/, "")
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .replace(/^groups\//, "");
  if (!isGitlabPath(path)) {
    throw new AppError("validation_failed", `url: ${input.trim()} is not a project or group URL`);
  }
  return { instance, path };
}

const projectSchema = z.object({
  id: z.number().int().positive(),
  path_with_namespace: z.string().min(1),
  web_url: z.string(),
  empty_repo: z.boolean().optional(),
});
const groupSchema = z.object({
  id: z.number().int().positive(),
  full_path: z.string().min(1),
  web_url: z.string(),
});
export type GitlabProject = z.infer<typeof projectSchema>;

export type Target =
  | { kind: "project"; id: number; path: string; web_url: string }
  | { kind: "group"; id: number; path: string; web_url: string };

/** API path of a target: `/projects/42` or `/groups/7`. */
export const apiPath = (target: Pick<Target, "kind" | "id">) =>
  `/${target.kind === "project" ? "projects" : "groups"}/${target.id}`;

/** The project, else the group, at `path`, as the caller's credential sees it. */
export async function resolveTarget(session: GitlabSession, path: string): Promise<Target> {
  const encoded = encodeURIComponent(path);
  const project = await session.call("GET", `/projects/${encoded}`);
  if (project.status === 200) {
    const p = expectOk(project, projectSchema, "reading the project");
    return { kind: "project", id: p.id, path: p.path_with_namespace, web_url: p.web_url };
  }
  if (project.status !== 404) {
    throw new AppError("forbidden", `reading ${path}: ${messageOf(project)}`);
  }
  const group = await session.call("GET", `/groups/${encoded}`);
  if (group.status === 200) {
    const g = expectOk(group, groupSchema, "reading the group");
    return { kind: "group", id: g.id, path: g.full_path, web_url: g.web_url };
  }
  throw new AppError(
    "not_found",
    `${session.instanceUrl}/${path} is not a project or group this access token can see`,
  );
}

const memberSchema = z.object({ id: z.number().int(), access_level: z.number().int() });

/** A user's effective level on a target (inherited and invited memberships included). */
export async function accessLevel(
  session: GitlabSession,
  target: Pick<Target, "kind" | "id">,
  userId: number,
): Promise<number> {
  const reply = await session.call("GET", `${apiPath(target)}/members/all/${userId}`);
  return reply.status === 404 ? 0 : expectOk(reply, memberSchema, "reading members").access_level;
}

const userSchema = z.object({ id: z.number().int(), username: z.string().min(1) });
export type GitlabUser = z.infer<typeof userSchema>;

export async function currentUser(session: GitlabSession): Promise<GitlabUser> {
  return expectOk(await session.call("GET", "/user"), userSchema, "reading the token's user");
}

const tokenInfo = z.object({ scopes: z.array(z.string()) });

/**
 * An access token must carry `api` (hooks and members are writes). GitLab reports a
 * token's scopes for personal, project and group access tokens; an OAuth token was asked
 * for `api` when it was granted.
 */
export async function requireApiScope(session: GitlabSession): Promise<void> {
  const reply = await session.call("GET", "/personal_access_tokens/self");
  if (reply.status !== 200) {
    return;
  }
  const info = tokenInfo.safeParse(reply.body);
  if (info.success && !info.data.scopes.includes("api")) {
    throw new AppError(
      "forbidden",
      `the access token needs the api scope (it has ${info.data.scopes.join(", ") || "none"})`,
    );
  }
}

/** The caller's proof: who they are and that they maintain the target. */
export async function requireMaintainer(
  session: GitlabSession,
  target: Target,
): Promise<GitlabUser> {
  const user = await currentUser(session);
  const level = await accessLevel(session, target, user.id);
  if (level < MAINTAINER) {
    throw new AppError(
      "forbidden",
      `connecting ${target.path} needs the Maintainer or Owner role on it; @${user.username} is ${roleName(level)}`,
    );
  }
  return user;
}
