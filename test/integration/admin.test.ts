import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, field, registerInstance } from "../helpers/admin";
import { asJson, BASE, call } from "../helpers/relay";

type Instance = { id: string; url: string };

describe("admin authentication", () => {
  it.each([
    ["no header", undefined],
    ["a wrong token", "Bearer not-the-admin-token"],
    ["a token that is a prefix", "Bearer test-admin"],
    ["another scheme", "Basic dGVzdC1hZG1pbi10b2tlbg=="],
  ])("answers %s with 401 and the error envelope", async (_name, authorization) => {
    const headers: Record<string, string> = {};
    if (authorization) {
      headers.authorization = authorization;
    }
    const res = await asJson(await call(new Request(`${BASE}/admin/instances`, { headers })));
    expect(res.status).toBe(401);
    expect(field(res.body, "error", "code")).toBe("unauthorized");
    expect(res.headers.get("x-request-id")).toBe(field(res.body, "error", "request_id"));
  });

  it("refuses every request when ADMIN_TOKEN is unset", async () => {
    const res = await admin("GET", "/instances", undefined, { ADMIN_TOKEN: "" });
    expect(res.status).toBe(401);
  });

  it("serves the OpenAPI document describing every admin route", async () => {
    const res = await asJson(await call(new Request(`${BASE}/admin/openapi.json`)));
    expect(res.status).toBe(200);
    const paths = Object.keys(field<Record<string, unknown>>(res.body, "paths"));
    expect(paths).toEqual(
      expect.arrayContaining([
        "/instances",
        "/instances/{id}",
        "/projects",
        "/projects/{id}",
        "/projects/{id}/tokens",
        "/projects/{id}/tokens/{token_id}",
      ]),
    );
    expect(field(res.body, "components", "securitySchemes", "AdminToken", "scheme")).toBe("bearer");
  });
});

describe("instances", () => {
  it("registers an instance with a normalised URL and stores the API token encrypted", async () => {
    const res = await admin("POST", "/instances", {
      url: "HTTPS://Gitlab.GNOME.org:443/",
      api_token: "glpat-very-secret-value",
    });
    expect(res.status).toBe(201);
    expect(field(res.body, "url")).toBe("https://gitlab.gnome.org");
    expect(JSON.stringify(res.body)).not.toContain("glpat-very-secret-value");
    const row = await env.DB.prepare("SELECT api_token_enc FROM instances WHERE id = ?1")
      .bind(field(res.body, "id"))
      .first<{ api_token_enc: string }>();
    expect(row?.api_token_enc).toMatch(/^v1\./);
    expect(row?.api_token_enc).not.toContain("glpat");
  });

  it("keeps a relative URL root and refuses credentials, queries and http", async () => {
    const ok = await admin("POST", "/instances", {
      url: "https://example.org/gitlab/",
      api_token: "t",
    });
    expect(field(ok.body, "url")).toBe("https://example.org/gitlab");
    for (const url of [
      "https://user:pw@example.net",
      "https://example.net/?a=b",
      "ftp://example.net",
    ]) {
      const res = await admin("POST", "/instances", { url, api_token: "t" });
      expect(res.status).toBe(400);
      expect(field(res.body, "error", "code")).toBe("validation_failed");
    }
    const http = await admin(
      "POST",
      "/instances",
      { url: "http://example.net", api_token: "t" },
      {
        ALLOW_HTTP_INSTANCES: "false",
      },
    );
    expect(http.status).toBe(400);
    expect(field<string>(http.body, "error", "message")).toMatch(/https/);
  });

  it("refuses a duplicate URL with 409 and a bad body with 400, changing nothing", async () => {
    await registerInstance("https://salsa.debian.org");
    const duplicate = await admin("POST", "/instances", {
      url: "https://salsa.debian.org/",
      api_token: "t",
    });
    expect(duplicate.status).toBe(409);
    const bad = await admin("POST", "/instances", { url: "https://x.example", api_token: "" });
    expect(bad.status).toBe(400);
    expect(field<string>(bad.body, "error", "message")).toMatch(/api_token/);
    const unknownField = await admin("POST", "/instances", {
      url: "https://y.example",
      api_token: "t",
      admin: true,
    });
    expect(unknownField.status).toBe(400);
    const list = field<Instance[]>((await admin("GET", "/instances")).body, "instances");
    expect(list.map((i) => i.url)).not.toContain("https://x.example");
    expect(list.map((i) => i.url)).not.toContain("https://y.example");
  });

  it("lists, updates and deletes instances without ever returning the token", async () => {
    const id = await registerInstance("https://gitlab.freedesktop.org");
    const updated = await admin("PATCH", `/instances/${id}`, { api_token: "glpat-rotated-token" });
    expect(updated.status).toBe(200);
    const list = await admin("GET", "/instances");
    expect(JSON.stringify(list.body)).not.toMatch(/glpat|"api_token(_enc)?"/);
    expect((await admin("DELETE", `/instances/${id}`)).status).toBe(204);
    expect((await admin("DELETE", `/instances/${id}`)).status).toBe(404);
    expect((await admin("PATCH", `/instances/${id}`, { url: "https://z.example" })).status).toBe(
      404,
    );
  });

  it("refuses to delete an instance that projects still use", async () => {
    const id = await registerInstance("https://in-use.example");
    await admin("POST", "/projects", {
      instance_url: "https://in-use.example",
      namespace: "group",
    });
    expect((await admin("DELETE", `/instances/${id}`)).status).toBe(409);
  });
});

describe("projects and tokens", () => {
  it("registers a project hook and tells the maintainer exactly what to enter in GitLab", async () => {
    await registerInstance("https://gitlab.com");
    const res = await admin("POST", "/projects", {
      instance_url: "https://gitlab.com/",
      project_id: 278964,
      path: "gitlab-org/gitlab",
    });
    expect(res.status).toBe(201);
    const token = field<string>(res.body, "token");
    expect(token).toMatch(/^pgr_[A-Za-z0-9_-]{54}$/);
    expect(field(res.body, "webhook_url")).toBe(`${BASE}/webhooks/gitlab`);
    expect(field(res.body, "gitlab_settings", "url")).toBe(`${BASE}/webhooks/gitlab`);
    expect(field(res.body, "gitlab_settings", "secret_token")).toBe(token);
    expect(field(res.body, "gitlab_settings", "where")).toBe(
      "https://gitlab.com/gitlab-org/gitlab/-/hooks",
    );
    expect(field<string[]>(res.body, "gitlab_settings", "trigger")).toEqual([
      "Push events",
      "Tag push events",
      "Comments",
      "Issues events",
      "Merge request events",
      "Pipeline events",
      "Releases events",
    ]);
    const stored = await env.DB.prepare("SELECT hash FROM tokens WHERE id = ?1")
      .bind(field(res.body, "token_id"))
      .first<{ hash: string }>();
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)),
    );
    expect(stored?.hash).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    const dump = JSON.stringify(await env.DB.prepare("SELECT * FROM tokens").all());
    expect(dump).not.toContain(token);

    const shown = await admin("GET", `/projects/${field(res.body, "id")}`);
    expect(shown.status).toBe(200);
    expect(JSON.stringify(shown.body)).not.toContain(token);
    expect(field(shown.body, "tokens", 0, "state")).toBe("active");
    const listed = await admin("GET", "/projects");
    expect(JSON.stringify(listed.body)).not.toContain(token);
  });

  it("registers a group hook for a namespace, with a signing secret stored encrypted", async () => {
    await registerInstance("https://gitlab.com");
    const secret = `whsec_${btoa("k".repeat(32))}`;
    const res = await admin("POST", "/projects", {
      instance_url: "https://gitlab.com",
      namespace: "redhat/centos-stream",
      signing_secret: secret,
    });
    expect(res.status).toBe(201);
    expect(field(res.body, "kind")).toBe("namespace");
    expect(field(res.body, "signed")).toBe(true);
    expect(field(res.body, "gitlab_settings", "where")).toBe(
      "https://gitlab.com/groups/redhat/centos-stream/-/hooks",
    );
    expect(JSON.stringify(res.body)).not.toContain(secret);
    const row = await env.DB.prepare("SELECT signing_secret_enc FROM registrations WHERE id = ?1")
      .bind(field(res.body, "id"))
      .first<{ signing_secret_enc: string }>();
    expect(row?.signing_secret_enc).not.toContain("whsec_");
  });

  it.each([
    ["an unregistered instance", { instance_url: "https://unknown.example", namespace: "a" }, 404],
    [
      "a path with spaces",
      { instance_url: "https://gitlab.com", project_id: 1, path: "a b/c" },
      400,
    ],
    [
      "a negative project id",
      { instance_url: "https://gitlab.com", project_id: -1, path: "a/b" },
      400,
    ],
    [
      "both shapes at once",
      { instance_url: "https://gitlab.com", project_id: 1, path: "a/b", namespace: "a" },
      400,
    ],
    [
      "a malformed signing secret",
      { instance_url: "https://gitlab.com", namespace: "zz", signing_secret: "secret" },
      400,
    ],
  ])("refuses %s", async (_name, body, status) => {
    await registerInstance("https://gitlab.com");
    const before = await env.DB.prepare("SELECT count(*) AS n FROM registrations").first<{
      n: number;
    }>();
    const res = await admin("POST", "/projects", body);
    expect(res.status).toBe(status);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM registrations").first<{
      n: number;
    }>();
    expect(after?.n).toBe(before?.n);
  });

  it("refuses the same project or namespace twice with 409", async () => {
    await registerInstance("https://gitlab.com");
    const body = { instance_url: "https://gitlab.com", project_id: 5555, path: "dup/project" };
    expect((await admin("POST", "/projects", body)).status).toBe(201);
    expect((await admin("POST", "/projects", { ...body, path: "renamed/project" })).status).toBe(
      409,
    );
    const ns = { instance_url: "https://gitlab.com", namespace: "Dup-Group" };
    expect((await admin("POST", "/projects", ns)).status).toBe(201);
    expect((await admin("POST", "/projects", { ...ns, namespace: "dup-group" })).status).toBe(409);
  });

  it("rotates with a grace period, revokes, and deletes", async () => {
    await registerInstance("https://gitlab.com");
    const created = await admin("POST", "/projects", {
      instance_url: "https://gitlab.com",
      project_id: 6666,
      path: "rot/ate",
    });
    const id = field<string>(created.body, "id");
    const rotated = await admin("POST", `/projects/${id}/tokens`);
    expect(rotated.status).toBe(201);
    const expiresAt = Date.parse(field<string>(rotated.body, "previous_tokens_expire_at"));
    expect(expiresAt - Date.now()).toBeGreaterThan(23.9 * 3600 * 1000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
    const shown = await admin("GET", `/projects/${id}`);
    expect(field<{ state: string }[]>(shown.body, "tokens").map((t) => t.state)).toEqual([
      "grace",
      "active",
    ]);

    const revoked = await admin(
      "DELETE",
      `/projects/${id}/tokens/${field(rotated.body, "token_id")}`,
    );
    expect(revoked.status).toBe(200);
    expect(field(revoked.body, "state")).toBe("revoked");
    expect((await admin("DELETE", `/projects/${id}/tokens/nope`)).status).toBe(404);
    expect(
      (await admin("POST", `/projects/${id}/tokens`, { grace_period_seconds: -5 })).status,
    ).toBe(400);

    expect((await admin("DELETE", `/projects/${id}`)).status).toBe(204);
    expect((await admin("GET", `/projects/${id}`)).status).toBe(404);
    const tokens = await env.DB.prepare(
      "SELECT count(*) AS n FROM tokens WHERE registration_id = ?1",
    )
      .bind(id)
      .first<{ n: number }>();
    expect(tokens?.n).toBe(0);
  });
});

describe("every route", () => {
  it("answers unknown routes with 404 in the error envelope", async () => {
    const res = await asJson(await call(new Request(`${BASE}/nope`)));
    expect(res.status).toBe(404);
    expect(field(res.body, "error", "code")).toBe("not_found");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers /healthz without secrets", async () => {
    const res = await asJson(await call(new Request(`${BASE}/healthz`)));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });
});

describe("rotating the relay's own secrets", () => {
  const OLD = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const NEW = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));

  it("accepts old and new ADMIN_TOKEN while both are listed", async () => {
    const both = { ADMIN_TOKEN: "new-admin-token, test-admin-token" };
    expect((await admin("GET", "/instances", undefined, both)).status).toBe(200);
    const res = await call(
      new Request(`${BASE}/admin/instances`, {
        headers: { authorization: "Bearer new-admin-token" },
      }),
      both,
    );
    expect(res.status).toBe(200);
    expect(
      (await admin("GET", "/instances", undefined, { ADMIN_TOKEN: "new-admin-token" })).status,
    ).toBe(401);
  });

  it("re-encrypts stored secrets under a new ENCRYPTION_KEY, then works without the old one", async () => {
    await registerInstance("https://rekey.example");
    const rotation = { ENCRYPTION_KEY: `${NEW},${OLD}` };
    const res = await admin("POST", "/maintenance/reencrypt", undefined, rotation);
    expect(res.status).toBe(200);
    expect(field<number>(res.body, "reencrypted")).toBeGreaterThan(0);
    expect(field(res.body, "unreadable")).toBe(0);
    // Only the new key now: everything still opens.
    const again = await admin("POST", "/maintenance/reencrypt", undefined, { ENCRYPTION_KEY: NEW });
    expect(field(again.body, "unreadable")).toBe(0);
    // And the old key alone no longer opens anything.
    const old = await admin("POST", "/maintenance/reencrypt", undefined, { ENCRYPTION_KEY: OLD });
    expect(field(old.body, "reencrypted")).toBe(0);
  });
});
