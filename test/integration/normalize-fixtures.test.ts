import { describe, expect, it } from "vitest";
import { z } from "zod";
import publishedSchema from "../../schemas/normalized-event.v2.json";
import { normalize } from "../../src/events/normalize";
import { normalizedEvent } from "../../src/events/normalized-event";
import { classifyEvent } from "../../src/gitlab/event-kinds";
import { claimedProject } from "../../src/gitlab/identity-fields";
import { describeFixtures, fixtures, requireFixtures } from "../helpers/fixtures";

requireFixtures();

/** Every documented body of a relayed kind, with what normalize makes of it. */
function* normalizedFixtures() {
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
    yield { fixture, payload, result };
  }
}

describe("the normalized event schema", () => {
  it("is published: schemas/normalized-event.v2.json matches the code (npm run schemas)", () => {
    const { title: _title, ...published } = publishedSchema;
    expect(published).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(normalizedEvent))));
  });
});

describeFixtures("GitLab's documented bodies, normalized", () => {
  it("each relayed body normalizes to a valid event that keeps the payload's fields", () => {
    let checked = 0;
    for (const { fixture, payload, result } of normalizedFixtures()) {
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
          expect(event.action).toBe(attrs.action ?? attrs.state ?? null);
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

/**
 * Every field packit-service's GitLab parser reads (reference/packit-service.md §2, listed
 * again in docs/packit-service.md), and where the normalized event carries it. Per kind:
 * [payload path, normalized path]; `on.` paths are the comment's target.
 */
const PACKIT_FIELDS: Record<string, [string, string][]> = {
  merge_request: [
    ["object_attributes.state", "state"],
    ["object_attributes.id", "id"],
    ["object_attributes.iid", "iid"],
    ["object_attributes.source.web_url", "source.web_url"],
    ["object_attributes.source_branch", "source.branch"],
    ["object_attributes.target_branch", "target.branch"],
    ["object_attributes.last_commit.id", "head_sha"],
    ["object_attributes.oldrev", "oldrev"],
    ["object_attributes.title", "title"],
    ["object_attributes.description", "description"],
    ["object_attributes.url", "url"],
    ["user.username", "actor.username"],
  ],
  "comment:merge_request": [
    ["merge_request.state", "on.state"],
    ["merge_request.iid", "on.iid"],
    ["merge_request.id", "on.id"],
    ["merge_request.source.web_url", "on.source.web_url"],
    ["merge_request.last_commit.id", "on.head_sha"],
    ["object_attributes.note", "body"],
    ["object_attributes.id", "note_id"],
    ["user.username", "actor.username"],
  ],
  "comment:issue": [
    ["issue.iid", "on.iid"],
    ["issue.state", "on.state"],
    ["object_attributes.note", "body"],
    ["object_attributes.id", "note_id"],
    ["object_attributes.action", "action"],
    ["user.username", "actor.username"],
  ],
  "comment:commit": [
    ["commit.id", "on.sha"],
    ["object_attributes.note", "body"],
    ["object_attributes.id", "note_id"],
  ],
  push: [
    ["ref", "ref"],
    ["before", "before"],
    ["after", "after"],
    ["checkout_sha", "checkout_sha"],
    ["user_username", "actor.username"],
  ],
  tag_push: [
    ["ref", "ref"],
    ["before", "before"],
    ["after", "after"],
  ],
  pipeline: [
    ["project.name", "project_name"],
    ["object_attributes.id", "id"],
    ["object_attributes.ref", "ref"],
    ["object_attributes.sha", "sha"],
    ["object_attributes.status", "status"],
    ["object_attributes.detailed_status", "detailed_status"],
    ["object_attributes.source", "source"],
    ["merge_request.iid", "merge_request.iid"],
    ["merge_request.url", "merge_request.url"],
  ],
  release: [
    ["action", "action"],
    ["tag", "tag"],
    ["commit.id", "commit_sha"],
  ],
};

function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

describeFixtures("packit-service's parser fields survive normalization", () => {
  it("every field packit reads has the same value in the normalized event", () => {
    const checked: string[] = [];
    for (const { fixture, payload, result } of normalizedFixtures()) {
      if (result.outcome !== "event") {
        continue;
      }
      const event = result.event;
      const table =
        PACKIT_FIELDS[event.kind === "comment" ? `comment:${event.on.type}` : event.kind];
      for (const [from, to] of table ?? []) {
        const sent = valueAt(payload, from);
        if (sent === undefined) {
          continue;
        }
        const got = valueAt(event, to);
        expect({ fixture: fixture.name, field: from, value: got }).toEqual({
          fixture: fixture.name,
          field: from,
          value: sent,
        });
        checked.push(`${fixture.name}:${from}`);
      }
    }
    // Enough of the table was exercised to mean something.
    expect(checked.length).toBeGreaterThan(60);
  });
});
