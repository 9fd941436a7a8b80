import { SignJWT } from "jose";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { forgetTokens } from "../../src/ingress/authenticate";
import { admin, field, registerProject } from "../helpers/admin";
import { push } from "../helpers/gitlab-payloads";
import { captureLogs } from "../helpers/logs";
import { BASE, call, d1FailingOn, refusingQueue } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("logs", () => {
  it("never carry a token, secret, signature or Authorization header", async () => {
    const lines = captureLogs();
    const apiToken = "glpat-LOGTEST-api-token-value";
    const signingSecret = `whsec_${btoa("s".repeat(32))}`;
    await admin("POST", "/instances", { url: "https://logs.example", api_token: apiToken });
    const reg = await registerProject({
      instanceUrl: "https://logs.example",
      projectId: 31337,
      path: "logs/project",
    });
    const signed = await admin("POST", "/projects", {
      instance_url: "https://logs.example",
      project_id: 31338,
      path: "logs/signed",
      signing_secret: signingSecret,
    });
    const signedToken = field<string>(signed.body, "token");
    const p = { id: 31337, path: "logs/project", instance: "https://logs.example" };
    const jwt = await new SignJWT({ namespace: "logs" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("gitlab-token-secret"));
    const body = JSON.stringify(
      push({ id: 31338, path: "logs/signed", instance: "https://logs.example" }),
    );
    const signature = new Webhook(signingSecret).sign("id-1", new Date(), body);

    await sendWebhook({ token: reg.token, event: "Push Hook", body: push(p) });
    await sendWebhook(
      { token: reg.token, event: "Push Hook", body: push(p) },
      { EVENTS_QUEUE: refusingQueue() },
    );
    await sendWebhook(
      { token: reg.token, event: "Push Hook", body: push(p) },
      { EVENTS_QUEUE: refusingQueue(), DB: d1FailingOn(/INSERT INTO inbox/) },
    );
    await sendWebhook({ token: jwt, event: "Push Hook", body: push(p) });
    await sendWebhook({ token: `${reg.token}x`, event: "Push Hook", body: push(p) });
    await sendWebhook({
      token: signedToken,
      event: "Push Hook",
      body,
      headers: {
        "webhook-id": "id-1",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": signature,
      },
    });
    await sendWebhook({
      token: signedToken,
      event: "Push Hook",
      body,
      headers: { "webhook-signature": signature },
    });
    await sendWebhook({
      token: reg.token,
      event: "Wiki Page Hook",
      body: { object_kind: "wiki_page" },
    });
    await call(
      new Request(`${BASE}/admin/instances`, {
        headers: { authorization: "Bearer wrong-admin-token" },
      }),
    );
    // A D1 outage during authentication reaches the unhandled-error path, which logs.
    await sendWebhook(
      { token: `${reg.token}y`, event: "Push Hook", body: push(p) },
      { DB: d1FailingOn(/./) },
    );

    expect(lines.length).toBeGreaterThan(5);
    const all = lines.join("\n");
    for (const secret of [
      apiToken,
      reg.token,
      signedToken,
      signingSecret,
      jwt,
      signature.slice(3),
      "test-admin-token",
      "wrong-admin-token",
      "gitlab-token-secret",
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/authorization/i);
  });
});

describe("errors", () => {
  it("a 5xx is logged once, centrally, with its cause and stack, and the client sees neither", async () => {
    forgetTokens(); // the pre-tag token set must come from the (failing) D1
    const lines = captureLogs();
    const res = await call(
      new Request(`${BASE}/webhooks/gitlab`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gitlab-event": "Push Hook",
          "x-gitlab-token": `pgr_${"z".repeat(43)}`,
        },
        body: "{}",
      }),
      { DB: d1FailingOn(/./) },
    );
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).not.toContain("D1_ERROR");
    const logged = lines.filter((l) => l.includes('"request failed"'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("D1_ERROR: Network connection lost.");
    expect(logged[0]).toContain('"stack"');
  });
});
