/**
 * Tenant isolation, admin side: what a request without a bearer token, or with only the
 * admin token, can reach.
 */
import { describe, expect, it } from "vitest";
import { asJson, BASE, call } from "../helpers/relay";

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
