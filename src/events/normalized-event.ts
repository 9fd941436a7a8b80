/**
 * The normalized GitLab event, version 1: what the `events` destination receives as the
 * `data` of a CloudEvent. Published as JSON Schema in schemas/normalized-event.v1.json
 * (`npm run schemas`). Fields are null when the payload (often an older GitLab) lacks them.
 */
import { z } from "zod";

export const NORMALIZED_SCHEMA_VERSION = "1";

const sha = z.string().nullable();

export const eventBase = z.object({
  schema_version: z.literal(NORMALIZED_SCHEMA_VERSION),
  dedupe_key: z.string(),
  gitlab_event: z.string().describe("X-Gitlab-Event as GitLab sent it"),
  instance_url: z.string().nullable(),
  project: z.object({
    id: z.number().int().nullable(),
    path: z.string().nullable().describe("full path with namespace"),
    web_url: z.string().nullable(),
  }),
  actor: z.object({ username: z.string().nullable(), name: z.string().nullable() }),
  occurred_at: z.string().nullable().describe("time from the payload, as GitLab wrote it"),
  received_at: z.string().describe("when the relay accepted the webhook (ISO 8601)"),
});

export const pushEvent = eventBase.extend({
  kind: z.literal("push"),
  ref: z.string(),
  branch: z.string().nullable().describe("ref without refs/heads/"),
  before: sha,
  after: sha,
  checkout_sha: sha,
  created: z.boolean().describe("the branch did not exist before"),
  deleted: z.boolean().describe("the branch was removed"),
  empty: z.boolean().describe("no new commits and not a deletion"),
  commits_count: z
    .number()
    .int()
    .describe("total_commits_count; the commits list holds at most 20"),
  commit_ids: z.array(z.string()),
  ci_skip: z.boolean().describe("push option ci.skip"),
});

export const tagPushEvent = eventBase.extend({
  kind: z.literal("tag_push"),
  ref: z.string(),
  tag: z.string().nullable(),
  before: sha,
  after: sha,
  sha: sha.describe("the commit the tag points to"),
  created: z.boolean(),
  deleted: z.boolean(),
});

const branchRef = z.object({
  project_id: z.number().int().nullable(),
  branch: z.string().nullable(),
});

export const mergeRequestEvent = eventBase.extend({
  kind: z.literal("merge_request"),
  action: z.string().nullable().describe("as GitLab sent it: open, update, merge, approved, ..."),
  state: z.string().nullable(),
  iid: z.number().int(),
  id: z.number().int().nullable(),
  title: z.string().nullable(),
  url: z.string().nullable(),
  draft: z.boolean().nullable(),
  head_sha: sha.describe("object_attributes.last_commit.id"),
  oldrev: sha,
  code_changed: z.boolean().describe("new commits (oldrev present), or opened/reopened"),
  system: z.boolean(),
  system_action: z.string().nullable(),
  source: branchRef,
  target: branchRef,
});

export const commentEvent = eventBase.extend({
  kind: z.literal("comment"),
  action: z.string().nullable().describe("create or update (GitLab 16.11+)"),
  note_id: z.number().int().nullable(),
  body: z.string(),
  url: z.string().nullable(),
  system: z.boolean(),
  on: z.discriminatedUnion("type", [
    z.object({
      type: z.literal("merge_request"),
      iid: z.number().int().nullable(),
      head_sha: sha,
      source: branchRef,
      target: branchRef,
    }),
    z.object({ type: z.literal("issue"), iid: z.number().int().nullable() }),
    z.object({ type: z.literal("commit"), sha }),
  ]),
});

export const issueEvent = eventBase.extend({
  kind: z.literal("issue"),
  action: z.string().nullable(),
  state: z.string().nullable(),
  iid: z.number().int(),
  title: z.string().nullable(),
  url: z.string().nullable(),
});

export const pipelineEvent = eventBase.extend({
  kind: z.literal("pipeline"),
  id: z.number().int(),
  ref: z.string().nullable(),
  tag: z.boolean(),
  sha: sha,
  before_sha: sha,
  status: z.string().nullable(),
  detailed_status: z.string().nullable(),
  source: z.string().nullable(),
  url: z.string().nullable(),
  merge_request: z
    .object({ iid: z.number().int().nullable(), url: z.string().nullable() })
    .nullable(),
});

export const releaseEvent = eventBase.extend({
  kind: z.literal("release"),
  action: z.string().nullable(),
  tag: z.string(),
  name: z.string().nullable(),
  url: z.string().nullable(),
  commit_sha: sha,
});

export const normalizedEvent = z.discriminatedUnion("kind", [
  pushEvent,
  tagPushEvent,
  mergeRequestEvent,
  commentEvent,
  issueEvent,
  pipelineEvent,
  releaseEvent,
]);
export type NormalizedEvent = z.infer<typeof normalizedEvent>;
export type EventBase = z.infer<typeof eventBase>;
