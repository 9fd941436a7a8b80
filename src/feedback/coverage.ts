/**
 * Which projects feedback may touch (SPEC flow 3): a project is covered only by a
 * registration — its own project registration, or a namespace registration whose namespace
 * contains the path GitLab itself gives for the project id. Never by what a webhook said,
 * never by a packit-service token. Every project a call touches must be covered: the
 * commit's project and, for fallbacks, the merge request's.
 */
import { AppError } from "../errors";
import { withinNamespace } from "../gitlab/git-repo-url";
import type { LookupInstance, ProjectLookup } from "../gitlab/project-lookup";
import type { ProjectsRepo } from "../storage/projects-repo";

export async function requireCoverage(
  instance: LookupInstance,
  projectIds: readonly number[],
  deps: { projects: Pick<ProjectsRepo, "feedbackCoverage">; lookup: ProjectLookup },
): Promise<void> {
  const wanted = [...new Set(projectIds)];
  const { registered, namespaces } = await deps.projects.feedbackCoverage(instance.id, wanted);
  for (const projectId of wanted) {
    if (registered.has(projectId)) {
      continue;
    }
    // Only GitLab can say where a project id lives; ask only when a namespace could cover it.
    const answer = namespaces.length > 0 ? await deps.lookup(instance, projectId) : null;
    const covered =
      answer?.found === true && namespaces.some((ns) => withinNamespace(answer.path, ns));
    if (!covered) {
      throw new AppError(
        "not_found",
        `project ${projectId} is not registered, nor in a registered namespace`,
      );
    }
  }
}
