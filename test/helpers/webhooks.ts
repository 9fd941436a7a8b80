/** Sending webhooks to the relay the way GitLab does. */
import { BASE, call } from "./relay";

export type WebhookInput = {
  token?: string | undefined;
  event?: string | undefined;
  body: unknown;
  headers?: Record<string, string>;
  path?: string;
};

export function webhookRequest(input: WebhookInput): Request {
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": "GitLab/18.6.0",
  });
  if (input.event !== undefined) {
    headers.set("x-gitlab-event", input.event);
  }
  if (input.token !== undefined) {
    headers.set("x-gitlab-token", input.token);
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    headers.set(name, value);
  }
  const body =
    typeof input.body === "string" || input.body instanceof Uint8Array
      ? input.body
      : JSON.stringify(input.body);
  return new Request(`${BASE}${input.path ?? "/webhooks/gitlab"}`, {
    method: "POST",
    headers,
    body,
  });
}

export function sendWebhook(input: WebhookInput, overrides: Partial<Env> = {}) {
  return call(webhookRequest(input), overrides);
}
