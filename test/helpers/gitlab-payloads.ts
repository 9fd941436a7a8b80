/**
 * The project's own GitLab webhook bodies, shaped like GitLab 18 sends them (fields from
 * GitLab's webhook_events documentation; values invented here).
 */

export type ProjectRef = { id: number; path: string; instance?: string };

const SHA_A = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const SHA_B = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";
const ZERO = "0000000000000000000000000000000000000000";

export function projectObject(p: ProjectRef) {
  const instance = p.instance ?? "https://gitlab.example.com";
  const name = p.path.split("/").at(-1) ?? p.path;
  return {
    id: p.id,
    name,
    description: "Packaging CI test project",
    web_url: `${instance}/${p.path}`,
    avatar_url: null,
    git_ssh_url: `git@${new URL(instance).hostname}:${p.path}.git`,
    git_http_url: `${instance}/${p.path}.git`,
    namespace: p.path.split("/").slice(0, -1).join("/"),
    visibility_level: 20,
    path_with_namespace: p.path,
    default_branch: "main",
    ci_config_path: null,
    homepage: `${instance}/${p.path}`,
    url: `git@${new URL(instance).hostname}:${p.path}.git`,
    ssh_url: `git@${new URL(instance).hostname}:${p.path}.git`,
    http_url: `${instance}/${p.path}.git`,
  };
}

const user = {
  id: 42,
  name: "Ada Maintainer",
  username: "ada",
  avatar_url: null,
  email: "[REDACTED]",
};

export function push(p: ProjectRef, overrides: Record<string, unknown> = {}) {
  return {
    object_kind: "push",
    event_name: "push",
    before: SHA_A,
    after: SHA_B,
    ref: "refs/heads/main",
    ref_protected: true,
    checkout_sha: SHA_B,
    message: null,
    user_id: user.id,
    user_name: user.name,
    user_username: user.username,
    user_email: "",
    user_avatar: null,
    project_id: p.id,
    project: projectObject(p),
    commits: [
      {
        id: SHA_B,
        message: "Update the spec file\n",
        title: "Update the spec file",
        timestamp: "2026-11-20T10:00:00+00:00",
        url: `${projectObject(p).web_url}/-/commit/${SHA_B}`,
        author: { name: user.name, email: "ada@example.com" },
        added: [],
        modified: ["hello.spec"],
        removed: [],
      },
    ],
    total_commits_count: 1,
    push_options: {},
    repository: { name: projectObject(p).name, homepage: projectObject(p).web_url },
    ...overrides,
  };
}

export function tagPush(p: ProjectRef) {
  return {
    ...push(p),
    object_kind: "tag_push",
    event_name: "tag_push",
    before: ZERO,
    ref: "refs/tags/v1.2.0",
    ref_protected: false,
    commits: [],
    total_commits_count: 0,
  };
}

export function mergeRequest(p: ProjectRef, action = "open", description = "Adds a spec file") {
  return {
    object_kind: "merge_request",
    event_type: "merge_request",
    user,
    project: projectObject(p),
    object_attributes: {
      id: 9001,
      iid: 7,
      title: "Package hello 1.2",
      description,
      state: action === "merge" ? "merged" : "opened",
      action,
      source_branch: "hello-1.2",
      target_branch: "main",
      source_project_id: p.id,
      target_project_id: p.id,
      last_commit: { id: SHA_B, message: "Update the spec file", title: "Update the spec file" },
      url: `${projectObject(p).web_url}/-/merge_requests/7`,
      draft: false,
      ...(action === "update" ? { oldrev: SHA_A } : {}),
    },
    labels: [],
    changes: {},
    repository: { name: projectObject(p).name, url: projectObject(p).url },
  };
}

export function note(p: ProjectRef, body = "/packit build", noteableType = "MergeRequest") {
  return {
    object_kind: "note",
    event_type: "note",
    user,
    project_id: p.id,
    project: projectObject(p),
    object_attributes: {
      id: 1244,
      note: body,
      noteable_type: noteableType,
      author_id: user.id,
      internal: false,
      system: false,
      action: "create",
      url: `${projectObject(p).web_url}/-/merge_requests/7#note_1244`,
    },
    repository: { name: projectObject(p).name, url: projectObject(p).url },
    merge_request: { id: 9001, iid: 7, source_branch: "hello-1.2", target_branch: "main" },
  };
}

export function confidentialNote(p: ProjectRef) {
  return { ...note(p, "secret", "Issue"), event_type: "confidential_note" };
}

export function issue(p: ProjectRef, confidential = false) {
  return {
    object_kind: "issue",
    event_type: "issue",
    user,
    project: projectObject(p),
    object_attributes: {
      id: 301,
      iid: 23,
      title: "Build fails on rawhide",
      description: "See the log",
      state: "opened",
      action: "open",
      confidential,
      url: `${projectObject(p).web_url}/-/issues/23`,
    },
    labels: [],
    changes: {},
    repository: { name: projectObject(p).name, url: projectObject(p).url },
  };
}

export function pipeline(p: ProjectRef) {
  return {
    object_kind: "pipeline",
    object_attributes: {
      id: 31,
      iid: 3,
      ref: "main",
      tag: false,
      sha: SHA_B,
      before_sha: SHA_A,
      source: "merge_request_event",
      status: "success",
      detailed_status: "passed",
      stages: ["build", "test"],
      created_at: "2026-11-20 10:00:00 UTC",
      finished_at: "2026-11-20 10:05:00 UTC",
      duration: 300,
    },
    merge_request: { id: 9001, iid: 7, source_branch: "hello-1.2", target_branch: "main" },
    user,
    project: projectObject(p),
    commit: { id: SHA_B, message: "Update the spec file" },
    builds: [],
  };
}

export function release(p: ProjectRef) {
  return {
    object_kind: "release",
    id: 1,
    created_at: "2026-11-20 10:00:00 UTC",
    description: "First release",
    name: "v1.2.0",
    released_at: "2026-11-20 10:00:00 UTC",
    tag: "v1.2.0",
    project: projectObject(p),
    url: `${projectObject(p).web_url}/-/releases/v1.2.0`,
    action: "create",
    assets: { count: 0, links: [], sources: [] },
    commit: { id: SHA_B, message: "Release 1.2.0" },
  };
}

/** Relayed kinds: header GitLab sends, and a body. */
export function relayedEvents(p: ProjectRef) {
  return [
    { name: "push", header: "Push Hook", body: push(p) },
    { name: "tag push", header: "Tag Push Hook", body: tagPush(p) },
    { name: "merge request", header: "Merge Request Hook", body: mergeRequest(p) },
    { name: "note", header: "Note Hook", body: note(p) },
    { name: "issue", header: "Issue Hook", body: issue(p) },
    { name: "pipeline", header: "Pipeline Hook", body: pipeline(p) },
    { name: "release", header: "Release Hook", body: release(p) },
  ];
}

/** Kinds GitLab sends that the relay answers 202 ignored, without queueing. */
export function ignoredEvents(p: ProjectRef) {
  const project = projectObject(p);
  return [
    { name: "wiki page", header: "Wiki Page Hook", body: { object_kind: "wiki_page", project } },
    { name: "job", header: "Job Hook", body: { object_kind: "build", project_id: p.id, project } },
    { name: "deployment", header: "Deployment Hook", body: { object_kind: "deployment", project } },
    { name: "emoji", header: "Emoji Hook", body: { object_kind: "emoji", project } },
    {
      name: "member",
      header: "Member Hook",
      body: { event_name: "user_add_to_group", group_id: 1 },
    },
    { name: "subgroup", header: "Subgroup Hook", body: { event_name: "subgroup_create" } },
    {
      name: "system hook push",
      header: "System Hook",
      body: { event_name: "push", project_id: p.id },
    },
    { name: "confidential note", header: "Confidential Note Hook", body: confidentialNote(p) },
    { name: "confidential issue", header: "Confidential Issue Hook", body: issue(p, true) },
    { name: "work item", header: "Issue Hook", body: { ...issue(p), object_kind: "work_item" } },
    { name: "unknown", header: "Future Thing Hook", body: { something: true } },
  ];
}

/**
 * `length` characters of random text: what gzip cannot shrink, for bodies that must take
 * the R2 path whatever compression does (a pasted binary log, an image as base64).
 */
export function incompressible(length: number): string {
  let text = "";
  while (text.length < length) {
    // getRandomValues fills 64 KiB at most.
    text += btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(30_000))));
  }
  return text.slice(0, length);
}

/** A pipeline with as many jobs as fit in about `bytes` bytes: GitLab's big payloads look so. */
export function bigPipeline(p: ProjectRef, bytes: number) {
  const body = pipeline(p);
  const job = (id: number) => ({
    id,
    stage: "test",
    name: `rpm-build:fedora-rawhide-x86_64:${id}`,
    status: "success",
    created_at: "2026-11-20 10:00:00 UTC",
    finished_at: "2026-11-20 10:05:00 UTC",
    duration: 300.25,
    user,
    runner: { id: 380987, description: "shared-runners-manager", active: true, tags: ["linux"] },
    artifacts_file: { filename: null, size: null },
    environment: null,
  });
  const one = JSON.stringify(job(9_999_999)).length + 1; // the widest id
  const base = JSON.stringify(body).length;
  body.builds = Array.from({ length: Math.floor((bytes - base) / one) }, (_, i) =>
    job(i + 1),
  ) as never[];
  return body;
}
