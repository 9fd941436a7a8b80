/**
 * D1 access for feedback: the requests and their outcomes, the per-status ordering lock,
 * the notes the relay may edit, the notes budget, and credential health.
 */
import { z } from "zod";
import { FEEDBACK_STATES } from "../domain/feedback-requests";
import { maskString } from "../lib/logger";

const feedbackRow = z.object({
  seq: z.number().int(),
  id: z.string(),
  type: z.enum(["status", "note", "reaction"]),
  instance_id: z.string(),
  project_id: z.number().int(),
  order_key: z.string().nullable(),
  request: z.string(),
  state: z.enum(FEEDBACK_STATES),
  attempts: z.number().int(),
  gitlab_status: z.number().int().nullable(),
  gitlab_id: z.number().int().nullable(),
  fallback: z.string().nullable(),
  last_error: z.string().nullable(),
  created_at: z.number(),
  first_attempt_at: z.number().nullable(),
  next_attempt_at: z.number().nullable(),
  updated_at: z.number(),
});
export type FeedbackRow = z.infer<typeof feedbackRow>;

const credentialRow = z.object({
  instance_id: z.string(),
  instance_url: z.string(),
  instance_token_enc: z.string(),
  instance_broken_at: z.number().nullable(),
  paused_until: z.number().nullable(),
  project_registration_id: z.string().nullable(),
  project_token_enc: z.string().nullable(),
});
export type CredentialRow = z.infer<typeof credentialRow>;

export type FeedbackOutcome = {
  state: FeedbackRow["state"];
  attempted: boolean;
  gitlabStatus?: number | null;
  gitlabId?: number | null;
  fallback?: string | null;
  lastError?: string | null;
  nextAttemptAt?: number | null;
};

export class FeedbackRepo {
  constructor(private readonly db: D1Database) {}

  /**
   * Stores the request and its queue message (in the inbox) in one transaction: whatever
   * happens next, the cron sweep finds the message, so no row is ever left `queued` with no
   * message to perform it. The caller deletes the inbox row once the queue took the message.
   */
  async insert(row: {
    id: string;
    type: FeedbackRow["type"];
    instanceId: string;
    projectId: number;
    orderKey: string | null;
    request: string;
    message: string;
    now: number;
  }): Promise<void> {
    await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO feedback (id, type, instance_id, project_id, order_key, request, state, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7)`,
        )
        .bind(row.id, row.type, row.instanceId, row.projectId, row.orderKey, row.request, row.now),
      this.db
        .prepare("INSERT INTO inbox (delivery_id, message, created_at) VALUES (?1, ?2, ?3)")
        .bind(row.id, row.message, row.now),
    ]);
  }

  async get(id: string): Promise<FeedbackRow | null> {
    const row = await this.db.prepare("SELECT * FROM feedback WHERE id = ?1").bind(id).first();
    return row ? feedbackRow.parse(row) : null;
  }

  async list(state: FeedbackRow["state"] | undefined, limit: number): Promise<FeedbackRow[]> {
    // One statement per shape, so each walks an index: (state, seq), or seq itself.
    const statement = state
      ? this.db
          .prepare("SELECT * FROM feedback WHERE state = ?1 ORDER BY seq DESC LIMIT ?2")
          .bind(state, limit)
      : this.db
          .prepare("SELECT * FROM feedback WHERE seq <= ?1 ORDER BY seq DESC LIMIT ?2")
          .bind(Number.MAX_SAFE_INTEGER, limit);
    const { results } = await statement.all();
    return z.array(feedbackRow).parse(results);
  }

  /** Puts a finished feedback back in the queue's hands: state queued, attempts kept. */
  /**
   * Puts a failed (or superseded) request back to `queued` and stores its queue message in the
   * inbox in the same transaction, like intake: a reopened row always has a message.
   */
  async reopen(id: string, message: string, now: number): Promise<boolean> {
    const [result] = await this.db.batch([
      this.db
        .prepare(
          `UPDATE feedback SET state = 'queued', first_attempt_at = NULL, next_attempt_at = NULL,
             updated_at = ?2 WHERE id = ?1 AND state IN ('failed', 'superseded')`,
        )
        .bind(id, now),
      this.db
        .prepare(
          `INSERT INTO inbox (delivery_id, message, created_at)
           SELECT ?1, ?3, ?2 WHERE changes() > 0
           ON CONFLICT (delivery_id) DO UPDATE SET message = excluded.message,
             created_at = excluded.created_at, attempts = 0`,
        )
        .bind(id, now, message),
    ]);
    return (result?.meta.changes ?? 0) > 0;
  }

  /** Records an outcome; only a feedback that is not finished yet changes. */
  async record(id: string, outcome: FeedbackOutcome, now: number): Promise<void> {
    await this.db
      .prepare(
        `UPDATE feedback SET state = ?2, attempts = attempts + ?3,
           first_attempt_at = CASE WHEN ?3 = 1 THEN coalesce(first_attempt_at, ?4) ELSE first_attempt_at END,
           gitlab_status = coalesce(?5, gitlab_status), gitlab_id = coalesce(?6, gitlab_id),
           fallback = coalesce(?7, fallback), last_error = ?8, next_attempt_at = ?9, updated_at = ?4
         WHERE id = ?1 AND state IN ('queued', 'retrying')`,
      )
      .bind(
        id,
        outcome.state,
        outcome.attempted ? 1 : 0,
        now,
        outcome.gitlabStatus ?? null,
        outcome.gitlabId ?? null,
        outcome.fallback ?? null,
        // GitLab's answers can echo what was sent; stored text gets the log masks too.
        outcome.lastError == null ? null : maskString(outcome.lastError),
        outcome.nextAttemptAt ?? null,
      )
      .run();
  }

  /**
   * Takes the ordering lock of `orderKey` for `owner` until `until`, and says whether this
   * feedback is still the newest for the key (nothing newer accepted, nothing newer sent).
   */
  async lockOrder(
    orderKey: string,
    seq: number,
    owner: string,
    until: number,
    now: number,
  ): Promise<{ locked: boolean; newest: boolean }> {
    const [, locked, newest] = await this.db.batch([
      this.db
        .prepare(
          "INSERT INTO status_heads (order_key) VALUES (?1) ON CONFLICT (order_key) DO NOTHING",
        )
        .bind(orderKey),
      this.db
        .prepare(
          `UPDATE status_heads SET lease_owner = ?2, lease_until = ?3
           WHERE order_key = ?1 AND (lease_until IS NULL OR lease_until <= ?4 OR lease_owner = ?2)
           RETURNING sent_seq`,
        )
        .bind(orderKey, owner, until, now),
      this.db
        .prepare(
          `SELECT coalesce(max(seq), 0) AS newest FROM feedback
           WHERE order_key = ?1 AND state IN ('queued', 'retrying', 'done')`,
        )
        .bind(orderKey),
    ]);
    const sent = z.object({ sent_seq: z.number() }).safeParse(locked?.results[0]);
    const max = z.object({ newest: z.number() }).parse(newest?.results[0]).newest;
    return { locked: sent.success, newest: sent.success && sent.data.sent_seq < seq && max <= seq };
  }

  async unlockOrder(orderKey: string, owner: string, sentSeq: number | null): Promise<void> {
    await this.db
      .prepare(
        `UPDATE status_heads SET lease_owner = NULL, lease_until = NULL,
           sent_seq = max(sent_seq, coalesce(?3, 0))
         WHERE order_key = ?1 AND lease_owner = ?2`,
      )
      .bind(orderKey, owner, sentSeq)
      .run();
  }

  /** The instance and project credentials for a feedback call. */
  async credentials(instanceId: string, projectId: number): Promise<CredentialRow | null> {
    const row = await this.db
      .prepare(
        `SELECT i.id AS instance_id, i.url AS instance_url, i.api_token_enc AS instance_token_enc,
           i.credential_broken_at AS instance_broken_at, i.paused_until,
           p.id AS project_registration_id, p.gitlab_token_enc AS project_token_enc
         FROM instances i LEFT JOIN registrations p
           ON p.instance_id = i.id AND p.kind = 'project' AND p.gitlab_project_id = ?2
         WHERE i.id = ?1`,
      )
      .bind(instanceId, projectId)
      .first();
    return row ? credentialRow.parse(row) : null;
  }

  async markCredentialBroken(
    which: { instanceId: string } | { projectRegistrationId: string },
    now: number,
  ): Promise<void> {
    const statement =
      "instanceId" in which
        ? this.db
            .prepare("UPDATE instances SET credential_broken_at = ?2 WHERE id = ?1")
            .bind(which.instanceId, now)
        : this.db
            .prepare("UPDATE registrations SET credential_broken_at = ?2 WHERE id = ?1")
            .bind(which.projectRegistrationId, now);
    await statement.run();
  }

  async pauseInstance(instanceId: string, until: number): Promise<void> {
    await this.db
      .prepare(
        "UPDATE instances SET paused_until = max(coalesce(paused_until, 0), ?2) WHERE id = ?1",
      )
      .bind(instanceId, until)
      .run();
  }

  async findNote(key: {
    instanceId: string;
    projectId: number;
    target: string;
    dedupeKey: string;
  }): Promise<number | null> {
    const row = await this.db
      .prepare(
        `SELECT note_id FROM relay_notes
         WHERE instance_id = ?1 AND project_id = ?2 AND target = ?3 AND dedupe_key = ?4`,
      )
      .bind(key.instanceId, key.projectId, key.target, key.dedupeKey)
      .first();
    return row ? z.object({ note_id: z.number() }).parse(row).note_id : null;
  }

  async saveNote(
    key: { instanceId: string; projectId: number; target: string; dedupeKey: string },
    noteId: number,
    now: number,
  ): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO relay_notes (instance_id, project_id, target, dedupe_key, note_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (instance_id, project_id, target, dedupe_key)
         DO UPDATE SET note_id = excluded.note_id, updated_at = excluded.updated_at`,
      )
      .bind(key.instanceId, key.projectId, key.target, key.dedupeKey, noteId, now)
      .run();
  }

  /** Drops finished feedback older than `cutoff` and spent note budgets. */
  async purge(cutoff: number, now: number): Promise<number> {
    const [deleted] = await this.db.batch([
      this.db
        .prepare(
          "DELETE FROM feedback WHERE created_at < ?1 AND state IN ('done', 'failed', 'superseded')",
        )
        .bind(cutoff),
      this.db
        .prepare("DELETE FROM note_budget WHERE minute < ?1")
        .bind(Math.floor(now / 60_000) - 60),
    ]);
    return deleted?.meta.changes ?? 0;
  }

  /** Counts one note against the instance's budget for this minute; returns the count. */
  async spendNote(instanceId: string, minute: number): Promise<number> {
    const row = await this.db
      .prepare(
        `INSERT INTO note_budget (instance_id, minute, used) VALUES (?1, ?2, 1)
         ON CONFLICT (instance_id, minute) DO UPDATE SET used = used + 1 RETURNING used`,
      )
      .bind(instanceId, minute)
      .first();
    return z.object({ used: z.number() }).parse(row).used;
  }
}
