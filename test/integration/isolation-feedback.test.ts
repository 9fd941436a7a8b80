/**
 * Tenant isolation, feedback side: feedback reaches only registered projects. Written as
 * the attacks it stops: forged webhooks that used to "teach" the relay a project's path,
 * a packit-service token's traffic, and a fallback aimed at an uncovered merge request.
 */
import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { INBOX_GRACE_MS } from "../../src/events/inbox-sweep";
import worker from "../../src/index";
import { admin, field, registerNamespace } from "../helpers/admin";
import { capturingQueue, consume } from "../helpers/deliveries";
import { destinations, gitlabProjects, newScope, script } from "../helpers/doubles";
import { feedback, gitlab, run, state, status, submit } from "../helpers/feedback";
import { push } from "../helpers/gitlab-payloads";
import { recordingQueue, refusingQueue } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

describe("feedback coverage comes from registrations only", () => {
  it("a forged webhook under a namespace token does not make a foreign project covered", async () => {
    const g = await gitlab(4601, "registered/app");
    const ns = await registerNamespace({ instanceUrl: g.url, namespace: "tenant-ns" });
    // GitLab knows project 4690 as victim/secret: outside every registration.
    await gitlabProjects(g.scope, [{ id: 4690, path_with_namespace: "victim/secret" }]);

    // The namespace token holder claims id 4690 lives in its namespace.
    const { queue, sent } = recordingQueue();
    const forged = await sendWebhook(
      {
        token: ns.token,
        event: "Push Hook",
        body: push({ id: 4690, path: "tenant-ns/app", instance: g.url }),
      },
      { EVENTS_QUEUE: queue },
    );
    expect(forged.status).toBe(202);
    await consume(
      sent.map((body) => ({ body })),
      destinations(newScope()),
    );

    const res = await feedback(
      "/gitlab/statuses",
      status(g.url, { project_id: 4690, project_path: "tenant-ns/app" }),
    );
    expect(res.status).toBe(404);
    // No status call reached GitLab for the victim.
    expect((await g.calls()).filter((r) => r.path.includes("/projects/4690/statuses"))).toEqual([]);
  });

  it("a packit-service token's traffic never creates coverage", async () => {
    const g = await gitlab(4602, "registered/other");
    await registerNamespace({ instanceUrl: g.url, namespace: "legacy-ns" });
    await gitlabProjects(g.scope, [{ id: 4691, path_with_namespace: "victim/legacy" }]);
    // The double's instance has a relative root (its scope), which packit-service's URL parse
    // counts as part of the namespace.
    const jwt = await new SignJWT({ namespace: `${g.scope}/legacy-ns`, repo_name: "app" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode("gitlab-token-secret"));
    const { queue, sent } = recordingQueue();
    expect(
      (
        await sendWebhook(
          {
            token: jwt,
            event: "Push Hook",
            body: push({ id: 4691, path: "legacy-ns/app", instance: g.url }),
            headers: { "x-gitlab-instance": g.url },
          },
          { EVENTS_QUEUE: queue },
        )
      ).status,
    ).toBe(202);
    await consume(
      sent.map((body) => ({ body })),
      destinations(newScope()),
    );
    const res = await feedback("/gitlab/statuses", status(g.url, { project_id: 4691 }));
    expect(res.status).toBe(404);
  });

  it("a fallback aimed at an uncovered merge request project is refused", async () => {
    const g = await gitlab(4603, "registered/fork-target");
    const res = await feedback(
      "/gitlab/statuses",
      status(g.url, {
        project_id: 4603,
        merge_request_project_id: 4692,
        merge_request_iid: 3,
        fallback: "note",
      }),
    );
    expect(res.status).toBe(404);
    expect(field<string>(res.body, "error", "message")).toContain("4692");
  });

  it("a project GitLab confirms under a registered namespace is covered, once per lookup", async () => {
    const g = await gitlab(4604, "registered/any");
    await registerNamespace({ instanceUrl: g.url, namespace: "Fedora" });
    await gitlabProjects(g.scope, [{ id: 4693, path_with_namespace: "fedora/rpms/bash" }]);
    for (const name of ["first", "second"]) {
      const { id, message } = await submit(
        "/gitlab/statuses",
        status(g.url, { project_id: 4693, name }),
      );
      await run([message]);
      expect((await state(id)).state).toBe("done");
    }
    const calls = await g.calls();
    // The id → path answer is cached: one lookup for two requests.
    expect(calls.filter((r) => r.path === "/api/v4/projects/4693")).toHaveLength(1);
    expect(calls.filter((r) => r.path.startsWith("/api/v4/projects/4693/statuses/"))).toHaveLength(
      2,
    );
  });

  it("answers 503 when GitLab cannot confirm where a project lives", async () => {
    const g = await gitlab(4605, "registered/down");
    await registerNamespace({ instanceUrl: g.url, namespace: "somewhere" });
    // The instance now points at a host that refuses connections.
    await admin("PATCH", `/instances/${g.instanceId}`, {
      url: "http://127.0.0.1:9",
      api_token: "glpat-instance-feedback-token",
    });
    const res = await feedback(
      "/gitlab/statuses",
      status("http://127.0.0.1:9", { project_id: 4694 }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
  });
});

describe("feedback text is inert", () => {
  it("refuses a target_url that could leave its markdown link, and a non-UUID event_uuid", async () => {
    const g = await gitlab(4606, "registered/text");
    for (const extra of [
      { target_url: "https://x/y)![i](https://evil.example/p.png)" },
      { target_url: "https://x/y z" },
      { target_url: 'https://x/"onmouseover' },
      { event_uuid: "0d3f1a8e-2b7c-4c5d-8e9f-1a2b3c4d5e6f\r\nX-Evil: 1" },
      { event_uuid: "not-a-uuid" },
    ]) {
      const res = await feedback("/gitlab/statuses", status(g.url, extra));
      expect({ extra, status: res.status }).toEqual({ extra, status: 400 });
    }
    expect(await g.calls()).toEqual([]);
  });

  it("writes status fields into a fallback note as plain text, and mentions nobody", async () => {
    const g = await gitlab(4607, "registered/fallback");
    const { id, message } = await submit(
      "/gitlab/statuses",
      status(g.url, {
        project_id: 4607,
        ref: "protected", // the double answers 403: the status falls back to an MR note
        name: "build [click](https://evil.example) <img src=x>",
        description: "@all please look\n/merge\n![pixel](https://evil.example/p.png)",
        target_url: "https://dashboard.packit.dev/jobs/copr/1",
        merge_request_iid: 5,
        fallback: "note",
      }),
    );
    await run([message]);
    expect((await state(id)).fallback).toBe("note");
    const [note] = (await g.calls()).filter((r) => r.path.endsWith("/merge_requests/5/notes"));
    const body = String(JSON.parse(note?.body ?? "{}").body);
    expect(body).toContain("build \\[click\\]\\(https://evil.example\\) \\<img src=x\\>");
    expect(body).not.toContain("](https://evil");
    expect(body).not.toMatch(/(^|\s)@all/);
    expect(body).not.toMatch(/^\/merge/m);
    expect(body).toContain("([details](https://dashboard.packit.dev/jobs/copr/1))");
  });

  it("neutralises @all in notes and masks credentials GitLab echoes into last_error", async () => {
    const g = await gitlab(4608, "registered/notes");
    const posted = await submit("/gitlab/notes", {
      instance_url: g.url,
      project_id: 4608,
      target: { type: "issue", iid: 2 },
      body: "Build failed, @all and @ALL: see logs",
    });
    await run([posted.message]);
    const [note] = (await g.calls()).filter((r) => r.path.endsWith("/issues/2/notes"));
    expect(String(JSON.parse(note?.body ?? "{}").body)).not.toMatch(/@all/i);

    await script(g.scope, [
      { status: 422, body: JSON.stringify({ message: "token glpat-abcdefghijklmnop1234 is bad" }) },
    ]);
    const failing = await submit("/gitlab/statuses", status(g.url, { project_id: 4608 }));
    await run([failing.message]);
    const s = await state(failing.id);
    expect(s.state).toBe("failed");
    expect(s.last_error).toContain("[REDACTED]");
    expect(s.last_error).not.toContain("glpat-abcdefghijklmnop1234");
  });
});

describe("no orphaned feedback", () => {
  it("a request the queue refuses is still performed: its message was stored with it", async () => {
    const g = await gitlab(4609, "registered/orphans");
    const res = await feedback("/gitlab/statuses", status(g.url, { project_id: 4609 }), {
      EVENTS_QUEUE: refusingQueue(),
    });
    expect(res.status).toBe(202);
    const id = field<string>(res.body, "id");
    expect((await state(id)).state).toBe("queued");
    const q = capturingQueue();
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() + INBOX_GRACE_MS }),
      { ...env, EVENTS_QUEUE: q.queue },
      createExecutionContext(),
    );
    expect(q.feedback.map((m) => m.feedback_id)).toEqual([id]);
    await run(q.feedback);
    expect((await state(id)).state).toBe("done");
  });

  it("a request the queue took leaves no inbox row behind", async () => {
    const g = await gitlab(4610, "registered/clean");
    const { id } = await submit("/gitlab/statuses", status(g.url, { project_id: 4610 }));
    const row = await env.DB.prepare("SELECT 1 AS x FROM inbox WHERE delivery_id = ?1")
      .bind(id)
      .first();
    expect(row).toBeNull();
  });

  it("?wait=true that fails on our side answers 202 queued, and the request is performed later", async () => {
    const g = await gitlab(4611, "registered/waiting");
    const q = capturingQueue();
    // A key that opens nothing: decrypting the instance token fails while waiting.
    const res = await feedback("/gitlab/statuses?wait=true", status(g.url, { project_id: 4611 }), {
      EVENTS_QUEUE: q.queue,
      ENCRYPTION_KEY: "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
    });
    expect(res.status).toBe(202);
    const id = field<string>(res.body, "id");
    expect(q.feedback.map((m) => m.feedback_id)).toEqual([id]);
    await run(q.feedback);
    expect((await state(id)).state).toBe("done");
  });
});

describe("feedback replay", () => {
  it("stores the message with the reopened row, and nothing when it refuses", async () => {
    const g = await gitlab(4612, "registered/replay");
    await script(g.scope, [{ status: 422, body: JSON.stringify({ message: "Unprocessable" }) }]);
    const failing = await submit("/gitlab/statuses", status(g.url, { project_id: 4612 }));
    await run([failing.message]);
    expect((await state(failing.id)).state).toBe("failed");
    const inboxRow = () =>
      env.DB.prepare("SELECT message FROM inbox WHERE delivery_id = ?1").bind(failing.id).first();

    // The queue refuses: the reopened row's message waits in the inbox.
    const replayed = await admin("POST", `/feedback/${failing.id}/replay`, undefined, {
      EVENTS_QUEUE: refusingQueue(),
    });
    expect(replayed.status).toBe(202);
    expect(await inboxRow()).not.toBeNull();
    // A second replay while it is queued is refused and writes nothing more.
    await env.DB.prepare("DELETE FROM inbox WHERE delivery_id = ?1").bind(failing.id).run();
    expect((await admin("POST", `/feedback/${failing.id}/replay`)).status).toBe(409);
    expect(await inboxRow()).toBeNull();
  });
});
