/**
 * Disconnect: with the same proof as connect (Maintainer, checked by GitLab), remove every
 * hook pointing at the relay from the project or group (and, for a group hooked project by
 * project, from each of its projects), then the registration: its tokens stop at once.
 */

import { type ConnectDeps, prove } from "./connect-flow";
import type { Target } from "./connect-target";
import { removeHooks } from "./install-hooks";

export type DisconnectReport = {
  instance_url: string;
  kind: Target["kind"];
  path: string;
  disconnected_by: string;
  hooks_removed: number;
  registration_removed: boolean;
};

export async function disconnect(
  deps: ConnectDeps,
  input: { url: string; credential: string; webhookUrl: string },
): Promise<DisconnectReport> {
  const { instance, maintainer, target, user } = await prove(deps, input.url, input.credential);
  const registration = await deps.repos.connections.findRegistration(
    instance.id,
    target.kind === "project"
      ? { kind: "project", gitlabProjectId: target.id }
      : { kind: "namespace", path: target.path },
  );
  let removed = await removeHooks(maintainer, target, input.webhookUrl);
  if (registration && target.kind === "group") {
    for (const hook of await deps.repos.connections.hooks(registration.id)) {
      removed += await removeHooks(
        maintainer,
        { kind: "project", id: hook.gitlab_project_id },
        input.webhookUrl,
      );
    }
  }
  const gone = registration ? await deps.repos.projects.delete(registration.id) : false;
  deps.forgetTokens();
  return {
    instance_url: instance.url,
    kind: target.kind,
    path: target.path,
    disconnected_by: user.username,
    hooks_removed: removed,
    registration_removed: gone,
  };
}
