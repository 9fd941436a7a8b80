import { describe, expect, it } from "vitest";
import { classifyEvent } from "../../src/gitlab/event-kinds";

describe("classifyEvent", () => {
  it.each([
    ["Push Hook", { object_kind: "push" }, "push"],
    ["Tag Push Hook", { object_kind: "tag_push" }, "tag_push"],
    ["Merge Request Hook", { object_kind: "merge_request" }, "merge_request"],
    ["Note Hook", { object_kind: "note" }, "note"],
    ["Issue Hook", { object_kind: "issue" }, "issue"],
    ["Pipeline Hook", { object_kind: "pipeline" }, "pipeline"],
    ["Release Hook", { object_kind: "release" }, "release"],
    // recognised from event_name when object_kind is absent
    ["Push Hook", { event_name: "push" }, "push"],
    // old GitLab without object_kind: the header decides
    ["Merge Request Hook", { object_attributes: {} }, "merge_request"],
    // an unknown header with a relayed body: the body decides
    ["Future Push Hook", { object_kind: "push" }, "push"],
    ["push hook", { object_kind: "push" }, "push"],
  ])("relays %s with %j as %s", (header, payload, kind) => {
    expect(classifyEvent(header, payload)).toEqual({ outcome: "relayed", kind });
  });

  it.each([
    ["System Hook", { object_kind: "merge_request" }, /system hooks/],
    ["No Sti System Hook", { event_name: "push" }, /system hooks/],
    ["Job Hook", { object_kind: "build" }, /build events/],
    ["Member Hook", { event_name: "user_add_to_group" }, /user_add_to_group/],
    ["Wiki Page Hook", {}, /Wiki Page Hook/],
    ["Confidential Note Hook", { object_kind: "note" }, /confidential/],
    ["Confidential Issue Hook", { object_kind: "issue" }, /confidential/],
    ["Note Hook", { object_kind: "note", event_type: "confidential_note" }, /confidential/],
    ["Note Hook", { object_kind: "note", object_attributes: { internal: true } }, /confidential/],
    [
      "Issue Hook",
      { object_kind: "issue", object_attributes: { confidential: true } },
      /confidential/,
    ],
    ["Issue Hook", { object_kind: "work_item" }, /work_item/],
  ])("ignores %s with %j", (header, payload, reason) => {
    const result = classifyEvent(header, payload);
    expect(result.outcome).toBe("ignored");
    expect(result.outcome === "ignored" && result.reason).toMatch(reason);
  });

  it("flags a header that contradicts the body", () => {
    expect(classifyEvent("Push Hook", { object_kind: "merge_request" }).outcome).toBe("mismatch");
    expect(classifyEvent("Tag Push Hook", { object_kind: "push" }).outcome).toBe("mismatch");
  });

  it("does not read inherited properties as payload fields", () => {
    const payload = JSON.parse('{"__proto__": {"object_kind": "push"}}');
    expect(classifyEvent("Wiki Page Hook", payload).outcome).toBe("ignored");
  });
});
