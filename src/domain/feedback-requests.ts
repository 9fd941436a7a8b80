/**
 * What packit-service sends to /api/v1/gitlab/*: validated here, stored as is, and read back
 * by the queue consumer with the same schemas.
 */
import { z } from "@hono/zod-openapi";

const base = {
  instance_url: z.string().min(1).max(2048).openapi({ example: "https://gitlab.com" }),
  project_id: z.number().int().positive().openapi({ example: 278964 }),
  project_path: z
    .string()
    .max(1024)
    .optional()
    .openapi({ description: "full path; lets a project under a registered namespace be found" }),
  // Sent on as a header: a UUID as GitLab writes them, never free text (no CR/LF).
  event_uuid: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID")
    .optional()
    .openapi({ description: "X-Gitlab-Event-UUID of the event that caused this call" }),
};

/** GitLab's states, and packit's names for the same (`failure`, `error`, `neutral`). */
export const STATUS_STATES = [
  "pending",
  "running",
  "success",
  "failed",
  "failure",
  "canceled",
  "skipped",
  "error",
  "neutral",
] as const;

/** A project as packit-service has it at hand: GitLab's id, the full path, or its web URL. */
export const projectRef = z
  .union([z.number().int().positive(), z.string().min(1).max(2048)])
  .openapi({ example: "packit/hello-world" });
export type ProjectRef = z.infer<typeof projectRef>;

const statusFields = {
  sha: z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a commit SHA"),
  state: z.enum(STATUS_STATES),
  name: z.string().min(1).max(255).openapi({ example: "rpm-build:fedora-rawhide-x86_64" }),
  ref: z.string().min(1).max(255).optional().openapi({
    description: "branch or tag (for MRs the source branch); GitLab finds it when omitted",
  }),
  description: z.string().max(10_000).optional(),
  merge_request_iid: z.number().int().positive().optional(),
  fallback: z.enum(["note", "commit_comment", "none"]).default("none").openapi({
    description:
      "where a status GitLab refuses (403/404, a fork) goes: an MR note edited per status name, or a comment on the commit in the MR's project (packit's own fallback)",
  }),
};

type StatusChecked = {
  target_url?: string | null | undefined;
  fallback: string;
  merge_request_iid?: number | undefined;
  merge_request_project_id?: unknown;
  merge_request_project?: unknown;
};

function checkStatus(v: StatusChecked, ctx: z.RefinementCtx) {
  // No characters that could end a markdown link or start another element: the URL is
  // also written into fallback notes.
  if (
    typeof v.target_url === "string" &&
    v.target_url !== "" &&
    !/^https?:\/\/[^\s()<>[\]"'`\\]+$/i.test(v.target_url)
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["target_url"],
      message: "must be an http(s) URL without spaces, quotes, brackets or parentheses",
    });
  }
  if (v.fallback === "note" && v.merge_request_iid === undefined) {
    ctx.addIssue({ code: "custom", path: ["fallback"], message: "needs merge_request_iid" });
  }
  const mrProject = v.merge_request_project_id ?? v.merge_request_project;
  if (mrProject !== undefined && v.merge_request_iid === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["merge_request_iid"],
      message: "needed with the merge request's project (the MR whose source the commit is on)",
    });
  }
}

/** A status as stored and performed: projects resolved to GitLab ids. */
export const statusRequest = z
  .object({
    ...base,
    ...statusFields,
    target_url: z.string().max(255).optional(),
    merge_request_project_id: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine(checkStatus)
  .openapi("StoredStatusRequest");
export type StatusRequest = z.infer<typeof statusRequest>;

/**
 * Projects as packit-service has them (id, full path or web URL, as `project_id` or
 * `project`), resolved to GitLab ids at intake.
 */
const projectRefs = {
  project_id: projectRef
    .optional()
    .openapi({ description: "GitLab's id, the full path or web URL" }),
  project: projectRef
    .optional()
    .openapi({ description: "the same as project_id, by another name" }),
};
function oneProject(v: { project_id?: unknown; project?: unknown }, ctx: z.RefinementCtx) {
  if ((v.project_id === undefined) === (v.project === undefined)) {
    ctx.addIssue({ code: "custom", path: ["project_id"], message: "give project_id or project" });
  }
}

export const statusInput = z
  .object({
    ...base,
    ...projectRefs,
    ...statusFields,
    target_url: z.string().max(255).nullable().optional().openapi({
      description: "the details link; empty or null: none",
    }),
    merge_request_project_id: projectRef.optional().openapi({
      description: "the MR's project when it differs from the commit's (a fork): id, path or URL",
    }),
    merge_request_project: projectRef.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    oneProject(v, ctx);
    checkStatus(v, ctx);
  })
  .openapi("StatusRequest");
export type StatusInput = z.infer<typeof statusInput>;

const issuableTarget = z.object({
  type: z.enum(["merge_request", "issue"]),
  iid: z.number().int().positive(),
});
const commitTarget = z.object({
  type: z.literal("commit"),
  sha: z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a commit SHA"),
});

const noteFields = {
  target: z.union([issuableTarget, commitTarget]),
  body: z.string().min(1).max(1_000_000),
  dedupe_key: z.string().min(1).max(200).optional().openapi({
    description: "edit the relay's earlier note with this key instead of posting another",
  }),
  internal: z.boolean().optional(),
};
export const noteRequest = z
  .object({ ...base, ...noteFields })
  .strict()
  .openapi("StoredNoteRequest");
export type NoteRequest = z.infer<typeof noteRequest>;
export const noteInput = z
  .object({ ...base, ...projectRefs, ...noteFields })
  .strict()
  .superRefine(oneProject)
  .openapi("NoteRequest");
export type NoteInput = z.infer<typeof noteInput>;

const reactionFields = {
  target: issuableTarget.extend({ note_id: z.number().int().positive().optional() }),
  name: z.string().regex(/^[a-z0-9_+-]{1,64}$/, "an emoji name without colons, e.g. eyes"),
};
export const reactionRequest = z
  .object({ ...base, ...reactionFields })
  .strict()
  .openapi("StoredReactionRequest");
export type ReactionRequest = z.infer<typeof reactionRequest>;
export const reactionInput = z
  .object({ ...base, ...projectRefs, ...reactionFields })
  .strict()
  .superRefine(oneProject)
  .openapi("ReactionRequest");
export type ReactionInput = z.infer<typeof reactionInput>;

export const storedRequest = z.discriminatedUnion("type", [
  z.object({ type: z.literal("status"), request: statusRequest }),
  z.object({ type: z.literal("note"), request: noteRequest }),
  z.object({ type: z.literal("reaction"), request: reactionRequest }),
]);
export type StoredRequest = z.infer<typeof storedRequest>;

export const FEEDBACK_STATES = ["queued", "retrying", "done", "failed", "superseded"] as const;

export const feedbackView = z
  .object({
    id: z.string(),
    type: z.enum(["status", "note", "reaction"]),
    state: z.enum(FEEDBACK_STATES),
    attempts: z.number().int(),
    gitlab_status: z.number().int().nullable(),
    gitlab_id: z.number().int().nullable(),
    fallback: z.string().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    next_attempt_at: z.string().nullable(),
  })
  .openapi("Feedback");
export type FeedbackView = z.infer<typeof feedbackView>;
