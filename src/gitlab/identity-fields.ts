/**
 * Where GitLab's webhook payloads name a project: every field, by role. Pure: the identity
 * rule (project-identity.ts) decides what must agree; this module only finds the fields.
 */
import { asJsonObject } from "../lib/json-object";

export type Found = { field: string; value: unknown };

/** Where GitLab's payloads name the project, per field role. */
export type Fields = {
  ids: Found[];
  paths: Found[];
  /** http(s) URLs of the project itself: instance and path checked. */
  webUrls: Found[];
  gitUrls: Found[];
  /** Clone URLs in any form: path checked. */
  cloneUrls: Found[];
  /** The merge request's source project (a fork): on the same instance, any path. */
  forkPaths: Found[];
  forkWebUrls: Found[];
  forkGitUrls: Found[];
  /** packit-service reads `project.git_http_url`, else `project.http_url`. */
  packitUrl: Found | null;
};

function present(record: Record<string, unknown> | null, key: string): boolean {
  return record !== null && Object.hasOwn(record, key) && record[key] !== null;
}

function collect(
  into: Found[],
  record: Record<string, unknown> | null,
  prefix: string,
  keys: readonly string[],
) {
  for (const key of keys) {
    if (record && present(record, key)) {
      into.push({ field: `${prefix}${key}`, value: record[key] });
    }
  }
}

const WEB = ["web_url", "homepage"] as const;
const GIT = ["git_http_url", "http_url"] as const;
const CLONE = ["git_ssh_url", "ssh_url", "url"] as const;

function projectLike(
  fields: Fields,
  record: Record<string, unknown> | null,
  prefix: string,
  role: "project" | "fork",
) {
  if (role === "project") {
    collect(fields.ids, record, prefix, ["id"]);
    collect(fields.paths, record, prefix, ["path_with_namespace"]);
    collect(fields.webUrls, record, prefix, WEB);
    collect(fields.gitUrls, record, prefix, GIT);
    collect(fields.cloneUrls, record, prefix, CLONE);
  } else {
    collect(fields.forkPaths, record, prefix, ["path_with_namespace"]);
    collect(fields.forkWebUrls, record, prefix, WEB);
    collect(fields.forkGitUrls, record, prefix, GIT);
  }
}

/** Every field of a payload that names the project (and the MR's source project). */
export function identityFields(payload: Record<string, unknown>): Fields {
  const fields: Fields = {
    ids: [],
    paths: [],
    webUrls: [],
    gitUrls: [],
    cloneUrls: [],
    forkPaths: [],
    forkWebUrls: [],
    forkGitUrls: [],
    packitUrl: null,
  };
  const kind = payload.object_kind;
  const project = asJsonObject(payload.project);
  if (present(payload, "project") && !project) {
    fields.paths.push({ field: "project", value: payload.project });
  }
  projectLike(fields, project, "project.", "project");
  collect(fields.ids, payload, "", ["project_id"]);
  const repository = asJsonObject(payload.repository);
  collect(fields.webUrls, repository, "repository.", ["homepage"]);
  collect(fields.gitUrls, repository, "repository.", ["git_http_url"]);
  collect(fields.cloneUrls, repository, "repository.", ["url", "git_ssh_url"]);

  const attrs = asJsonObject(payload.object_attributes);
  if (kind === "merge_request") {
    // A merge request hook fires on the target project; the source may be a fork.
    collect(fields.ids, attrs, "object_attributes.", ["target_project_id"]);
    projectLike(fields, asJsonObject(attrs?.target), "object_attributes.target.", "project");
    projectLike(fields, asJsonObject(attrs?.source), "object_attributes.source.", "fork");
  } else if (kind === "note" || kind === "issue") {
    collect(fields.ids, attrs, "object_attributes.", ["project_id"]);
  }
  if (kind === "note") {
    const mr = asJsonObject(payload.merge_request);
    collect(fields.ids, mr, "merge_request.", ["target_project_id"]);
    projectLike(fields, asJsonObject(mr?.target), "merge_request.target.", "project");
    projectLike(fields, asJsonObject(mr?.source), "merge_request.source.", "fork");
  }
  const packit = project && (present(project, "git_http_url") ? "git_http_url" : "http_url");
  if (project && packit && present(project, packit)) {
    fields.packitUrl = { field: `project.${packit}`, value: project[packit] };
  }
  return fields;
}

/**
 * What a payload says about its project, unverified: for offline tools (relayctl normalize)
 * and tests. Never used to authorize anything.
 */
export function claimedProject(payload: Record<string, unknown>): {
  id: number | null;
  path: string | null;
  web_url: string | null;
} {
  const fields = identityFields(payload);
  const id = fields.ids.find((f) => typeof f.value === "number")?.value;
  const path = fields.paths.find((f) => typeof f.value === "string")?.value;
  const web = fields.webUrls.find((f) => typeof f.value === "string")?.value;
  return {
    id: typeof id === "number" ? id : null,
    path: typeof path === "string" ? path : null,
    web_url: typeof web === "string" ? web : null,
  };
}
