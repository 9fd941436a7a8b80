/** Registration through the real admin API, as an operator would do it. */
import { expect } from "vitest";
import { asJson, BASE, call, type JsonResponse } from "./relay";

export const ADMIN_TOKEN = "test-admin-token";

export async function admin(
  method: string,
  path: string,
  body?: unknown,
  overrides: Partial<Env> = {},
): Promise<JsonResponse> {
  const headers = new Headers({ authorization: `Bearer ${ADMIN_TOKEN}` });
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers.set("content-type", "application/json");
    init.body = JSON.stringify(body);
  }
  return asJson(await call(new Request(`${BASE}/admin${path}`, init), overrides));
}

export function field<T = unknown>(value: unknown, ...path: (string | number)[]): T {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") {
      throw new Error(`no ${String(key)} in ${JSON.stringify(current)}`);
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  return current as T;
}

export async function registerInstance(url = "https://gitlab.example.com"): Promise<string> {
  const res = await admin("POST", "/instances", { url, api_token: "glpat-instance-api-token-1" });
  if (res.status === 409) {
    const list = await admin("GET", "/instances");
    const found = field<{ id: string; url: string }[]>(list.body, "instances").find(
      (i) => i.url === url,
    );
    if (found) {
      return found.id;
    }
  }
  expect(res.status).toBe(201);
  return field<string>(res.body, "id");
}

export type Registered = { id: string; token: string; tokenId: string };

export async function registerProject(input: {
  instanceUrl?: string;
  projectId: number;
  path: string;
  signingSecret?: string;
}): Promise<Registered> {
  const instanceUrl = input.instanceUrl ?? "https://gitlab.example.com";
  await registerInstance(instanceUrl);
  const res = await admin("POST", "/projects", {
    instance_url: instanceUrl,
    project_id: input.projectId,
    path: input.path,
    ...(input.signingSecret ? { signing_secret: input.signingSecret } : {}),
  });
  expect(res.status).toBe(201);
  return {
    id: field(res.body, "id"),
    token: field(res.body, "token"),
    tokenId: field(res.body, "token_id"),
  };
}

export async function registerNamespace(input: {
  instanceUrl?: string;
  namespace: string;
}): Promise<Registered> {
  const instanceUrl = input.instanceUrl ?? "https://gitlab.example.com";
  await registerInstance(instanceUrl);
  const res = await admin("POST", "/projects", {
    instance_url: instanceUrl,
    namespace: input.namespace,
  });
  expect(res.status).toBe(201);
  return {
    id: field(res.body, "id"),
    token: field(res.body, "token"),
    tokenId: field(res.body, "token_id"),
  };
}
