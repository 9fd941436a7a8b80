// The bench's realistic traffic: what a busy GitLab project sends a Packit hook, in the
// proportions a group hook sees (a pipeline event on every status change, then pushes, MR
// updates, comments, tags), shaped like GitLab 17's bodies and headers. Every event is
// unique (fresh SHAs, ids and Idempotency-Key), so none is a duplicate.
import { randomBytes, randomUUID } from "node:crypto";

const hex = (bytes) => randomBytes(bytes).toString("hex");
const sha = () => hex(20);
const when = () => new Date().toISOString().replace("T", " ").replace(/\..*/, " UTC");

/** @param {{ id: number, path: string, instance: string }} p */
function projectOf(p) {
  const web = `${p.instance}/${p.path}`;
  const [namespace = "", name = ""] = p.path.split("/");
  return {
    id: p.id,
    name,
    description: "RPM packaging and CI for the upstream project, built by Packit",
    web_url: web,
    avatar_url: null,
    git_ssh_url: `git@${new URL(p.instance).host}:${p.path}.git`,
    git_http_url: `${web}.git`,
    namespace,
    visibility_level: 20,
    path_with_namespace: p.path,
    default_branch: "main",
    ci_config_path: "",
    homepage: web,
    url: `git@${new URL(p.instance).host}:${p.path}.git`,
    ssh_url: `git@${new URL(p.instance).host}:${p.path}.git`,
    http_url: `${web}.git`,
  };
}

const user = {
  id: 4187,
  name: "Ada Maintainer",
  username: "ada",
  avatar_url: "https://secure.gravatar.com/avatar/0000?s=80&d=identicon",
  email: "[REDACTED]",
};

function commit(p, id = sha()) {
  return {
    id,
    message: "spec: update to 2.4.1\n\nDrop the upstreamed patch and refresh the changelog.\n",
    title: "spec: update to 2.4.1",
    timestamp: new Date().toISOString(),
    url: `${p.instance}/${p.path}/-/commit/${id}`,
    author: { name: "Ada Maintainer", email: "ada@example.org" },
    added: [],
    modified: ["hello.spec", "sources"],
    removed: ["0001-fix-build.patch"],
  };
}

function push(p) {
  const commits = [commit(p), commit(p), commit(p)];
  return {
    event: "Push Hook",
    body: {
      object_kind: "push",
      event_name: "push",
      before: sha(),
      after: commits[2]?.id,
      ref: "refs/heads/main",
      ref_protected: true,
      checkout_sha: commits[2]?.id,
      user_id: user.id,
      user_name: user.name,
      user_username: user.username,
      user_email: "",
      user_avatar: user.avatar_url,
      project_id: p.id,
      project: projectOf(p),
      commits,
      total_commits_count: 3,
      push_options: {},
      repository: {
        name: projectOf(p).name,
        url: projectOf(p).url,
        description: projectOf(p).description,
        homepage: projectOf(p).homepage,
        git_http_url: projectOf(p).git_http_url,
        git_ssh_url: projectOf(p).git_ssh_url,
        visibility_level: 20,
      },
    },
  };
}

function mergeRequest(p) {
  const iid = Math.floor(Math.random() * 100_000);
  const last = commit(p);
  return {
    event: "Merge Request Hook",
    body: {
      object_kind: "merge_request",
      event_type: "merge_request",
      user,
      project: projectOf(p),
      object_attributes: {
        id: iid + 900_000,
        iid,
        title: "Update to 2.4.1",
        description: `Updates the package to 2.4.1.\n\n${"- changelog entry with some detail\n".repeat(25)}`,
        state: "opened",
        action: "update",
        source_branch: `update-${iid}`,
        target_branch: "main",
        source_project_id: p.id,
        target_project_id: p.id,
        author_id: user.id,
        created_at: when(),
        updated_at: when(),
        merge_status: "can_be_merged",
        detailed_merge_status: "mergeable",
        url: `${p.instance}/${p.path}/-/merge_requests/${iid}`,
        source: projectOf(p),
        target: projectOf(p),
        last_commit: last,
        work_in_progress: false,
        draft: false,
        oldrev: sha(),
        labels: [],
      },
      labels: [],
      changes: { updated_at: { previous: when(), current: when() } },
      repository: {
        name: projectOf(p).name,
        url: projectOf(p).url,
        homepage: projectOf(p).web_url,
      },
    },
  };
}

function note(p) {
  const iid = Math.floor(Math.random() * 100_000);
  return {
    event: "Note Hook",
    body: {
      object_kind: "note",
      event_type: "note",
      user,
      project_id: p.id,
      project: projectOf(p),
      object_attributes: {
        id: Math.floor(Math.random() * 1e9),
        note: "/packit build",
        noteable_type: "MergeRequest",
        author_id: user.id,
        created_at: when(),
        updated_at: when(),
        project_id: p.id,
        noteable_id: iid + 900_000,
        system: false,
        action: "create",
        url: `${p.instance}/${p.path}/-/merge_requests/${iid}#note_1`,
      },
      repository: {
        name: projectOf(p).name,
        url: projectOf(p).url,
        homepage: projectOf(p).web_url,
      },
      merge_request: {
        id: iid + 900_000,
        iid,
        title: "Update to 2.4.1",
        state: "opened",
        source_branch: `update-${iid}`,
        target_branch: "main",
        source_project_id: p.id,
        target_project_id: p.id,
        last_commit: commit(p),
        source: projectOf(p),
        target: projectOf(p),
      },
    },
  };
}

function pipeline(p) {
  const id = Math.floor(Math.random() * 1e8);
  const builds = Array.from({ length: 6 }, (_, i) => ({
    id: id * 10 + i,
    stage: i < 2 ? "build" : "test",
    name: `rpm-build:fedora-${40 + i}-x86_64`,
    status: "success",
    created_at: when(),
    started_at: when(),
    finished_at: when(),
    duration: 112.5,
    when: "on_success",
    manual: false,
    allow_failure: false,
    user,
    runner: { id: 380987, description: "shared-runners-manager", active: true, tags: ["linux"] },
    artifacts_file: { filename: null, size: null },
    environment: null,
  }));
  return {
    event: "Pipeline Hook",
    body: {
      object_kind: "pipeline",
      object_attributes: {
        id,
        iid: id % 1000,
        ref: "main",
        tag: false,
        sha: sha(),
        before_sha: sha(),
        source: "push",
        status: "success",
        detailed_status: "passed",
        stages: ["build", "test"],
        created_at: when(),
        finished_at: when(),
        duration: 640,
        url: `${p.instance}/${p.path}/-/pipelines/${id}`,
      },
      merge_request: null,
      user,
      project: projectOf(p),
      commit: commit(p),
      builds,
    },
  };
}

function tagPush(p) {
  const body = push(p).body;
  return {
    event: "Tag Push Hook",
    body: { ...body, object_kind: "tag_push", event_name: "tag_push", ref: "refs/tags/v2.4.1" },
  };
}

/** Per 20 events: 8 pipelines, 5 pushes, 4 MR updates, 2 comments, 1 tag. */
const MIX = [
  ...Array(8).fill(pipeline),
  ...Array(5).fill(push),
  ...Array(4).fill(mergeRequest),
  ...Array(2).fill(note),
  tagPush,
];

/**
 * The i-th event of the mix for project `p`, with GitLab 17's delivery headers.
 * @param {number} i @param {{ id: number, path: string, instance: string }} p
 */
export function mixEvent(i, p) {
  const make = MIX[i % MIX.length] ?? push;
  const { event, body } = make(p);
  return {
    event,
    body: JSON.stringify(body),
    headers: {
      "x-gitlab-event": event,
      "x-gitlab-instance": p.instance,
      // Three different UUIDs, as GitLab sends them (reference/gitlab.md): one per attempt,
      // one per hook execution, and the idempotency key.
      "x-gitlab-webhook-uuid": randomUUID(),
      "x-gitlab-event-uuid": randomUUID(),
      "idempotency-key": randomUUID(),
      "user-agent": "GitLab/17.6.0",
    },
  };
}
