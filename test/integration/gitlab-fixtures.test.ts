import { expect, it } from "vitest";
import { classifyEvent } from "../../src/gitlab/event-kinds";
import { claimedProject } from "../../src/gitlab/identity-fields";
import { admin, field, registerProject } from "../helpers/admin";
import { describeFixtures, fixtures, requireFixtures } from "../helpers/fixtures";
import { asJson } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

requireFixtures();

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

/**
 * GitLab's documentation assembles some samples from several projects. A real GitLab names
 * one project throughout (its DataBuilder fills `repository` and `object_attributes` from
 * the hook's project); the relay refuses a body that names two (SPEC ingress step 5).
 */
const INCONSISTENT_SAMPLES: Record<string, string> = {
  // project.id 1 (gitlabhq/gitlab-test), object_attributes.project_id 14
  "issue.open.json": "object_attributes.project_id",
  // project.id 1 (gitlabhq/gitlab-test), object_attributes.target_project_id 14
  // (awesome_space/awesome_project)
  "merge_request.open.legacy-doc-17.x.json": "object_attributes.target.path_with_namespace",
  // project gitlabhq/gitlab-test, repository.homepage gitlab-org/gitlab-test
  "note.commit.json": "repository.homepage",
  // project gitlab-org/gitlab-test, repository.homepage mike/diaspora
  "note.issue.json": "repository.homepage",
};

describeFixtures("GitLab's documented webhook bodies", () => {
  it("are read with their X-Gitlab-Event header", () => {
    expect(fixtures.files.length).toBeGreaterThan(30);
    for (const fixture of fixtures.files) {
      expect({ name: fixture.name, event: fixture.event }).toEqual({
        name: fixture.name,
        event: expect.stringMatching(/Hook$/),
      });
    }
  });

  it("each answer queued or ignored under its own project's registration, never an error", async () => {
    const registrations = new Map<string, { id: string; path: string; token: string }>();
    const fallback = await registerProject({ projectId: 1_000_001, path: "fixture/any" });
    for (const fixture of fixtures.files) {
      const body = complete(fixture.name, fixture.body);
      const payload = JSON.parse(body);
      const project = claimedProject(payload);
      let token = fallback.token;
      if (project.id !== null && project.path && project.web_url) {
        // Registered on the instance the sample's own URLs name (docs use several hosts).
        // Samples reuse project ids under different paths: one registration per sample's
        // project, replacing an earlier one with the same id.
        const instanceUrl = new URL(project.web_url).origin;
        const key = `${instanceUrl}|${project.id}`;
        const known = registrations.get(key);
        if (known?.path !== project.path) {
          if (known) {
            expect((await admin("DELETE", `/projects/${known.id}`)).status).toBe(204);
          }
          const reg = await registerProject({
            instanceUrl,
            projectId: project.id,
            path: project.path,
          });
          registrations.set(key, { id: reg.id, path: project.path, token: reg.token });
        }
        token = registrations.get(key)?.token ?? token;
      }
      const res = await asJson(await sendWebhook({ token, event: fixture.event, body }));
      const inconsistent = INCONSISTENT_SAMPLES[fixture.name];
      if (inconsistent) {
        // A documentation sample whose fields name two projects: refused, naming the field.
        expect({ name: fixture.name, status: res.status }).toEqual({
          name: fixture.name,
          status: 403,
        });
        expect(field<string>(res.body, "error", "message")).toContain(inconsistent);
        continue;
      }
      const expected =
        classifyEvent(fixture.event, payload).outcome === "relayed" ? "queued" : "ignored";
      expect({ name: fixture.name, status: res.status, body: res.body }).toMatchObject({
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
