import { describe, expect, it } from "vitest";
import { z } from "zod";
import publishedSchema from "../../schemas/normalized-event.v1.json";
import { normalize } from "../../src/events/normalize";
import { normalizedEvent } from "../../src/events/normalized-event";
import { classifyEvent } from "../../src/gitlab/event-kinds";
import { claimedProject } from "../../src/gitlab/identity-fields";
import { describeFixtures, fixtures, requireFixtures } from "../helpers/fixtures";

requireFixtures();

describe("the normalized event schema", () => {
  it("is published: schemas/normalized-event.v1.json matches the code (npm run schemas)", () => {
    const { title: _title, ...published } = publishedSchema;
    expect(published).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(normalizedEvent))));
  });
});

describeFixtures("GitLab's documented bodies, normalized", () => {
  it("each relayed body normalizes to a valid event that keeps the payload's fields", () => {
    let checked = 0;
    for (const fixture of fixtures.files) {
      const payload = JSON.parse(fixture.body);
      const classification = classifyEvent(fixture.event, payload);
      if (classification.outcome !== "relayed" || fixture.name.includes(".partial.")) {
        continue;
      }
      const result = normalize({
        kind: classification.kind,
        gitlabEvent: fixture.event,
        payload,
        dedupeKey: fixture.name,
        instanceUrl: null,
        project: claimedProject(payload),
        receivedAt: 0,
        botUsernames: [],
      });
      if (fixture.name === "note.snippet.json") {
        expect(result.outcome).toBe("skip");
        continue;
      }
      expect({ name: fixture.name, outcome: result.outcome }).toEqual({
        name: fixture.name,
        outcome: "event",
      });
      if (result.outcome !== "event") {
        continue;
      }
      const event = normalizedEvent.parse(result.event);
      const attrs = payload.object_attributes ?? {};
      switch (event.kind) {
        case "push":
          expect(event.ref).toBe(payload.ref);
          expect(event.after).toBe(payload.after);
          expect(event.commits_count).toBe(payload.total_commits_count ?? payload.commits.length);
          break;
        case "tag_push":
          expect(`refs/tags/${event.tag}`).toBe(payload.ref);
          break;
        case "merge_request":
          expect(event.iid).toBe(attrs.iid);
          expect(event.action).toBe(attrs.action ?? null);
          expect(event.head_sha).toBe(attrs.last_commit?.id ?? null);
          expect(event.target.branch).toBe(attrs.target_branch);
          break;
        case "comment":
          expect(event.body).toBe(attrs.note);
          expect(event.on.type).toBe(
            { MergeRequest: "merge_request", Issue: "issue", Commit: "commit" }[
              attrs.noteable_type as string
            ],
          );
          break;
        case "issue":
          expect(event.iid).toBe(attrs.iid);
          break;
        case "pipeline":
          expect(event.id).toBe(attrs.id);
          expect(event.sha).toBe(attrs.sha);
          expect(event.status).toBe(attrs.status);
          break;
        case "release":
          expect(event.tag).toBe(payload.tag);
          expect(event.commit_sha).toBe(payload.commit?.id ?? null);
          break;
      }
      expect(event.project.id).toBe(payload.project?.id ?? payload.project_id ?? null);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});
