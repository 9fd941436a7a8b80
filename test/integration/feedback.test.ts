import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin, field, registerNamespace } from "../helpers/admin";
import { capturingQueue } from "../helpers/deliveries";
import { gitlabProjects, type Recorded, script } from "../helpers/doubles";
import { API_TOKEN, feedback, gitlab, run, SHA, state, status, submit } from "../helpers/feedback";
import { asJson, BASE, call } from "../helpers/relay";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const body = (r: Recorded | undefined) => JSON.parse(r?.body ?? "null");

describe("feedback API", () => {
  it("refuses a missing or wrong FEEDBACK_TOKEN, and the admin token", async () => {
    for (const authorization of [undefined, "Bearer nope", "Bearer test-admin-token"]) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization) {
        headers.authorization = authorization;
      }
      const res = await asJson(
        await call(
          new Request(`${BASE}/api/v1/gitlab/statuses`, { method: "POST", headers, body: "{}" }),
        ),
      );
      expect(res.status).toBe(401);
    }
  });

  it.each([
    ["a SHA that is not one", { sha: "main" }],
    ["an unknown state", { state: "exploded" }],
    ["a javascript: target URL", { target_url: "javascript:alert(1)" }],
    ["a fallback note without the MR", { fallback: "note" }],
    ["an unknown field", { labels: ["x"] }],
  ])("answers %s with 400, storing nothing", async (_name, extra) => {
    const g = await gitlab();
    const res = await feedback("/gitlab/statuses", status(g.url, extra));
    expect(res.status).toBe(400);
    expect(field(res.body, "error", "code")).toBe("validation_failed");
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM feedback").first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("answers 404 for an unknown instance or project, and finds projects of registered namespaces", async () => {
    const g = await gitlab();
    expect((await feedback("/gitlab/statuses", status("https://nowhere.example"))).status).toBe(
      404,
    );
    expect((await feedback("/gitlab/statuses", status(g.url, { project_id: 999 }))).status).toBe(
      404,
    );
    await registerNamespace({ instanceUrl: g.url, namespace: "fedora" });
    // Only GitLab says where a project id lives; the request's project_path is not trusted.
    await gitlabProjects(g.scope, [
      { id: 777, path_with_namespace: "fedora/rpms/bash" },
      { id: 778, path_with_namespace: "other/bash" },
      { id: 779, path_with_namespace: "other/claims-fedora" },
    ]);
    expect(
      (
        await feedback(
          "/gitlab/statuses",
          status(g.url, { project_id: 779, project_path: "fedora/claims-fedora" }),
        )
      ).status,
    ).toBe(404);
    const inNamespace = await feedback(
      "/gitlab/statuses",
      status(g.url, { project_id: 777, project_path: "fedora/rpms/bash" }),
      {
        EVENTS_QUEUE: capturingQueue().queue,
      },
    );
    expect(inNamespace.status).toBe(202);
    expect(
      (
        await feedback(
          "/gitlab/statuses",
          status(g.url, { project_id: 778, project_path: "other/bash" }),
        )
      ).status,
    ).toBe(404);
  });

  it("publishes its OpenAPI document", async () => {
    const res = await asJson(await call(new Request(`${BASE}/api/v1/openapi.json`)));
    expect(Object.keys(field<Record<string, unknown>>(res.body, "paths"))).toEqual(
      expect.arrayContaining([
        "/gitlab/statuses",
        "/gitlab/notes",
        "/gitlab/reactions",
        "/feedback/{id}",
      ]),
    );
  });
});

describe("commit statuses", () => {
  it("sets a status: exact path, headers and body; packit's neutral becomes failed; description trimmed", async () => {
    const g = await gitlab();
    const { id, message } = await submit(
      "/gitlab/statuses",
      status(g.url, {
        state: "neutral",
        description: "é".repeat(300),
        event_uuid: "5b0c4b4a-7a1d-4bd4-9c52-0f6c44e0ad8f",
      }),
    );
    expect((await state(id)).state).toBe("queued");
    const result = await run([message]);
    expect(result.explicitAcks).toHaveLength(1);
    const [req] = await g.calls();
    expect(req?.path).toBe(`/api/v4/projects/42/statuses/${SHA}`);
    expect(req?.headers).toMatchObject({
      "private-token": API_TOKEN,
      "x-gitlab-event-uuid": "5b0c4b4a-7a1d-4bd4-9c52-0f6c44e0ad8f",
      "user-agent": "packit-gitlab-relay/0.1.0",
      "content-type": "application/json",
    });
    const sent = body(req);
    expect(sent).toMatchObject({
      state: "failed",
      ref: "hello-1.2",
      name: "rpm-build:fedora-rawhide-x86_64",
    });
    expect([...sent.description]).toHaveLength(255);
    const done = await state(id);
    expect(done).toMatchObject({ state: "done", gitlab_status: 201, attempts: 1 });
    expect(done.gitlab_id).toBeGreaterThan(1000);
    expect(JSON.stringify(done)).not.toContain(API_TOKEN);
  });

  it("treats 'Cannot transition status via' as the status already holding", async () => {
    const g = await gitlab();
    const first = await submit("/gitlab/statuses", status(g.url));
    await run([first.message]);
    const again = await submit("/gitlab/statuses", status(g.url));
    await run([again.message]);
    const calls = await g.calls();
    expect(calls).toHaveLength(2);
    expect(await state(again.id)).toMatchObject({ state: "done", gitlab_status: 400 });
  });

  it("retries lock contention (409) after a second or two", async () => {
    const g = await gitlab();
    await script(g.scope, [
      {
        status: 409,
        body: JSON.stringify({ message: "Another update to this commit status is in progress" }),
      },
    ]);
    const { id, message } = await submit("/gitlab/statuses", status(g.url));
    const result = await run([message]);
    expect(result.retryMessages).toHaveLength(1);
    const s = await state(id);
    expect(s.state).toBe("retrying");
    const delay = (Date.parse(s.next_attempt_at ?? "") - Date.parse(s.updated_at)) / 1000;
    expect(delay).toBeGreaterThanOrEqual(1);
    expect(delay).toBeLessThanOrEqual(2);
    await run([message]);
    expect((await state(id)).state).toBe("done");
  });

  it("leaves GitLab with the newest state after a storm of out-of-order updates", async () => {
    const g = await gitlab();
    const accepted = [];
    for (const s of ["pending", "running", "failed", "running", "success"]) {
      accepted.push(await submit("/gitlab/statuses", status(g.url, { state: s })));
    }
    // Queues has no order: the messages come back shuffled, the newest first.
    const shuffled = [accepted[4], accepted[1], accepted[3], accepted[0], accepted[2]];
    for (const item of shuffled) {
      await run([item?.message]);
    }
    const calls = await g.calls();
    expect(calls.map((r) => body(r).state)).toEqual(["success"]);
    const states = await Promise.all(accepted.map((a) => state(a.id)));
    expect(states.map((s) => s.state)).toEqual([
      "superseded",
      "superseded",
      "superseded",
      "superseded",
      "done",
    ]);
  });

  it("never sends an older update after a newer one was sent", async () => {
    const g = await gitlab();
    const running = await submit("/gitlab/statuses", status(g.url, { state: "running" }));
    const success = await submit("/gitlab/statuses", status(g.url, { state: "success" }));
    await run([success.message]);
    await run([running.message]);
    expect((await g.calls()).map((r) => body(r).state)).toEqual(["success"]);
    expect((await state(running.id)).state).toBe("superseded");
  });

  it("falls back to one MR note per status name on a fork it may not set statuses on, edited on updates", async () => {
    const g = await gitlab();
    const fork = {
      ref: "protected",
      fallback: "note",
      merge_request_iid: 7,
      merge_request_project_id: 42,
    };
    const first = await submit("/gitlab/statuses", status(g.url, { ...fork, state: "running" }));
    await run([first.message]);
    const second = await submit(
      "/gitlab/statuses",
      status(g.url, { ...fork, state: "success", description: "Built" }),
    );
    await run([second.message]);
    const calls = await g.calls();
    expect(calls.map((r) => `${r.path}`)).toEqual([
      `/api/v4/projects/42/statuses/${SHA}`,
      "/api/v4/projects/42/merge_requests/7/notes",
      `/api/v4/projects/42/statuses/${SHA}`,
      expect.stringMatching(/^\/api\/v4\/projects\/42\/merge_requests\/7\/notes\/\d+$/),
    ]);
    expect(body(calls[3]).body).toMatch(/rpm-build:fedora-rawhide-x86_64\*\*: `success` Built/);
    expect(await state(second.id)).toMatchObject({ state: "done", fallback: "note" });
  });

  it("fails a status GitLab refuses (unknown commit) when no fallback is asked for", async () => {
    const g = await gitlab();
    const { id, message } = await submit(
      "/gitlab/statuses",
      status(g.url, { sha: `dead${SHA.slice(4)}` }),
    );
    await run([message]);
    expect(await state(id)).toMatchObject({
      state: "failed",
      gitlab_status: 404,
      last_error: expect.stringMatching(/Commit Not Found/),
    });
  });
});

describe("notes", () => {
  it("neutralises quick actions so CI text can never merge, close or approve", async () => {
    const g = await gitlab();
    const text = "/merge\nBuild failed.\n  /close\n/approve now\nsee /packit build";
    const { message } = await submit("/gitlab/notes", {
      instance_url: g.url,
      project_id: 42,
      target: { type: "merge_request", iid: 7 },
      body: text,
    });
    await run([message]);
    const [req] = await g.calls();
    expect(req?.path).toBe("/api/v4/projects/42/merge_requests/7/notes");
    expect(body(req).body).toBe(
      "\\/merge\nBuild failed.\n  \\/close\n\\/approve now\nsee /packit build",
    );
  });

  it("edits the relay's earlier note with the same dedupe_key, and posts anew when it was deleted", async () => {
    const g = await gitlab();
    const note = (text: string) => ({
      instance_url: g.url,
      project_id: 42,
      target: { type: "issue", iid: 3 },
      body: text,
      dedupe_key: "summary",
    });
    const a = await submit("/gitlab/notes", note("first"));
    await run([a.message]);
    const b = await submit("/gitlab/notes", note("second"));
    await run([b.message]);
    const calls = await g.calls();
    const noteId = (await state(a.id)).gitlab_id;
    expect(calls.map((r) => r.path)).toEqual([
      "/api/v4/projects/42/issues/3/notes",
      `/api/v4/projects/42/issues/3/notes/${noteId}`,
    ]);
    expect(body(calls[1])).toEqual({ body: "second" });
    expect((await state(b.id)).gitlab_id).toBe(noteId);

    await script(g.scope, [{ status: 404, body: JSON.stringify({ message: "404 Not found" }) }]);
    const c = await submit("/gitlab/notes", note("third"));
    await run([c.message]);
    const after = await g.calls();
    expect(after.slice(2).map((r) => r.path)).toEqual([
      `/api/v4/projects/42/issues/3/notes/${noteId}`,
      "/api/v4/projects/42/issues/3/notes",
    ]);
    expect((await state(c.id)).gitlab_id).not.toBe(noteId);
  });

  it("comments on a commit, once per dedupe_key", async () => {
    const g = await gitlab();
    const note = {
      instance_url: g.url,
      project_id: 42,
      target: { type: "commit", sha: SHA },
      body: "/retest",
      dedupe_key: "k",
    };
    const a = await submit("/gitlab/notes", note);
    await run([a.message]);
    const b = await submit("/gitlab/notes", note);
    await run([b.message]);
    const calls = await g.calls();
    expect(calls.map((r) => r.path)).toEqual([
      `/api/v4/projects/42/repository/commits/${SHA}/comments`,
    ]);
    expect(body(calls[0])).toEqual({ note: "\\/retest" });
    expect((await state(b.id)).state).toBe("done");
  });
});

describe("reactions", () => {
  it("awards an emoji on a note, and 'already been taken' counts as success", async () => {
    const g = await gitlab();
    const reaction = {
      instance_url: g.url,
      project_id: 42,
      target: { type: "merge_request", iid: 7, note_id: 1244 },
      name: "eyes",
    };
    const a = await submit("/gitlab/reactions", reaction);
    await run([a.message]);
    const b = await submit("/gitlab/reactions", reaction);
    await run([b.message]);
    const calls = await g.calls();
    expect(calls.map((r) => r.path)).toEqual(
      Array(2).fill("/api/v4/projects/42/merge_requests/7/notes/1244/award_emoji"),
    );
    expect(body(calls[0])).toEqual({ name: "eyes" });
    expect(await state(a.id)).toMatchObject({ state: "done", gitlab_status: 201 });
    expect(await state(b.id)).toMatchObject({ state: "done", gitlab_status: 404 });
  });
});

describe("GitLab's limits and failures", () => {
  it.each([
    ["Retry-After", { "retry-after": "120" }, 120, 121],
    ["RateLimit-Reset", { "ratelimit-reset": "SOON" }, 89, 91],
    ["no header", {}, 60, 75],
  ])(
    "pauses the instance on a 429 (%s) and holds its other feedback without spending attempts",
    async (_name, headers, min, max) => {
      const g = await gitlab();
      const resetHeaders: Record<string, string> = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [
          k,
          v === "SOON" ? String(Math.floor(Date.now() / 1000) + 90) : v,
        ]),
      );
      await script(g.scope, [{ status: 429, headers: resetHeaders, body: "Retry later" }]);
      const a = await submit("/gitlab/statuses", status(g.url));
      await run([a.message]);
      const paused = await state(a.id);
      expect(paused.state).toBe("retrying");
      expect(paused.attempts).toBe(0);
      const wait = (Date.parse(paused.next_attempt_at ?? "") - Date.now()) / 1000;
      expect(wait).toBeGreaterThanOrEqual(min - 2);
      expect(wait).toBeLessThanOrEqual(max);
      const instances = await admin("GET", "/instances");
      const mine = field<{ id: string; feedback_paused_until: string | null }[]>(
        instances.body,
        "instances",
      ).find((i) => i.id === g.instanceId);
      expect(mine?.feedback_paused_until).not.toBeNull();

      const b = await submit("/gitlab/notes", {
        instance_url: g.url,
        project_id: 42,
        target: { type: "issue", iid: 1 },
        body: "hi",
      });
      const held = await run([b.message]);
      expect(held.retryMessages).toHaveLength(1);
      expect(await g.calls()).toHaveLength(1);
      expect(await state(b.id)).toMatchObject({ state: "retrying", attempts: 0 });

      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + (max + 10) * 1000);
      await run([b.message]);
      vi.useRealTimers();
      expect(await state(b.id)).toMatchObject({ state: "done" });
    },
  );

  it("retries 5xx and network errors with backoff for six hours, then fails", async () => {
    const g = await gitlab();
    await script(g.scope, [{ status: 502 }, { status: 503 }]);
    const { id, message } = await submit("/gitlab/statuses", status(g.url));
    expect((await run([message])).retryMessages).toHaveLength(1);
    expect(await state(id)).toMatchObject({ state: "retrying", attempts: 1, gitlab_status: 502 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 6 * 3600 * 1000 + 1000);
    expect((await run([message])).explicitAcks).toHaveLength(1);
    vi.useRealTimers();
    expect(await state(id)).toMatchObject({
      state: "failed",
      attempts: 2,
      last_error: expect.stringMatching(/6 hours/),
    });
  });

  it("marks the instance credential broken on 401 and fails fast afterwards", async () => {
    const g = await gitlab();
    await admin("PATCH", `/instances/${g.instanceId}`, { api_token: "glpat-revoked" });
    const a = await submit("/gitlab/statuses", status(g.url));
    await run([a.message]);
    expect(await state(a.id)).toMatchObject({ state: "failed", gitlab_status: 401 });
    const list = await admin("GET", "/instances");
    const mine = field<{ id: string; credential_ok: boolean }[]>(list.body, "instances").find(
      (i) => i.id === g.instanceId,
    );
    expect(mine?.credential_ok).toBe(false);
    const b = await submit("/gitlab/statuses", status(g.url, { name: "other" }));
    await run([b.message]);
    expect(await g.calls()).toHaveLength(1);
    expect((await state(b.id)).last_error).toMatch(/401/);
    // A new token repairs it.
    await admin("PATCH", `/instances/${g.instanceId}`, { api_token: API_TOKEN });
    const c = await submit("/gitlab/statuses", status(g.url, { name: "third" }));
    await run([c.message]);
    expect((await state(c.id)).state).toBe("done");
  });

  it("uses the project's own token when one is set", async () => {
    const g = await gitlab();
    expect(
      (
        await admin("POST", `/projects/${g.projectRegId}/gitlab-token`, {
          token: "glpat-project-own",
        })
      ).status,
    ).toBe(204);
    const { message } = await submit("/gitlab/statuses", status(g.url));
    await run([message]);
    expect((await g.calls())[0]?.headers["private-token"]).toBe("glpat-project-own");
  });

  it("records an unexpected GitLab answer as a failure instead of crashing", async () => {
    const g = await gitlab();
    await script(g.scope, [{ status: 201, body: "<html>proxy</html>" }]);
    const { id, message } = await submit("/gitlab/statuses", status(g.url));
    expect((await run([message])).explicitAcks).toHaveLength(1);
    expect(await state(id)).toMatchObject({
      state: "failed",
      last_error: expect.stringMatching(/unexpected/),
    });
  });
});

describe("wait=true", () => {
  it("performs the call before answering", async () => {
    const g = await gitlab();
    const res = await feedback("/gitlab/statuses?wait=true", status(g.url));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: "done", gitlab_status: 201 });
    expect(await g.calls()).toHaveLength(1);
  });

  it("falls back to queued when GitLab is down", async () => {
    const g = await gitlab();
    await script(g.scope, [{ status: 503 }]);
    const q = capturingQueue();
    const res = await feedback("/gitlab/statuses?wait=true", status(g.url), {
      EVENTS_QUEUE: q.queue,
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ state: "retrying", gitlab_status: 503 });
    expect(q.feedback).toHaveLength(1);
    await run(q.feedback);
    expect((await state(field(res.body, "id"))).state).toBe("done");
  });
});

describe("secrets", () => {
  it("never shows a GitLab token in a response or a log line", async () => {
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const g = await gitlab();
    const res = await feedback("/gitlab/statuses?wait=true", status(g.url));
    await admin("PATCH", `/instances/${g.instanceId}`, { api_token: "glpat-revoked" });
    const failed = await feedback("/gitlab/statuses?wait=true", status(g.url, { name: "x" }));
    const everything = [
      JSON.stringify(res.body),
      JSON.stringify(failed.body),
      JSON.stringify((await admin("GET", "/instances")).body),
      ...lines,
    ].join("\n");
    expect(everything).not.toContain(API_TOKEN);
    expect(everything).not.toContain("glpat-revoked");
  });
});

describe("admin", () => {
  it("lists failed feedback and replays it once the cause is fixed", async () => {
    const g = await gitlab();
    await script(g.scope, [{ status: 422, body: JSON.stringify({ message: "Unprocessable" }) }]);
    const { id, message } = await submit("/gitlab/statuses", status(g.url, { name: "replayable" }));
    await run([message]);
    expect((await state(id)).state).toBe("failed");
    const failed = await admin("GET", "/feedback?state=failed");
    expect(field<{ id: string }[]>(failed.body, "feedback").map((f) => f.id)).toContain(id);
    expect((await admin("POST", "/feedback/nope/replay")).status).toBe(404);
    const q = capturingQueue();
    expect(
      (await admin("POST", `/feedback/${id}/replay`, undefined, { EVENTS_QUEUE: q.queue })).status,
    ).toBe(202);
    expect(
      (await admin("POST", `/feedback/${id}/replay`, undefined, { EVENTS_QUEUE: q.queue })).status,
    ).toBe(409);
    await run(q.feedback);
    expect((await state(id)).state).toBe("done");
  });
});

describe("notes rate limit", () => {
  it("waits for the next minute once the instance's notes budget is spent, without a GitLab call", async () => {
    const g = await gitlab();
    const minute = Math.floor(Date.now() / 60_000);
    // 300 notes already posted this minute (the default notes_create limit off gitlab.com).
    await env.DB.prepare("INSERT INTO note_budget (instance_id, minute, used) VALUES (?1, ?2, 300)")
      .bind(g.instanceId, minute)
      .run();
    const { id, message } = await submit("/gitlab/notes", {
      instance_url: g.url,
      project_id: 42,
      target: { type: "issue", iid: 1 },
      body: "over budget",
    });
    const result = await run([message]);
    expect(result.retryMessages).toHaveLength(1);
    expect(await g.calls()).toHaveLength(0);
    const s = await state(id);
    expect(s).toMatchObject({ state: "retrying", attempts: 0 });
    expect(Date.parse(s.next_attempt_at ?? "")).toBeGreaterThanOrEqual((minute + 1) * 60_000);
  });
});
