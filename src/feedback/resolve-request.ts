/**
 * packit-service's requests as it can write them (projects by id, full path or web URL;
 * `target_url` empty or null; no `ref`), turned into what the relay stores and performs:
 * GitLab project ids, asked of GitLab once for a path (cached).
 */
import {
  type NoteInput,
  type NoteRequest,
  noteRequest,
  type ProjectRef,
  type ReactionInput,
  type ReactionRequest,
  reactionRequest,
  type StatusInput,
  type StatusRequest,
  statusRequest,
} from "../domain/feedback-requests";
import { AppError } from "../errors";
import { isGitlabPath } from "../gitlab/git-repo-url";
import type { LookupInstance, ProjectLookup } from "../gitlab/project-lookup";

export type AcceptedInput =
  | { type: "status"; request: StatusInput }
  | { type: "note"; request: NoteInput }
  | { type: "reaction"; request: ReactionInput };
export type Accepted =
  | { type: "status"; request: StatusRequest }
  | { type: "note"; request: NoteRequest }
  | { type: "reaction"; request: ReactionRequest };

/** A project reference as GitLab's id on `instance`. */
export async function projectIdOf(
  instance: LookupInstance,
  ref: ProjectRef,
  lookup: ProjectLookup,
  field: string,
): Promise<number> {
  if (typeof ref === "number") {
    return ref;
  }
  const text = ref.trim();
  let path = text;
  if (/^https?:\/\//i.test(text)) {
    if (!text.startsWith(`${instance.url}/`)) {
      throw new AppError("validation_failed", `${field}: ${text} is not on ${instance.url}`);
    }
    path =
      text
        .slice(instance.url.length + 1)
        .split(/[?#]/)[0]
        ?.replace(/\/-\/.*$/, "")
        .replace(/\/+$/, "")
        .replace(/\.git$/, "") ?? "";
  }
  if (/^\d+$/.test(path)) {
    return Number(path);
  }
  if (!isGitlabPath(path)) {
    throw new AppError("validation_failed", `${field}: not a project id, full path or web URL`);
  }
  const answer = await lookup(instance, path);
  if (!answer.found) {
    throw new AppError("not_found", `${field}: GitLab has no project ${path} on ${instance.url}`);
  }
  return answer.id;
}

export async function resolveRequest(
  instance: LookupInstance,
  input: AcceptedInput,
  lookup: ProjectLookup,
): Promise<Accepted> {
  const { project, project_id, ...rest } = input.request;
  const projectId = await projectIdOf(instance, project_id ?? project ?? 0, lookup, "project_id");
  if (input.type === "note") {
    return { type: "note", request: noteRequest.parse({ ...rest, project_id: projectId }) };
  }
  if (input.type === "reaction") {
    return { type: "reaction", request: reactionRequest.parse({ ...rest, project_id: projectId }) };
  }
  const { merge_request_project, merge_request_project_id, target_url, ...status } =
    input.request as StatusInput;
  const mrRef = merge_request_project_id ?? merge_request_project;
  const mrProjectId =
    mrRef === undefined
      ? undefined
      : await projectIdOf(instance, mrRef, lookup, "merge_request_project_id");
  const { project: _p, project_id: _i, ...fields } = status;
  return {
    type: "status",
    request: statusRequest.parse({
      ...fields,
      project_id: projectId,
      ...(mrProjectId !== undefined && mrProjectId !== projectId
        ? { merge_request_project_id: mrProjectId }
        : {}),
      // packit's default is "": no link.
      ...(target_url ? { target_url } : {}),
    }),
  };
}
