/**
 * Feedback as packit-service can send it today (reference/packit-service.md §3.2): its
 * state names, an empty target_url, no ref, projects by path or URL, and statuses for a
 * fork MR set on the fork, falling back to a commit comment or a note where GitLab refuses.
 */
import { describe, expect, it } from "vitest";
import { gitlabProjects } from "../helpers/doubles";
import { feedback, gitlab, run, SHA, state, status, submit } from "../helpers/feedback";

const FORK = { id: 9001, path_with_namespace: "contributor/hello" };

async function statusCalls(calls: () => Promise<{ path: string; body: string }[]>) {
  return (await calls()).filter((c) => /\/statuses\//.test(c.path));
}

describe("packit's vocabulary", () => {
  it("takes failure, an empty target_url and no ref, and sends GitLab what it accepts", async () => {
    const g = await gitlab();
    const { ref: _ref, ...noRef } = status(g.url, { state: "failure", target_url: "" });
    const { id, message } = await submit("/gitlab/statuses", noRef);
    await run([message]);
    expect((await state(id)).state).toBe("done");
    const [call] = await statusCalls(g.calls);
    const sent = JSON.parse(call?.body ?? "{}");
    expect(sent.state).toBe("failed");
    expect(sent).not.toHaveProperty("ref");
    expect(sent).not.toHaveProperty("target_url");
  });

  it("takes target_url null as none", async () => {
    const g = await gitlab();
    const res = await feedback("/gitlab/statuses", status(g.url, { target_url: null }));
    expect(res.status).toBe(202);
  });

  it.each([
    ["a full path", "packit/hello"],
    ["a web URL", "{url}/packit/hello"],
    ["a web URL with a suffix", "{url}/packit/hello/-/merge_requests/7"],
  ])("finds the project by %s (GitLab gives its id)", async (_name, ref) => {
    const g = await gitlab();
    await gitlabProjects(g.scope, [{ id: 42, path_with_namespace: "packit/hello" }]);
    const { project_id: _id, ...rest } = status(g.url);
    const { id, message } = await submit("/gitlab/statuses", {
      ...rest,
      project: ref.replace("{url}", g.url),
    });
    await run([message]);
    expect((await state(id)).state).toBe("done");
    const [call] = await statusCalls(g.calls);
    expect(call?.path).toBe(`/api/v4/projects/42/statuses/${SHA}`);
  });

  it("refuses a path GitLab does not know, and a URL on another instance, changing nothing", async () => {
    const g = await gitlab();
    await gitlabProjects(g.scope, [{ id: 42, path_with_namespace: "packit/hello" }]);
    const { project_id: _id, ...rest } = status(g.url);
    const unknown = await feedback("/gitlab/statuses", { ...rest, project: "packit/nope" });
    expect(unknown.status).toBe(404);
    const elsewhere = await feedback("/gitlab/statuses", {
      ...rest,
      project: "https://gitlab.other.example/packit/hello",
    });
    expect(elsewhere.status).toBe(400);
    const both = await feedback("/gitlab/statuses", { ...rest, project: 42, project_id: 42 });
    expect(both.status).toBe(400);
    expect(await statusCalls(g.calls)).toEqual([]);
  });
});

describe("a fork's merge request", () => {
  async function forkSetup(writable: boolean) {
    const g = await gitlab();
    await gitlabProjects(g.scope, [
      {
        id: 42,
        path_with_namespace: "packit/hello",
        merge_requests: [{ iid: 7, source_project_id: FORK.id }],
      },
      { ...FORK, writable },
    ]);
    return g;
  }
  const forkStatus = (url: string, extra: Record<string, unknown> = {}) =>
    status(url, {
      project_id: FORK.id,
      merge_request_project_id: 42,
      merge_request_iid: 7,
      state: "success",
      ...extra,
    });

  it("sets the status on the fork, the MR's source (GitLab confirms it)", async () => {
    const g = await forkSetup(true);
    const { id, message } = await submit("/gitlab/statuses", forkStatus(g.url));
    await run([message]);
    expect((await state(id)).state).toBe("done");
    const [call] = await statusCalls(g.calls);
    expect(call?.path).toBe(`/api/v4/projects/${FORK.id}/statuses/${SHA}`);
  });

  it("refuses a project that is not the source of that merge request", async () => {
    const g = await forkSetup(true);
    const res = await feedback("/gitlab/statuses", forkStatus(g.url, { project_id: 31337 }));
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).toMatch(/nor the source of merge request !7/);
    expect(await statusCalls(g.calls)).toEqual([]);
  });

  it("falls back to a commit comment on the target when GitLab refuses the fork (packit's way)", async () => {
    const g = await forkSetup(false);
    const { id, message } = await submit(
      "/gitlab/statuses",
      forkStatus(g.url, {
        fallback: "commit_comment",
        state: "failure",
        description: "Build failed",
      }),
    );
    await run([message]);
    const view = await state(id);
    expect(view).toMatchObject({ state: "done", fallback: "commit_comment" });
    const comments = (await g.calls()).filter((c) => c.path.endsWith("/comments"));
    expect(comments.map((c) => c.path)).toEqual([
      `/api/v4/projects/42/repository/commits/${SHA}/comments`,
    ]);
    const note = JSON.parse(comments[0]?.body ?? "{}").note as string;
    expect(note).toContain("- name: rpm-build:fedora-rawhide-x86_64");
    expect(note).toContain("- state: failed");
    expect(note).toContain("Build failed");
  });

  it("comments only final states, as packit does", async () => {
    const g = await forkSetup(false);
    const { id, message } = await submit(
      "/gitlab/statuses",
      forkStatus(g.url, { fallback: "commit_comment", state: "running" }),
    );
    await run([message]);
    expect((await state(id)).state).toBe("done");
    expect((await g.calls()).filter((c) => c.path.endsWith("/comments"))).toEqual([]);
  });

  it("falls back to one MR note on the target when asked", async () => {
    const g = await forkSetup(false);
    const { id, message } = await submit(
      "/gitlab/statuses",
      forkStatus(g.url, { fallback: "note" }),
    );
    await run([message]);
    expect(await state(id)).toMatchObject({ state: "done", fallback: "note" });
    const notes = (await g.calls()).filter((c) => c.path.endsWith("/notes"));
    expect(notes.map((c) => c.path)).toEqual(["/api/v4/projects/42/merge_requests/7/notes"]);
  });
});

describe("reactions", () => {
  it.each([
    ["an MR note", "merge_request", "merge_requests"],
    ["an issue note", "issue", "issues"],
  ] as const)("award an emoji on %s", async (_name, type, segment) => {
    const g = await gitlab();
    const { id, message } = await submit("/gitlab/reactions", {
      instance_url: g.url,
      project: 42,
      target: { type, iid: 7, note_id: 1244 },
      name: "thumbsup",
    });
    await run([message]);
    expect((await state(id)).state).toBe("done");
    const calls = (await g.calls()).map((c) => c.path);
    expect(calls).toEqual([`/api/v4/projects/42/${segment}/7/notes/1244/award_emoji`]);
  });
});
