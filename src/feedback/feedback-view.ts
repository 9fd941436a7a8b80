/** How a stored feedback request is shown, by the feedback API and the admin API alike. */
import type { FeedbackView } from "../domain/feedback-requests";
import { isoOrNull } from "../lib/time";
import type { FeedbackRow } from "../storage/feedback-repo";

export function toView(row: FeedbackRow): FeedbackView {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    attempts: row.attempts,
    gitlab_status: row.gitlab_status,
    gitlab_id: row.gitlab_id,
    fallback: row.fallback,
    last_error: row.last_error,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    next_attempt_at: isoOrNull(row.next_attempt_at),
  };
}
