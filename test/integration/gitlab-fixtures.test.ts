import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { classifyEvent } from "../../src/ingress/event-kinds";
import { payloadProject } from "../../src/ingress/payload-project";
import { field, registerProject } from "../helpers/admin";
import { asJson } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const fixtures = env.TEST_GITLAB_FIXTURES;

/** GitLab documents some merge request events as partial payloads of the full example. */
function complete(name: string, body: string): string {
  if (!name.includes(".partial.")) {
    return body;
  }
  const full = fixtures.files.find((f) => f.name === "merge_request.open.json");
  if (!full) {
    return body;
  }
  const base = JSON.parse(full.body);
  const partial = JSON.parse(body);
  return JSON.stringify({
    ...base,
    ...partial,
    object_attributes: { ...base.object_attributes, ...partial.object_attributes },
  });
}

const RELAYED = /^(push|tag_push|merge_request|note|issue|pipeline|release)[.]/;

describe("GitLab's documented webhook bodies", () => {
  it("are read with their X-Gitlab-Event header when the shared folder exists", () => {
    if (!fixtures.present) {
      expect(fixtures.files).toEqual([]);
      return;
    }
    expect(fixtures.files.length).toBeGreaterThan(30);
    for (const fixture of fixtures.files) {
      expect({ name: fixture.name, event: fixture.event }).toEqual({
        name: fixture.name,
        event: expect.stringMatching(/Hook$/),
      });
    }
  });

  it("each answer queued or ignored, never an error", async () => {
    const tokens = new Map<number, string>();
    const fallback = await registerProject({ projectId: 1_000_001, path: "fixture/any" });
    for (const fixture of fixtures.files) {
      const body = complete(fixture.name, fixture.body);
      const payload = JSON.parse(body);
      const project = payloadProject(payload);
      let token = fallback.token;
      if (project.id !== null && project.path) {
        if (!tokens.has(project.id)) {
          tokens.set(
            project.id,
            (await registerProject({ projectId: project.id, path: project.path })).token,
          );
        }
        token = tokens.get(project.id) ?? token;
      }
      const res = await asJson(await sendWebhook({ token, event: fixture.event, body }));
      const expected =
        classifyEvent(fixture.event, payload).outcome === "relayed" ? "queued" : "ignored";
      expect({ name: fixture.name, status: res.status }).toEqual({
        name: fixture.name,
        status: 202,
      });
      expect({ name: fixture.name, outcome: field(res.body, "status") }).toEqual({
        name: fixture.name,
        outcome: expected,
      });
      if (RELAYED.test(fixture.name) && !fixture.name.startsWith("system_hook")) {
        expect({ name: fixture.name, outcome: expected }).toEqual({
          name: fixture.name,
          outcome: "queued",
        });
      }
    }
  });
});
