import { afterEach, describe, expect, it, vi } from "vitest";
import { admin, field, registerProject } from "../helpers/admin";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope, script } from "../helpers/doubles";
import { note, push } from "../helpers/gitlab-payloads";
import { captureLogs } from "../helpers/logs";
import { BASE, call } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("observability", () => {
  it("GET /admin/stats counts received, ignored and outcomes per project and kind, with ingress times", async () => {
    const p = { id: 3030, path: "stats/project" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const first = await ingest({
      token: reg.token,
      event: "Push Hook",
      body: push(p),
      headers: { "idempotency-key": "5a5a5a5a-0000-4000-8000-000000000001" },
    });
    const again = await ingest({
      token: reg.token,
      event: "Push Hook",
      body: push(p),
      headers: { "idempotency-key": "5a5a5a5a-0000-4000-8000-000000000001" },
    });
    const comment = await ingest({ token: reg.token, event: "Note Hook", body: note(p) });
    await consume([{ body: first }, { body: again }, { body: comment }], destinations(scope));
    expect(
      (
        await sendWebhook({
          token: reg.token,
          event: "Wiki Page Hook",
          body: { object_kind: "wiki_page", project: { id: p.id } },
        })
      ).status,
    ).toBe(202);

    const stats = await admin("GET", "/stats");
    expect(stats.status).toBe(200);
    const mine = field<
      { project_id: number; project_path: string; kinds: Record<string, Record<string, number>> }[]
    >(stats.body, "projects").find((x) => x.project_id === p.id);
    expect(mine?.project_path).toBe(p.path);
    expect(mine?.kinds.push).toMatchObject({
      received: 2,
      delivered: 1,
      duplicate: 1,
      dead: 0,
      ignored: 0,
    });
    expect(mine?.kinds.note).toMatchObject({ received: 1, delivered: 1 });
    expect(mine?.kinds["Wiki Page Hook"]).toMatchObject({ ignored: 1, received: 0 });
    // Header text GitLab never sends is counted as one `other`, never under its own name.
    await sendWebhook({
      token: reg.token,
      event: "Evil <script> Hook",
      body: { object_kind: "x" },
    });
    const restated = await admin("GET", "/stats");
    const counted = field<{ project_id: number; kinds: Record<string, Record<string, number>> }[]>(
      restated.body,
      "projects",
    ).find((x) => x.project_id === p.id);
    expect(counted?.kinds.other).toMatchObject({ ignored: 1 });
    expect(JSON.stringify(restated.body)).not.toContain("script");
    expect(field<number>(stats.body, "ingress_ms", "count")).toBeGreaterThanOrEqual(3);
    expect(field<number>(stats.body, "ingress_ms", "p99")).toBeGreaterThanOrEqual(
      field<number>(stats.body, "ingress_ms", "p50"),
    );
  });

  it("logs one JSON line per request with its id, status and duration", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const res = await call(new Request(`${BASE}/healthz?token=should-not-appear`));
    const requestLines = lines.map((l) => JSON.parse(l)).filter((l) => l.message === "request");
    expect(requestLines).toEqual([
      expect.objectContaining({
        request_id: res.headers.get("x-request-id"),
        method: "GET",
        path: "/healthz",
        status: 200,
        duration_ms: expect.any(Number),
      }),
    ]);
    expect(lines.join("\n")).not.toContain("should-not-appear");
  });

  it("a queued webhook costs one log line: the request's, with the delivery's fields", async () => {
    const p = { id: 7171, path: "observe/one-line" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const res = await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed).toEqual([
      expect.objectContaining({
        message: "request",
        request_id: res.headers.get("x-request-id"),
        status: 202,
        outcome: "queued",
        kind: "push",
        project_id: p.id,
        project_path: p.path,
        delivery_id: expect.any(String),
      }),
    ]);
  });

  it("a queue batch costs one log line naming what it acked and retried; a failed attempt has its own", async () => {
    const p = { id: 7272, path: "observe/batch-line" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const scope = newScope();
    const env = { ...destinations(scope), EVENTS_URL: "" };
    const event = (after: string) =>
      ingest({
        token: reg.token,
        event: "Push Hook",
        body: push(p, { after: after.padEnd(40, "b") }),
      });
    const [a, b, c] = [await event("b1"), await event("b2"), await event("b3")];
    const lines = captureLogs();
    const parsed = () => lines.map((l) => JSON.parse(l));

    await consume([{ body: a }, { body: b }], env);
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: "info",
        message: "queue batch",
        messages: 2,
        acked: expect.arrayContaining([a.delivery_id, b.delivery_id]),
        retried: [],
        duration_ms: expect.any(Number),
      }),
    ]);

    lines.length = 0;
    await script(scope, [{ status: 503 }]);
    await consume([{ body: c }], env);
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: "warn",
        message: "delivery attempt",
        delivery_id: c.delivery_id,
        destination: "packit",
        outcome: "transient",
        status_code: 503,
      }),
      expect.objectContaining({ message: "queue batch", acked: [], retried: [c.delivery_id] }),
    ]);
  });
});
