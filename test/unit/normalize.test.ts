import { describe, expect, it } from "vitest";
import { type NormalizeInput, normalize } from "../../src/events/normalize";
import { normalizedEvent } from "../../src/events/normalized-event";
import type { RelayedKind } from "../../src/gitlab/event-kinds";
import {
  issue,
  mergeRequest,
  note,
  pipeline,
  push,
  release,
  tagPush,
} from "../helpers/gitlab-payloads";

const P = { id: 11, path: "group/sub/project" };

function run(kind: RelayedKind, payload: unknown, extra: Partial<NormalizeInput> = {}) {
  return normalize({
    kind,
    gitlabEvent: "X Hook",
    payload,
    dedupeKey: "key-1",
    instanceUrl: "https://gitlab.example.com",
    project: { id: P.id, path: P.path, web_url: `https://gitlab.example.com/${P.path}` },
    receivedAt: Date.UTC(2026, 10, 25, 12),
    botUsernames: ["packit-bot"],
    ...extra,
  });
}

function event(kind: RelayedKind, payload: unknown, extra: Partial<NormalizeInput> = {}) {
  const result = run(kind, payload, extra);
  if (result.outcome !== "event") {
    throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  }
  expect(normalizedEvent.safeParse(result.event).success).toBe(true);
  return result.event;
}

describe("normalize", () => {
  it("carries the common fields on every event", () => {
    expect(event("push", push(P))).toMatchObject({
      schema_version: "2",
      dedupe_key: "key-1",
      gitlab_event: "X Hook",
      instance_url: "https://gitlab.example.com",
      project: { id: 11, path: P.path },
      actor: { username: "ada", name: "Ada Maintainer" },
      received_at: "2026-11-25T12:00:00.000Z",
    });
  });

  it("reads pushes: branch name, counts from total_commits_count, deletions and empty pushes", () => {
    const many = push(P, { total_commits_count: 57 });
    expect(event("push", many)).toMatchObject({
      kind: "push",
      branch: "main",
      commits_count: 57,
      deleted: false,
      empty: false,
    });
    const deletion = push(P, {
      after: "0".repeat(40),
      checkout_sha: null,
      commits: [],
      total_commits_count: 0,
    });
    expect(event("push", deletion)).toMatchObject({
      deleted: true,
      empty: false,
      checkout_sha: null,
    });
    const empty = push(P, { commits: [], total_commits_count: 0 });
    expect(event("push", empty)).toMatchObject({ deleted: false, empty: true });
    const created = push(P, { before: "0".repeat(40) });
    expect(event("push", created)).toMatchObject({ created: true });
    expect(event("push", push(P, { push_options: { ci: { skip: true } } }))).toMatchObject({
      ci_skip: true,
    });
  });

  it("reads tag pushes and releases", () => {
    expect(event("tag_push", tagPush(P))).toMatchObject({
      kind: "tag_push",
      tag: "v1.2.0",
      created: true,
      deleted: false,
    });
    expect(event("release", release(P))).toMatchObject({
      kind: "release",
      tag: "v1.2.0",
      action: "create",
      commit_sha: expect.any(String),
    });
  });

  it.each([
    ["open", true],
    ["reopen", true],
    ["update", true],
    ["close", false],
    ["merge", false],
    ["approved", false],
    ["unapproved", false],
  ])("keeps the MR action %s as sent, code_changed %s", (action, changed) => {
    expect(event("merge_request", mergeRequest(P, action))).toMatchObject({
      action,
      code_changed: changed,
      iid: 7,
    });
  });

  it("does not count an MR title edit (update without oldrev) as new code", () => {
    const edit = mergeRequest(P, "update");
    const { oldrev: _dropped, ...attrs } = edit.object_attributes as Record<string, unknown>;
    expect(event("merge_request", { ...edit, object_attributes: attrs })).toMatchObject({
      action: "update",
      code_changed: false,
      oldrev: null,
    });
  });

  it("takes the MR head from last_commit and both branches", () => {
    expect(event("merge_request", mergeRequest(P))).toMatchObject({
      head_sha: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
      source: { project_id: 11, branch: "hello-1.2" },
      target: { project_id: 11, branch: "main" },
    });
  });

  it("reads comments on MRs, issues and commits, and skips snippets and bot users", () => {
    expect(event("note", note(P))).toMatchObject({
      kind: "comment",
      body: "/packit build",
      on: { type: "merge_request", iid: 7 },
    });
    expect(event("note", { ...note(P, "hi", "Issue"), issue: { iid: 23 } })).toMatchObject({
      on: { type: "issue", iid: 23 },
    });
    expect(event("note", { ...note(P, "hi", "Commit"), commit: { id: "abc" } })).toMatchObject({
      on: { type: "commit", sha: "abc" },
    });
    expect(run("note", note(P, "hi", "Snippet")).outcome).toBe("skip");
    expect(run("note", { ...note(P), user: { username: "Packit-Bot" } })).toEqual({
      outcome: "skip",
      reason: "note by the relay's bot user packit-bot",
    });
  });

  it("reads issues and pipelines", () => {
    expect(event("issue", issue(P))).toMatchObject({ kind: "issue", iid: 23, action: "open" });
    expect(event("pipeline", pipeline(P))).toMatchObject({
      kind: "pipeline",
      id: 31,
      status: "success",
      source: "merge_request_event",
      merge_request: { iid: 7 },
    });
  });

  it("tolerates odd field types from old GitLab versions", () => {
    const odd = { ...push(P), total_commits_count: "3", user_username: 42, commits: "none" };
    expect(event("push", odd)).toMatchObject({ commits_count: 0, actor: { username: null } });
  });

  it("rejects only what cannot be an event of its kind", () => {
    expect(run("push", [])).toEqual({ outcome: "reject", reason: "payload is not a JSON object" });
    expect(run("push", { object_kind: "push" }).outcome).toBe("reject");
    expect(
      run("merge_request", { object_kind: "merge_request", object_attributes: {} }).outcome,
    ).toBe("reject");
    expect(run("release", { object_kind: "release" }).outcome).toBe("reject");
  });
});
