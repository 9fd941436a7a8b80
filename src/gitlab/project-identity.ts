/**
 * One authorized identity per event (SPEC ingress step 5). Pure: no bindings.
 *
 * The identity (instance, project id, path) comes from what authenticated the sender: a
 * project registration pins instance, id and path; a namespace registration pins the
 * instance and a namespace the path must lie in; a legacy packit JWT covers exactly what
 * packit-service's `validate_token` accepts. Every field of the payload that names the
 * project must then name that same one, or the event is refused, naming the field. From
 * here on only the identity is used downstream, never the body again.
 */
import { canonicalInstanceUrl } from "../lib/instance-url";
import {
  clonePathOf,
  type InstanceRoot,
  instanceRoot,
  isGitlabPath,
  originOf,
  parseGitRepo,
  projectPathOf,
  samePath,
  withinNamespace,
} from "./git-repo-url";
import { type Fields, identityFields } from "./identity-fields";

export type Identity = {
  instanceUrl: string;
  /**
   * GitLab's numeric project id, set only where the grant pins it (a project registration).
   * Under a namespace or packit-service token the path is what was authorized; the payload's
   * id is not vouched for, so it never travels downstream as the identity.
   */
  projectId: number | null;
  /** Full path with namespace, spelled as the payload spells it. */
  path: string;
  webUrl: string;
  /** What packit-service will read from this payload (ogr's parse of git_http_url). */
  packit: { namespace: string; repo: string } | null;
};

export type Grant =
  | { kind: "project"; instanceUrl: string; projectId: number; path: string }
  | { kind: "namespace"; instanceUrl: string; namespace: string }
  | { kind: "legacy_jwt"; namespace: string; repoName: string | null };

export type IdentityResult =
  | { outcome: "ok"; identity: Identity }
  | { outcome: "mismatch"; field: string; reason: string }
  /** A project registration whose project id matches but whose path differs everywhere. */
  | { outcome: "renamed"; projectId: number; path: string }
  /**
   * A namespace grant and a payload naming its project by id only (older issue and note
   * payloads): only GitLab can say which path that id has.
   */
  | { outcome: "id_only"; projectId: number }
  /** The payload names no project at all: nothing to authorize, nothing to relay. */
  | { outcome: "no_project" };

type Mismatch = Extract<IdentityResult, { outcome: "mismatch" }>;
const mismatch = (field: string, reason: string): Mismatch => ({
  outcome: "mismatch",
  field,
  reason,
});

/** The paths the payload's path and URL fields name, or the first field that names none. */
function namedPaths(
  fields: Fields,
  instance: InstanceRoot,
): { paths: { field: string; path: string }[] } | Mismatch {
  const paths: { field: string; path: string }[] = [];
  for (const found of fields.paths) {
    if (typeof found.value !== "string" || !isGitlabPath(found.value)) {
      return mismatch(found.field, "is not a GitLab project path");
    }
    paths.push({ field: found.field, path: found.value });
  }
  for (const [list, git] of [
    [fields.webUrls, false],
    [fields.gitUrls, true],
  ] as const) {
    for (const found of list) {
      const path =
        typeof found.value === "string" ? projectPathOf(found.value, instance, git) : null;
      if (path === null) {
        return mismatch(found.field, "is not a URL of a project on the authorized instance");
      }
      paths.push({ field: found.field, path });
    }
  }
  return { paths };
}

function checkIds(fields: Fields, expected: number | null): { id: number | null } | Mismatch {
  let id = expected;
  for (const found of fields.ids) {
    if (typeof found.value !== "number" || !Number.isSafeInteger(found.value)) {
      return mismatch(found.field, "is not a project id");
    }
    if (id === null) {
      id = found.value;
    } else if (found.value !== id) {
      return mismatch(found.field, `names project ${found.value}, not ${id}`);
    }
  }
  return { id };
}

function checkClonesAndForks(
  fields: Fields,
  instance: InstanceRoot,
  path: string,
): Mismatch | null {
  for (const found of fields.cloneUrls) {
    const named = typeof found.value === "string" ? clonePathOf(found.value, instance.root) : null;
    if (named === null || !samePath(named, path)) {
      return mismatch(found.field, `does not name ${path}`);
    }
  }
  // The source of a merge request may be any project, but on this instance only.
  let forkPath: string | null = null;
  for (const found of fields.forkPaths) {
    if (typeof found.value !== "string" || !isGitlabPath(found.value)) {
      return mismatch(found.field, "is not a GitLab project path");
    }
    forkPath = forkPath ?? found.value;
  }
  for (const [list, git] of [
    [fields.forkWebUrls, false],
    [fields.forkGitUrls, true],
  ] as const) {
    for (const found of list) {
      const named =
        typeof found.value === "string" ? projectPathOf(found.value, instance, git) : null;
      if (named === null) {
        return mismatch(found.field, "is not a URL of a project on the authorized instance");
      }
      if (forkPath !== null && !samePath(named, forkPath)) {
        return mismatch(found.field, `does not name the source project ${forkPath}`);
      }
      forkPath = forkPath ?? named;
    }
  }
  return null;
}

function instanceHeaderMatches(header: string | undefined, instanceUrl: string): boolean {
  return header === undefined || canonicalInstanceUrl(header) === instanceUrl;
}

/** The instance a legacy sender's event is from: the origin of the URL packit-service reads. */
function legacyInstance(fields: Fields, header: string | undefined): string | Mismatch {
  const url = fields.packitUrl;
  if (!url || typeof url.value !== "string") {
    return mismatch("project.git_http_url", "is required for a packit-service token");
  }
  const origin = originOf(url.value);
  if (!origin) {
    return mismatch(url.field, "is not an http(s) URL");
  }
  if (header === undefined) {
    return origin;
  }
  // X-Gitlab-Instance may carry a relative root the URL lies under.
  const claimed = canonicalInstanceUrl(header);
  const root = claimed ? instanceRoot(claimed) : null;
  if (!claimed || root?.origin !== origin) {
    return mismatch("X-Gitlab-Instance", "does not match the payload's project URLs");
  }
  return claimed;
}

export function resolveIdentity(
  grant: Grant,
  payload: Record<string, unknown>,
  instanceHeader: string | undefined,
): IdentityResult {
  const fields = identityFields(payload);
  let instanceUrl: string;
  if (grant.kind === "legacy_jwt") {
    const found = legacyInstance(fields, instanceHeader);
    if (typeof found !== "string") {
      return found;
    }
    instanceUrl = found;
  } else {
    instanceUrl = grant.instanceUrl;
    if (!instanceHeaderMatches(instanceHeader, instanceUrl)) {
      return mismatch("X-Gitlab-Instance", "does not match the token's instance");
    }
  }
  const instance = instanceRoot(instanceUrl);
  if (!instance) {
    return mismatch("X-Gitlab-Instance", "is not an instance URL");
  }

  const named = namedPaths(fields, instance);
  if ("outcome" in named) {
    return named;
  }
  const first = named.paths[0];
  for (const other of named.paths) {
    if (first && !samePath(other.path, first.path)) {
      return mismatch(other.field, `names ${other.path}, not ${first.path} (${first.field})`);
    }
  }
  if (named.paths.length === 0 && fields.ids.length === 0) {
    return { outcome: "no_project" };
  }
  const ids = checkIds(fields, grant.kind === "project" ? grant.projectId : null);
  if ("outcome" in ids) {
    return ids;
  }

  let path: string;
  if (grant.kind === "project") {
    if (first && !samePath(first.path, grant.path)) {
      // The id matches and every path field agrees on another path: a rename, which only
      // GitLab can confirm.
      return { outcome: "renamed", projectId: grant.projectId, path: first.path };
    }
    path = first?.path ?? grant.path;
  } else if (!first) {
    if (grant.kind === "namespace" && ids.id !== null) {
      return { outcome: "id_only", projectId: ids.id };
    }
    return mismatch("project.path_with_namespace", "is required to authorize this token");
  } else {
    path = first.path;
    if (grant.kind === "namespace" && !withinNamespace(path, grant.namespace)) {
      return mismatch(first.field, `names ${path}, outside the namespace ${grant.namespace}`);
    }
  }

  const packit = fields.packitUrl;
  const packitRepo = typeof packit?.value === "string" ? parseGitRepo(packit.value) : null;
  if (grant.kind === "legacy_jwt") {
    // Exactly packit-service's rule: case-sensitive, no subgroups.
    if (
      !packitRepo ||
      packitRepo.namespace !== grant.namespace ||
      (grant.repoName !== null && packitRepo.repo !== grant.repoName)
    ) {
      return mismatch(
        packit?.field ?? "project.git_http_url",
        "is not a project this packit-service token covers",
      );
    }
  }
  const rest = checkClonesAndForks(fields, instance, path);
  if (rest) {
    return rest;
  }
  return {
    outcome: "ok",
    identity: {
      instanceUrl,
      projectId: grant.kind === "project" ? ids.id : null,
      path,
      webUrl: `${instanceUrl}/${path}`,
      packit: packitRepo,
    },
  };
}
