/**
 * The project a webhook payload is about, and whether an authenticated registration may
 * speak for it. Pure: no bindings.
 */
import { z } from "zod";

const projectShape = z.object({
  id: z.number().int().optional(),
  path_with_namespace: z.string().optional(),
  web_url: z.string().optional(),
  git_http_url: z.string().optional(),
  http_url: z.string().optional(),
});

const payloadShape = z.object({
  project_id: z.number().int().optional(),
  project: projectShape.optional().catch(undefined),
  repository: z.object({ homepage: z.string().optional() }).optional().catch(undefined),
});

export type PayloadProject = {
  id: number | null;
  /** Full path with namespace, e.g. `group/subgroup/project`. */
  path: string | null;
  webUrl: string | null;
  gitHttpUrl: string | null;
};

function pathOf(url: string | undefined): string | null {
  if (!url) {
    return null;
  }
  try {
    const path = new URL(url).pathname.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "");
    return path || null;
  } catch {
    return null;
  }
}

export function payloadProject(payload: unknown): PayloadProject {
  const parsed = payloadShape.safeParse(payload);
  const data = parsed.success ? parsed.data : {};
  const project = data.project;
  const webUrl = project?.web_url ?? data.repository?.homepage ?? null;
  return {
    id: project?.id ?? data.project_id ?? null,
    path: project?.path_with_namespace ?? pathOf(webUrl ?? undefined),
    webUrl,
    gitHttpUrl: project?.git_http_url ?? project?.http_url ?? null,
  };
}

function within(path: string, namespace: string): boolean {
  const p = path.toLowerCase();
  const ns = namespace.toLowerCase().replace(/^\/+|\/+$/g, "");
  return p.startsWith(`${ns}/`);
}

export type Registration =
  | { kind: "project"; gitlabProjectId: number }
  | { kind: "namespace"; namespace: string };

/** A project hook matches on the numeric id; a group hook covers its namespace and subgroups. */
export function registrationCovers(registration: Registration, project: PayloadProject): boolean {
  if (registration.kind === "project") {
    return project.id !== null && project.id === registration.gitlabProjectId;
  }
  return project.path !== null && within(project.path, registration.namespace);
}

/**
 * Namespace and repository from a git URL, the way packit-service reads
 * `project.git_http_url` (ogr's parse_git_repo): the last path segment without `.git` is the
 * repository, everything before it the namespace, case kept.
 */
export function parseGitRepo(url: string | null): { namespace: string; repo: string } | null {
  const path = pathOf(url ?? undefined);
  const cut = path ? path.lastIndexOf("/") : -1;
  if (!path || cut <= 0) {
    return null;
  }
  return { namespace: path.slice(0, cut), repo: path.slice(cut + 1) };
}

/**
 * packit-service's check (`validate_token`): namespace and repo parsed from the project's
 * git_http_url. A token without `repo_name` also covers the namespace's subgroups here.
 */
export function legacyTokenCovers(
  claims: { namespace: string; repo_name?: string | null | undefined },
  project: PayloadProject,
): boolean {
  const parsed = parseGitRepo(project.gitHttpUrl);
  if (!parsed) {
    return false;
  }
  const claimed = claims.namespace.toLowerCase().replace(/^\/+|\/+$/g, "");
  if (claims.repo_name) {
    return (
      parsed.namespace.toLowerCase() === claimed &&
      parsed.repo.toLowerCase() === claims.repo_name.toLowerCase()
    );
  }
  return within(`${parsed.namespace}/${parsed.repo}`, claimed);
}
