import { describe, expect, it } from "vitest";
import { contentHash } from "../../src/delivery/consumer";
import { webhookMessage } from "../../src/domain/queue-message";
import { dedupeKey, dedupeScope } from "../../src/ingress/dedupe-key";

const base = {
  webhookId: undefined,
  idempotencyKey: undefined,
  instanceUrl: "https://gitlab.example.com",
  projectId: 7,
  projectPath: "Group/App",
  event: "push",
  bodySha256: "a".repeat(64),
};

describe("dedupeKey", () => {
  it("scopes sender-chosen keys to the sender, stable for one sender", async () => {
    const key = "6f8a0d5e-1c2b-4b7a-9d3e-2f1a0b9c8d7e";
    const a1 = await dedupeKey({ ...base, scope: "registration|a", idempotencyKey: key });
    const a2 = await dedupeKey({ ...base, scope: "registration|a", idempotencyKey: key });
    const b = await dedupeKey({ ...base, scope: "registration|b", idempotencyKey: key });
    expect(a1).toEqual(a2);
    expect(a1.source).toBe("idempotency-key");
    expect(a1.key).toMatch(/^ik_[0-9a-f]{48}$/);
    expect(b.key).not.toBe(a1.key);
  });

  it("prefers a (verified) webhook-id, and ignores keys that are too short or not ASCII", async () => {
    const signed = await dedupeKey({
      ...base,
      scope: "registration|a",
      webhookId: "msg_2b7c4c5d8e9f",
      idempotencyKey: "6f8a0d5e-1c2b-4b7a-9d3e-2f1a0b9c8d7e",
    });
    expect(signed.source).toBe("webhook-id");
    expect(signed.key).toMatch(/^wh_[0-9a-f]{48}$/);
    for (const idempotencyKey of ["short", "ключ-ключ-ключ", "has space in it"]) {
      const k = await dedupeKey({ ...base, scope: "registration|a", idempotencyKey });
      expect(k.source).toBe("content-hash");
    }
  });

  it("names legacy senders by instance, namespace and repository", () => {
    expect(
      dedupeScope(
        { kind: "legacy_jwt", namespace: "ns", repo_name: null },
        { instanceUrl: "https://gitlab.com" },
      ),
    ).toBe("legacy|https://gitlab.com|ns|");
  });

  it("content-hash keys are the delivery log's content claim: one function for both", async () => {
    const key = await dedupeKey({ ...base, scope: "registration|a" });
    const message = webhookMessage.parse({
      v: 1,
      type: "gitlab_webhook",
      delivery_id: "d1",
      dedupe_key: key.key,
      dedupe_source: key.source,
      received_at: 0,
      kind: "push",
      instance_url: base.instanceUrl,
      project: { id: 7, path: "group/app", web_url: null },
      registration: { kind: "project", id: "r", token_id: "t", gitlab_project_id: 7, path: "x" },
      headers: {},
      body: { storage: "inline", text: "{}", size: 2, sha256: base.bodySha256 },
    });
    expect(key.key).toBe(`sha256:${await contentHash(message)}`);
  });
});
