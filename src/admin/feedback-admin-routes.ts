/** /admin/feedback: failed feedback can be read and replayed once its cause is fixed. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { audit } from "../audit";
import { FEEDBACK_STATES, feedbackView } from "../domain/feedback-requests";
import type { FeedbackMessage } from "../domain/queue-message";
import { AppError } from "../errors";
import { sendStored } from "../events/enqueue";
import { toView } from "../feedback/feedback-view";
import { errorResponses, idParam, json } from "../openapi";
import { security } from "./schemas";

export function registerFeedbackAdminRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "get",
      path: "/feedback",
      security,
      summary: "Feedback requests, newest first",
      request: {
        query: z.object({
          state: z.enum(FEEDBACK_STATES).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: {
        200: {
          description: "Feedback",
          content: json(z.object({ feedback: z.array(feedbackView) })),
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const { state, limit } = c.req.valid("query");
      const rows = await c.var.repos.feedback.list(state, limit);
      return c.json({ feedback: rows.map(toView) }, 200);
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/feedback/{id}/replay",
      security,
      summary: "Perform a failed (or superseded) feedback request again; done ones stay done",
      request: { params: idParam },
      responses: {
        202: { description: "Re-queued", content: json(z.object({ id: z.string() })) },
        ...errorResponses(401, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const repo = c.var.repos.feedback;
      const row = await repo.get(id);
      if (!row) {
        throw new AppError("not_found", "no such feedback");
      }
      // A done request already reached GitLab: replaying it would post again, and would send
      // a stored credential wherever the instance's URL points now.
      if (row.state === "done") {
        throw new AppError("conflict", "the feedback is done; it is never performed twice");
      }
      const message: FeedbackMessage = { v: 1, type: "gitlab_feedback", feedback_id: id };
      if (!(await repo.reopen(id, JSON.stringify(message), Date.now()))) {
        throw new AppError("conflict", "the feedback is still queued or retrying");
      }
      audit(c, "feedback.replay", { feedback_id: id });
      // Durable already (inbox); the queue only makes it prompt.
      await sendStored({ queue: c.env.EVENTS_QUEUE, inbox: c.var.repos.inbox }, id, message);
      return c.json({ id }, 202);
    },
  );
}
