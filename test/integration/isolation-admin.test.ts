/**
 * Tenant isolation, admin side: what a request without a bearer token, or with only the
 * admin token, can reach.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin } from "../helpers/admin";
import { capturingQueue } from "../helpers/deliveries";
import { newScope, received, script } from "../helpers/doubles";
import { gitlab, run, state, status, submit } from "../helpers/feedback";
import { captureLogs } from "../helpers/logs";
import { asJson, BASE, call } from "../helpers/relay";

afterEach(() => {
  vi.restoreAllMocks();
});

type OpenApiDoc = { paths: Record<string, Record<string, unknown>> };

async function documentOf(base: string): Promise<OpenApiDoc> {
  const res = await asJson(await call(new Request(`${BASE}${base}/openapi.json`)));
  expect(res.status).toBe(200);
  return res.body as OpenApiDoc;
}

describe("bearer authentication by exact route", () => {
  it.each(["/admin", "/api/v1"])(
    "every route of %s refuses a request without a token, even with openapi.json as its parameter",
    async (base) => {
      const doc = await documentOf(base);
      const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => ({ path, method: method.toUpperCase() })),
      );
      // The document lists every route; a router change that drops them would make this vacuous.
      expect(routes.length).toBeGreaterThan(base === "/admin" ? 15 : 3);
      for (const { path, method } of routes) {
        const concrete = path.replace(/\{[^}]+\}/g, "openapi.json");
        const init: RequestInit = { method };
        if (method !== "GET" && method !== "DELETE") {
          init.headers = { "content-type": "application/json" };
          init.body = "{}";
        }
        const res = await call(new Request(`${BASE}${base}${concrete}`, init));
        const expected = concrete === "/openapi.json" && method === "GET" ? 200 : 401;
        expect({ method, path: concrete, status: res.status }).toEqual({
          method,
          path: concrete,
          status: expected,
        });
      }
    },
  );

  it("the document is public only for GET", async () => {
    const res = await call(new Request(`${BASE}/admin/openapi.json`, { method: "DELETE" }));
    expect(res.status).toBe(401);
  });
});

describe("credentials stay with the host they were given for", () => {
  it("an admin token that moves an instance to its own host receives no stored credential", async () => {
    const lines = captureLogs();
    const g = await gitlab();
    await admin("POST", `/projects/${g.projectRegId}/gitlab-token`, {
      token: "glpat-project-override-token",
    });
    // One request done, one failed: both stay in the feedback table.
    const done = await submit("/gitlab/statuses", status(g.url, { name: "done-one" }));
    await run([done.message]);
    await script(g.scope, [{ status: 422, body: JSON.stringify({ message: "Unprocessable" }) }]);
    const failed = await submit("/gitlab/statuses", status(g.url, { name: "failed-one" }));
    await run([failed.message]);
    expect((await state(done.id)).state).toBe("done");
    expect((await state(failed.id)).state).toBe("failed");

    const attacker = newScope();
    const attackerUrl = `${env.TEST_DOUBLES_URL}/${attacker}`;
    const moved = await admin("PATCH", `/instances/${g.instanceId}`, { url: attackerUrl });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      url: attackerUrl,
      has_api_token: false,
      credential_ok: false,
    });

    expect((await admin("POST", `/feedback/${done.id}/replay`)).status).toBe(409);
    const q = capturingQueue();
    expect(
      (await admin("POST", `/feedback/${failed.id}/replay`, undefined, { EVENTS_QUEUE: q.queue }))
        .status,
    ).toBe(202);
    await run(q.feedback);
    const after = await state(failed.id);
    expect(after.state).toBe("failed");
    expect(after.last_error).toContain("no API token");
    // Nothing at all reached the new host: neither the instance token nor the project's.
    expect(await received(attacker)).toEqual([]);

    // Every credential-affecting action left an audit line, none of them a secret.
    const audits = lines.filter((l) => l.includes('"audit"'));
    expect(
      audits.some(
        (l) => l.includes('"instance.update"') && l.includes('"credentials_dropped":true'),
      ),
    ).toBe(true);
    expect(audits.some((l) => l.includes('"project.gitlab_token.set"'))).toBe(true);
    expect(audits.some((l) => l.includes('"feedback.replay"'))).toBe(true);
    expect(lines.join("\n")).not.toContain("glpat-");
  });

  it("a URL change that brings a new API token uses only that token at the new host", async () => {
    const g = await gitlab();
    await admin("POST", `/projects/${g.projectRegId}/gitlab-token`, {
      token: "glpat-project-override-token",
    });
    const next = newScope();
    const nextUrl = `${env.TEST_DOUBLES_URL}/${next}`;
    const moved = await admin("PATCH", `/instances/${g.instanceId}`, {
      url: nextUrl,
      api_token: "glpat-new-host-token",
    });
    expect(moved.body).toMatchObject({ has_api_token: true, credential_ok: true });
    const { id, message } = await submit("/gitlab/statuses", status(nextUrl));
    await run([message]);
    expect((await state(id)).state).toBe("done");
    const calls = await received(next);
    expect(calls.map((r) => r.headers["private-token"])).toEqual(["glpat-new-host-token"]);
  });

  it("changing only the token, or setting the same URL again, keeps the project tokens", async () => {
    const g = await gitlab();
    await admin("POST", `/projects/${g.projectRegId}/gitlab-token`, {
      token: "glpat-project-override-token",
    });
    expect((await admin("PATCH", `/instances/${g.instanceId}`, { url: g.url })).body).toMatchObject(
      {
        has_api_token: true,
      },
    );
    const { id, message } = await submit("/gitlab/statuses", status(g.url));
    await run([message]);
    expect((await state(id)).state).toBe("done");
    expect((await g.calls()).map((r) => r.headers["private-token"])).toEqual([
      "glpat-project-override-token",
    ]);
  });
});
