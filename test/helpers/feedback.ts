/** Calling the feedback API as packit-service would. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { feedbackView } from "../../src/domain/feedback-requests";
import { admin, field } from "./admin";
import { capturingQueue, consume } from "./deliveries";
import { newScope, type Recorded, received } from "./doubles";
import { asJson, BASE, call, type JsonResponse } from "./relay";

export const SHA = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";
export const API_TOKEN = "glpat-instance-feedback-token";

/** A GitLab double of its own (a scope) registered as an instance, with one project. */
export async function gitlab(projectId = 42, path = "packit/hello") {
  const scope = newScope();
  const url = `${env.TEST_DOUBLES_URL}/${scope}`;
  const inst = await admin("POST", "/instances", { url, api_token: API_TOKEN });
  expect(inst.status).toBe(201);
  const project = await admin("POST", "/projects", {
    instance_url: url,
    project_id: projectId,
    path,
  });
  expect(project.status).toBe(201);
  const calls = async (): Promise<Recorded[]> =>
    (await received(scope)).filter((r) => r.path.startsWith("/api/v4/"));
  return {
    scope,
    url,
    projectId,
    instanceId: field<string>(inst.body, "id"),
    projectRegId: field<string>(project.body, "id"),
    calls,
  };
}

export function status(url: string, extra: Record<string, unknown> = {}) {
  return {
    instance_url: url,
    project_id: 42,
    sha: SHA,
    state: "running",
    name: "rpm-build:fedora-rawhide-x86_64",
    ref: "hello-1.2",
    target_url: "https://dashboard.packit.dev/jobs/copr/1",
    description: "Job is in progress...",
    ...extra,
  };
}

export const FEEDBACK_TOKEN = "test-feedback-token";

export async function feedback(
  path: string,
  body: unknown,
  overrides: Partial<Env> = {},
  method = "POST",
): Promise<JsonResponse> {
  const init: RequestInit = {
    method,
    headers: { authorization: `Bearer ${FEEDBACK_TOKEN}`, "content-type": "application/json" },
  };
  if (method !== "GET") {
    init.body = JSON.stringify(body);
  }
  return asJson(await call(new Request(`${BASE}/api/v1${path}`, init), overrides));
}

/** Posts a feedback request and returns its id and the queue message it produced. */
export async function submit(path: string, body: unknown, overrides: Partial<Env> = {}) {
  const q = capturingQueue();
  const res = await feedback(path, body, { ...overrides, EVENTS_QUEUE: q.queue });
  expect(res.status).toBe(202);
  const message = q.feedback[0];
  if (!message) {
    throw new Error(`nothing queued: ${JSON.stringify(res.body)}`);
  }
  return { id: message.feedback_id, message };
}

export async function run(messages: unknown[], overrides: Partial<Env> = {}) {
  return consume(
    messages.map((body) => ({ body })),
    overrides,
  );
}

export async function state(id: string) {
  const res = await feedback(`/feedback/${id}`, undefined, {}, "GET");
  expect(res.status).toBe(200);
  return feedbackView.parse(res.body);
}
