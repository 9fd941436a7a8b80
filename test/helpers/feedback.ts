/** Calling the feedback API as packit-service would. */
import { expect } from "vitest";
import { feedbackView } from "../../src/feedback/feedback-schemas";
import { capturingQueue, consume } from "./deliveries";
import { asJson, BASE, call, type JsonResponse } from "./relay";

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
