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

  it("reads rows written before it (the whole message) and refuses what is neither", () => {
    const m = message();
    expect(fromStored(row(m, JSON.stringify(m), 1))).toEqual({ ...m, generation: 1 });
    expect(fromStored(row(m, "not json"))).toBeNull();
    expect(fromStored(row(m, '{"v":2}'))).toBeNull();
    expect(fromStored({ ...row(m, toStored(m)), kind: "wiki_page" })).toBeNull();
  });
});
