/**
 * SPEC ingress step 5: the one identity an authenticated sender's event may speak for,
 * decided by the pure rule in gitlab/project-identity.ts; a rename only GitLab can confirm
 * is checked with it once, and the registration follows; a project named by id alone under
 * a namespace token is placed by GitLab. A payload naming no project authorizes nothing.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { projectLookup } from "../deps";
import type { WebhookMessage } from "../domain/queue-message";
import { AppError } from "../errors";
import { withinNamespace } from "../gitlab/git-repo-url";
import { type Grant, type Identity, resolveIdentity } from "../gitlab/project-identity";
import { log } from "../lib/logger";
import { forgetTokens, type Principal } from "./authenticate";

/**
 * Who sent the event, as the queue message names it. A project's path is the identity's
 * (the registration's, or the spelling GitLab uses now); without one, the registration's.
 */
export function registrationRef(
  principal: Principal,
  identity?: Identity,
): WebhookMessage["registration"] {
  if (principal.kind === "legacy_jwt") {
    return {
      kind: "legacy_jwt",
      namespace: principal.claims.namespace,
      repo_name: principal.claims.repo_name ?? null,
    };
  }
  const reg = principal.registration;
  return reg.kind === "project" && reg.gitlab_project_id !== null
    ? {
        kind: "project",
        id: reg.id,
        token_id: principal.tokenId,
        gitlab_project_id: reg.gitlab_project_id,
        path: identity?.path ?? reg.path,
      }
    : { kind: "namespace", id: reg.id, token_id: principal.tokenId, namespace: reg.path };
}

/** What authenticated the sender, as the identity rule reads it. */
function grantOf(principal: Principal): Grant {
  const ref = registrationRef(principal);
  const instanceUrl = principal.kind === "token" ? principal.registration.instance_url : "";
  switch (ref.kind) {
    case "legacy_jwt":
      return { kind: "legacy_jwt", namespace: ref.namespace, repoName: ref.repo_name };
    case "project":
      return { kind: "project", instanceUrl, projectId: ref.gitlab_project_id, path: ref.path };
    case "namespace":
      return { kind: "namespace", instanceUrl, namespace: ref.namespace };
  }
}

/**
 * Step 5: the one identity this event may speak for. A registered project whose path
 * changed is confirmed with GitLab (id → path) once, and the registration follows it.
 */
export async function authorize(
  c: Context<AppEnv>,
  principal: Principal,
  payload: Record<string, unknown>,
): Promise<Identity | "no_project"> {
  const instanceHeader = c.req.header("x-gitlab-instance");
  const result = resolveIdentity(grantOf(principal), payload, instanceHeader);
  if (result.outcome === "ok") {
    return result.identity;
  }
  if (result.outcome === "no_project") {
    return "no_project";
  }
  if (result.outcome === "renamed" && principal.kind === "token") {
    const reg = principal.registration;
    const instance = await c.var.repos.instances.get(reg.instance_id);
    const answer = instance
      ? await projectLookup(c.env)(instance, result.projectId)
      : { found: false as const };
    if (answer.found && answer.path.toLowerCase() === result.path.toLowerCase()) {
      await c.var.repos.projects.renamePath(reg.id, reg.path, answer.path);
      forgetTokens();
      log("info", "audit", {
        audit: "project.path.renamed",
        request_id: c.get("requestId"),
        project_registration_id: reg.id,
        from: reg.path,
        to: answer.path,
      });
      const renamed: Principal = {
        ...principal,
        registration: { ...reg, path: answer.path },
      };
      const again = resolveIdentity(grantOf(renamed), payload, instanceHeader);
      if (again.outcome === "ok") {
        return again.identity;
      }
      if (again.outcome === "mismatch") {
        throw new AppError("forbidden", `${again.field} ${again.reason}`);
      }
    }
    throw new AppError(
      "forbidden",
      `project.path_with_namespace names ${result.path}, but project ${result.projectId} is registered as ${reg.path} and GitLab does not confirm the rename`,
    );
  }
  if (result.outcome === "id_only" && principal.kind === "token") {
    // GitLab vouches for the id's path; the namespace must contain it, and every other
    // field must then agree with that project, as under a project registration.
    const reg = principal.registration;
    const instance = await c.var.repos.instances.get(reg.instance_id);
    const answer = instance
      ? await projectLookup(c.env)(instance, result.projectId)
      : { found: false as const };
    if (answer.found && withinNamespace(answer.path, reg.path)) {
      const again = resolveIdentity(
        {
          kind: "project",
          instanceUrl: reg.instance_url,
          projectId: result.projectId,
          path: answer.path,
        },
        payload,
        instanceHeader,
      );
      if (again.outcome === "ok") {
        return again.identity;
      }
    }
    throw new AppError(
      "forbidden",
      `project ${result.projectId} is not in the namespace ${reg.path} (GitLab says ${answer.found ? answer.path : "no such project"})`,
    );
  }
  if (result.outcome === "mismatch") {
    throw new AppError("forbidden", `${result.field} ${result.reason}`);
  }
  throw new AppError("forbidden", "the token does not cover this project");
}
