/** Normalized events (v2) carry what packit-service's parser reads: fork MRs, states, heads. */
import { describe, expect, it } from "vitest";
import { normalize } from "../../src/events/normalize";
import type { RelayedKind } from "../../src/gitlab/event-kinds";
import { issue, mergeRequest, note, pipeline, push } from "../helpers/gitlab-payloads";

const P = { id: 11, path: "group/project" };
const FORK_WEB = "https://gitlab.example.com/contributor/project";

function event(kind: RelayedKind, payload: unknown) {
  const result = normalize({
    kind,
    gitlabEvent: "X Hook",
    payload,
    dedupeKey: "k",
    instanceUrl: "https://gitlab.example.com",
    project: { id: 11, path: P.path, web_url: `https://gitlab.example.com/${P.path}` },
    receivedAt: 0,
    botUsernames: [],
  });
  if (result.outcome !== "event") {
    throw new Error(JSON.stringify(result));
  }
  return result.event;
}

const forkSide = {
  id: 77,
  name: "project",
  path_with_namespace: "contributor/project",
  web_url: FORK_WEB,
  http_url: `${FORK_WEB}.git`,
};

describe("merge requests", () => {
  it("carry the fork as the source project, and the description", () => {
    const mr = mergeRequest(P, "open", "Adds a spec file\n\nFixes #3");
    Object.assign(mr.object_attributes, { source_project_id: 77, source: forkSide });
    expect(event("merge_request", mr)).toMatchObject({
      description: "Adds a spec file\n\nFixes #3",
      source: {
        project_id: 77,
        path: "contributor/project",
        web_url: FORK_WEB,
        branch: "hello-1.2",
      },
      target: { project_id: 11, branch: "main" },
    });
  });

  it("without action (older GitLab) take the state, as packit does: an opened MR builds", () => {
    const mr = mergeRequest(P, "open");
    const { action: _a, ...attrs } = mr.object_attributes;
    expect(event("merge_request", { ...mr, object_attributes: attrs })).toMatchObject({
      action: "opened",
      code_changed: true,
    });
  });
});

describe("comments", () => {
  it("on an MR carry its state, id and the fork's web URL", () => {
    const n = note(P);
    Object.assign(n.merge_request, {
      state: "closed",
      source: forkSide,
      source_project_id: 77,
      last_commit: { id: "ab".repeat(20) },
    });
    expect(event("note", n)).toMatchObject({
      kind: "comment",
      on: {
        type: "merge_request",
        iid: 7,
        id: 9001,
        state: "closed",
        head_sha: "ab".repeat(20),
        source: { project_id: 77, web_url: FORK_WEB },
      },
    });
  });

  it("on an issue carry its state (packit ignores closed ones)", () => {
    const n = {
      ...note(P, "/packit propose-downstream", "Issue"),
      issue: { iid: 23, state: "closed" },
    };
    expect(event("note", n)).toMatchObject({ on: { type: "issue", iid: 23, state: "closed" } });
  });
});

describe("pushes and pipelines", () => {
  it("a push names its head commit", () => {
    const p = push(P);
    const head = p.commits.find((c: { id: string }) => c.id === p.checkout_sha) ?? p.commits.at(-1);
    expect(event("push", p)).toMatchObject({
      head_commit: { id: head?.id, title: head?.title ?? null, message: head?.message },
    });
  });

  it("a pipeline names its project", () => {
    expect(event("pipeline", pipeline(P))).toMatchObject({ project_name: "project" });
  });

  it("an issue keeps its state", () => {
    expect(event("issue", issue(P))).toMatchObject({ state: "opened", iid: 23 });
  });
});
