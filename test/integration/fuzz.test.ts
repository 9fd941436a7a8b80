import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { registerProject } from "../helpers/admin";
import { fuzzSeeds } from "../helpers/fuzz-seeds";
import { mergeRequest, note, push } from "../helpers/gitlab-payloads";
import { BASE, call } from "../helpers/relay";

const PROJECT = { id: 777, path: "fuzz/target" };
let token = "";

beforeAll(async () => {
  ({ token } = await registerProject({ projectId: PROJECT.id, path: PROJECT.path }));
});

const DEFINED = new Set([202, 400, 401, 403, 413, 415, 429]);

const eventHeader = fc.oneof(
  fc.constantFrom(
    "Push Hook",
    "Tag Push Hook",
    "Merge Request Hook",
    "Note Hook",
    "Issue Hook",
    "Pipeline Hook",
    "Release Hook",
    "System Hook",
    "Confidential Note Hook",
    "Job Hook",
  ),
  fc.string({ maxLength: 40 }),
);

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "text/plain",
  "application/x-www-form-urlencoded",
  "",
);

const tokenHeader = fc.oneof(
  fc.constant("VALID"),
  fc.constant(undefined),
  fc.string({ maxLength: 80 }),
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{43}$/),
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{54}$/),
  fc.stringMatching(/^pgr_[A-Za-z0-9_-]{40,60}$/),
  fc.stringMatching(/^eyJ[A-Za-z0-9_-]{4,20}\.[A-Za-z0-9_-]{4,20}\.[A-Za-z0-9_-]{4,20}$/),
);

const realistic = fc.constantFrom(push(PROJECT), mergeRequest(PROJECT), note(PROJECT));

/** Realistic payloads with random fields replaced, random JSON, random text and bytes. */
const body = fc.oneof(
  realistic.map((p) => JSON.stringify(p)),
  fc
    .tuple(realistic, fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 })))
    .map(([p, extra]) => JSON.stringify({ ...p, ...extra })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
);

const extraHeaders = fc.record(
  {
    "x-gitlab-instance": fc.oneof(
      fc.constant("https://gitlab.example.com"),
      fc.string({ maxLength: 30 }),
    ),
    "idempotency-key": fc.string({ maxLength: 60 }),
    "webhook-id": fc.string({ maxLength: 30 }),
    "webhook-timestamp": fc.oneof(fc.nat().map(String), fc.string({ maxLength: 12 })),
    "webhook-signature": fc.string({ maxLength: 60 }),
    "content-length": fc.oneof(fc.nat().map(String), fc.string({ maxLength: 10 })),
    // Cloudflare always sets it; random so the failed-authentication limit stays per client.
    "cf-connecting-ip": fc.ipV4(),
  },
  { requiredKeys: [] },
);

function headerSafe(value: string): string {
  // Header values cannot carry control characters; GitLab's never do either.
  return value.replace(/[^\x20-\x7e]/g, "");
}

describe("ingress under random input", () => {
  it("always answers a defined status with the error envelope, never a 500", async () => {
    for (const seed of fuzzSeeds(20261125)) {
      await fc.assert(
        fc.asyncProperty(
          eventHeader,
          contentType,
          tokenHeader,
          body,
          extraHeaders,
          async (event, type, tok, payload, extra) => {
            const headers = new Headers();
            if (type) {
              headers.set("content-type", type);
            }
            if (event) {
              headers.set("x-gitlab-event", headerSafe(event));
            }
            if (tok !== undefined) {
              headers.set("x-gitlab-token", tok === "VALID" ? token : headerSafe(tok));
            }
            for (const [name, value] of Object.entries(extra)) {
              if (name !== "content-length") {
                headers.set(name, headerSafe(value));
              }
            }
            const res = await call(
              new Request(`${BASE}/webhooks/gitlab`, { method: "POST", headers, body: payload }),
            );
            expect(DEFINED.has(res.status), `status ${res.status}`).toBe(true);
            const json: unknown = await res.json();
            expect(res.headers.get("x-request-id")).toBeTruthy();
            if (res.status === 202) {
              expect(json).toMatchObject({ status: expect.stringMatching(/^(queued|ignored)$/) });
            } else {
              expect(json).toEqual({
                error: {
                  code: expect.any(String),
                  message: expect.any(String),
                  request_id: res.headers.get("x-request-id"),
                },
              });
            }
          },
        ),
        { seed, numRuns: 400 },
      );
    }
  });
});
