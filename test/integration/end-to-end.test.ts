import { env } from "cloudflare:workers";
import { jwtVerify } from "jose";
import { describe, expect, it, vi } from "vitest";
import { admin, field, registerProject } from "../helpers/admin";
import { received } from "../helpers/doubles";
import { mergeRequest } from "../helpers/gitlab-payloads";
import { asJson } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

// No manual queue plumbing: the webhook goes through the real queue, and miniflare's own
// consumer (the Worker's queue handler) forwards to the packit-service double at
// PACKIT_SERVICE_URL (the "shared" scope of the doubles).
describe("end to end", () => {
  it("a webhook sent to ingress arrives at packit-service once, correct and signed", async () => {
    const p = { id: 90210, path: "e2e/hello" };
    const reg = await registerProject({ projectId: p.id, path: p.path });
    const body = JSON.stringify(mergeRequest(p, "open", "end to end"));
    const headers = { "idempotency-key": "e2e00000-0000-4000-8000-000000000001" };
    const first = await asJson(
      await sendWebhook({ token: reg.token, event: "Merge Request Hook", body, headers }),
    );
    const again = await asJson(
      await sendWebhook({ token: reg.token, event: "Merge Request Hook", body, headers }),
    );
    const ids = [
      field<string>(first.body, "delivery_id"),
      field<string>(again.body, "delivery_id"),
    ];

    const statuses = await vi.waitFor(
      async () => {
        const all = await Promise.all(ids.map((id) => admin("GET", `/deliveries/${id}`)));
        const s = all
          .map((r) => (r.status === 200 ? field<string>(r.body, "status") : "pending"))
          .sort();
        if (s.includes("pending") || s.includes("queued") || s.includes("retrying")) {
          throw new Error(`not yet: ${s}`);
        }
        return s;
      },
      { timeout: 25_000, interval: 100 },
    );
    expect(statuses).toEqual(["delivered", "duplicate"]);

    const mine = (await received("shared", "/api/webhooks/gitlab")).filter((r) =>
      ids.includes(r.headers["x-relay-delivery-id"] ?? ""),
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toBe(body);
    expect(mine[0]?.headers["idempotency-key"]).toMatch(/^ik_[0-9a-f]{48}$/);
    const { payload } = await jwtVerify(
      mine[0]?.headers["x-gitlab-token"] ?? "",
      new TextEncoder().encode(env.PACKIT_GITLAB_TOKEN_SECRET),
    );
    expect(payload).toMatchObject({ namespace: "e2e", repo_name: "hello" });
    expect(Number(payload.exp)).toBeGreaterThan(Date.now() / 1000);
  }, 30_000); // the queue's batch timeout, on a busy two-core machine
});
