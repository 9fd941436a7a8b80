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

export const STATUS_STATES = [
  "pending",
  "running",
  "success",
  "failed",
  "canceled",
  "skipped",
  "error",
  "neutral",
] as const;

export const statusRequest = z
  .object({
    ...base,
    sha: z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a commit SHA"),
    state: z.enum(STATUS_STATES),
    name: z.string().min(1).max(255).openapi({ example: "rpm-build:fedora-rawhide-x86_64" }),
    ref: z
      .string()
      .min(1)
      .max(255)
      .openapi({ description: "branch or tag; for MRs the source branch" }),
    target_url: z.string().max(255).optional(),
    description: z.string().max(10_000).optional(),
    merge_request_iid: z.number().int().positive().optional(),
    merge_request_project_id: z
      .number()
      .int()
      .positive()
      .optional()
      .openapi({ description: "the MR's project when it differs (forks); default project_id" }),
    fallback: z.enum(["note", "none"]).default("none"),
  })
  .strict()
  .superRefine((v, ctx) => {
    // No characters that could end a markdown link or start another element: the URL is
    // also written into fallback notes.
    if (
      v.target_url !== undefined &&
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
  })
  .openapi("StatusRequest");
export type StatusRequest = z.infer<typeof statusRequest>;

const issuableTarget = z.object({
  type: z.enum(["merge_request", "issue"]),
  iid: z.number().int().positive(),
});
const commitTarget = z.object({
  type: z.literal("commit"),
  sha: z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a commit SHA"),
});

export const noteRequest = z
  .object({
    ...base,
    target: z.union([issuableTarget, commitTarget]),
    body: z.string().min(1).max(1_000_000),
    dedupe_key: z.string().min(1).max(200).optional().openapi({
      description: "edit the relay's earlier note with this key instead of posting another",
    }),
    internal: z.boolean().optional(),
  })
  .strict()
  .openapi("NoteRequest");
export type NoteRequest = z.infer<typeof noteRequest>;

export const reactionRequest = z
  .object({
    ...base,
    target: issuableTarget.extend({ note_id: z.number().int().positive().optional() }),
    name: z.string().regex(/^[a-z0-9_+-]{1,64}$/, "an emoji name without colons, e.g. eyes"),
  })
  .strict()
  .openapi("ReactionRequest");
export type ReactionRequest = z.infer<typeof reactionRequest>;

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
