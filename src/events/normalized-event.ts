/**
 * The normalized GitLab event, version 2: what the `events` destination receives as the
 * `data` of a CloudEvent. Published as JSON Schema in schemas/normalized-event.v2.json
 * (`npm run schemas`). Fields are null when the payload (often an older GitLab) lacks them.
 * Version 2 carries every field packit-service's GitLab parser reads (docs/packit-service.md):
 * merge request sides as projects (a fork's path and web URL), descriptions, the state of
 * the MR or issue a comment is on, head commits; an MR payload without `action` takes its
 * state, as packit does.
 */
import { z } from "zod";

export const NORMALIZED_SCHEMA_VERSION = "2";

const sha = z.string().nullable();
const commit = z
  .object({ id: sha, title: z.string().nullable(), message: z.string().nullable() })
  .nullable()
  .describe("the head commit, when the payload lists it");

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
  head_commit: commit,
  ci_skip: z.boolean().describe("push option ci.skip"),
});

export const tagPushEvent = eventBase.extend({
  kind: z.literal("tag_push"),
  ref: z.string(),
  tag: z.string().nullable(),
  before: sha,
  after: sha,
  sha: sha.describe("the commit the tag points to"),
  head_commit: commit,
  created: z.boolean(),
  deleted: z.boolean(),
});

const mergeSide = z.object({
  project_id: z.number().int().nullable(),
  path: z.string().nullable().describe("full path: a fork's, for the source of a fork MR"),
  web_url: z.string().nullable(),
  branch: z.string().nullable(),
});

export const mergeRequestEvent = eventBase.extend({
  kind: z.literal("merge_request"),
  action: z
    .string()
    .nullable()
    .describe("as GitLab sent it (open, update, merge, approved, ...); without one, the state"),
  state: z.string().nullable(),
  iid: z.number().int(),
  id: z.number().int().nullable(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  url: z.string().nullable(),
  draft: z.boolean().nullable(),
  head_sha: sha.describe("object_attributes.last_commit.id"),
  oldrev: sha,
  code_changed: z.boolean().describe("new commits (oldrev present), or opened/reopened"),
  system: z.boolean(),
  system_action: z.string().nullable(),
  source: mergeSide,
  target: mergeSide,
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
      id: z.number().int().nullable(),
      state: z.string().nullable().describe("packit ignores comments on MRs not opened"),
      head_sha: sha,
      source: mergeSide,
      target: mergeSide,
    }),
    z.object({
      type: z.literal("issue"),
      iid: z.number().int().nullable(),
      state: z.string().nullable().describe("packit ignores comments on issues not opened"),
    }),
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
  project_name: z.string().nullable().describe("project.name, the display name"),
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
