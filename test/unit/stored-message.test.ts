import { describe, expect, it } from "vitest";
import type { WebhookMessage } from "../../src/domain/queue-message";
import {
  bodyKey,
  fromStored,
  type StoredColumns,
  storedBodyKey,
  toStored,
} from "../../src/domain/stored-message";

const RECEIVED = Date.UTC(2026, 10, 29, 23, 59, 59);

function message(overrides: Partial<WebhookMessage> = {}): WebhookMessage {
  return {
    v: 1,
    type: "gitlab_webhook",
    delivery_id: "d-1",
    generation: 0,
    dedupe_key: "ik_abc",
    dedupe_source: "idempotency-key",
    received_at: RECEIVED,
    ingress_ms: 3,
    kind: "push",
    instance_url: "https://gitlab.example.com",
    project: { id: 7, path: "group/app", web_url: "https://gitlab.example.com/group/app" },
    packit: { namespace: "group", repo: "app" },
    registration: {
      kind: "project",
      id: "r-1",
      token_id: "t-1",
      gitlab_project_id: 7,
      path: "group/app",
    },
    headers: {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-instance": "https://gitlab.example.com",
      "idempotency-key": "k",
    },
    body: { storage: "inline", text: '{"object_kind":"push"}', size: 22, sha256: "a".repeat(64) },
    ...overrides,
  };
}

function row(m: WebhookMessage, stored: string, generation = m.generation): StoredColumns {
  return {
    id: m.delivery_id,
    generation,
    dedupe_key: m.dedupe_key,
    received_at: m.received_at,
    ingress_ms: m.ingress_ms ?? null,
    kind: m.kind,
    instance_url: m.instance_url,
    project_id: m.project.id,
    project_path: m.project.path,
    registration_id: m.registration.kind === "legacy_jwt" ? null : m.registration.id,
    message: stored,
  };
}

describe("the stored form of a webhook message", () => {
  it("rebuilds the message with its body in R2, for the row's generation", () => {
    const m = message();
    const stored = toStored(m);
    expect(stored).not.toContain("object_kind");
    // Nothing the row's columns or the kind already say.
    for (const derivable of ["gitlab.example.com", "group/app", "r-1", "Push Hook", "namespace"]) {
      expect(stored).not.toContain(derivable);
    }
    expect(fromStored(row(m, stored, 2))).toEqual({
      ...m,
      generation: 2,
      body: { storage: "r2", key: storedBodyKey(m), size: 22, sha256: "a".repeat(64) },
    });
    expect(storedBodyKey(m)).toBe(`bodies/2026-11-29/${"a".repeat(64)}.json`);
  });

  it("keeps what cannot be derived: an unusual web URL, packit repo, sender or header", () => {
    const m = message({
      project: { id: 7, path: "group/app", web_url: "https://gitlab.example.com/-/x/group/app" },
      packit: { namespace: "group", repo: "app-fork" },
      registration: { kind: "namespace", id: "r-2", token_id: "t-2", namespace: "group" },
      headers: { "x-gitlab-event": "System Hook", "x-gitlab-instance": "https://other.example" },
      body: { storage: "r2", key: "bodies/2026-11-29/d-1.json", size: 22, sha256: "b".repeat(64) },
    });
    const back = fromStored(row(m, toStored(m)));
    expect(back).toEqual(m);
    expect(bodyKey("c".repeat(64), RECEIVED)).toBe(`bodies/2026-11-29/${"c".repeat(64)}.json`);
  });

  it("keeps webhook-id once when it is the Idempotency-Key, and an unusual dedupe source", () => {
    const m = message({
      dedupe_key: "wh_abc",
      dedupe_source: "webhook-id",
      headers: {
        "x-gitlab-event": "Push Hook",
        "idempotency-key": "0bb612e4-6b55-45c7-ad57-d6b3a8245626",
        "webhook-id": "0bb612e4-6b55-45c7-ad57-d6b3a8245626",
        "webhook-timestamp": "1795951875",
        "user-agent": "GitLab/19.0.0",
      },
    });
    const stored = toStored(m);
    expect(JSON.parse(stored).h).toEqual({
      IK: "C7YS5GtVRcetV9azqCRWJg",
      wi: 0,
      wt: "1795951875",
      ua: "GitLab/19.0.0",
      in: null,
    });
    expect(fromStored(row(m, stored))?.headers).toEqual(m.headers);
    const odd = message({ dedupe_key: "sha256:abc", dedupe_source: "idempotency-key" });
    expect(fromStored(row(odd, toStored(odd)))?.dedupe_source).toBe("idempotency-key");
    const differing = message({
      headers: { "idempotency-key": "k-1", "webhook-id": "w-2" },
    });
    expect(fromStored(row(differing, toStored(differing)))?.headers).toEqual(differing.headers);
  });

  it("packs UUIDs (GitLab's headers, the token id) and the body's SHA-256 into base64url", () => {
    const uuid = "dc57403c-9dc0-40b3-861c-f0ed4111fcac";
    const m = message({
      registration: {
        kind: "project",
        id: "r-1",
        token_id: "de7f73e3-8e20-4258-851f-c2ff5cd67932",
        gitlab_project_id: 7,
        path: "group/app",
      },
      headers: {
        "x-gitlab-event": "Push Hook",
        "x-gitlab-instance": "https://gitlab.example.com",
        "x-gitlab-event-uuid": uuid,
        "x-gitlab-webhook-uuid": uuid.toUpperCase(),
        "idempotency-key": "not-a-uuid-but-fine",
      },
    });
    const stored = toStored(m);
    const form = JSON.parse(stored);
    expect(form.T).toHaveLength(22);
    expect(form.h).toEqual({
      EU: expect.stringMatching(/^[\w-]{22}$/),
      // Only lower-case UUIDs are packed: anything else is kept as sent.
      wu: uuid.toUpperCase(),
      ik: "not-a-uuid-but-fine",
    });
    expect(form.b).toEqual([22, expect.stringMatching(/^[\w-]{43}$/)]);
    expect(stored.length).toBeLessThan(200);
    expect(fromStored(row(m, stored))).toEqual({
      ...m,
      body: { storage: "r2", key: storedBodyKey(m), size: 22, sha256: "a".repeat(64) },
    });
  });

  it("reads the v2 form written before v3", () => {
    const m = message();
    const v2 = JSON.stringify({
      v: 2,
      dedupe_source: "idempotency-key",
      registration: { kind: "project", token_id: "t-1" },
      headers: { "idempotency-key": "k" },
      body: { size: 22, sha256: "a".repeat(64) },
    });
    expect(fromStored(row(m, v2))).toEqual({
      ...m,
      body: { storage: "r2", key: storedBodyKey(m), size: 22, sha256: "a".repeat(64) },
    });
  });

  it("reads rows written before it (the whole message) and refuses what is neither", () => {
    const m = message();
    expect(fromStored(row(m, JSON.stringify(m), 1))).toEqual({ ...m, generation: 1 });
    expect(fromStored(row(m, "not json"))).toBeNull();
    expect(fromStored(row(m, '{"v":2}'))).toBeNull();
    const sha = "A".repeat(43);
    expect(fromStored(row(m, `{"v":3,"t":"t-1","h":{},"b":[1,"${sha}"]}`))).not.toBeNull();
    // An unknown header code, a packed UUID that does not unpack, no token, a hex hash.
    for (const form of [
      `{"v":3,"t":"t-1","h":{"zz":"x"},"b":[1,"${sha}"]}`,
      `{"v":3,"t":"t-1","h":{"EU":"not-base64!"},"b":[1,"${sha}"]}`,
      `{"v":3,"h":{},"b":[1,"${sha}"]}`,
      `{"v":3,"t":"t-1","h":{},"b":[1,"${"a".repeat(64)}"]}`,
    ]) {
      expect(fromStored(row(m, form))).toBeNull();
    }
    expect(fromStored({ ...row(m, toStored(m)), kind: "wiki_page" })).toBeNull();
  });
});
