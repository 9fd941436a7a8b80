/**
 * The D1 inbox: queue messages waiting for the cron sweep to send them. Ingress writes one
 * when the queue refuses; feedback intake writes one with every request (in the same batch
 * as the request) and deletes it once the queue took the message.
 */
import { z } from "zod";

const inboxRow = z.object({
  delivery_id: z.string(),
  message: z.string(),
  created_at: z.number(),
  attempts: z.number(),
});
export type InboxRow = z.infer<typeof inboxRow>;

export class InboxRepo {
  constructor(private readonly db: D1Database) {}

  async insert(deliveryId: string, message: string, now: number): Promise<void> {
    await this.db
      .prepare("INSERT INTO inbox (delivery_id, message, created_at) VALUES (?1, ?2, ?3)")
      .bind(deliveryId, message, now)
      .run();
  }

  /** The oldest rows written at or before `writtenBefore`. */
  async oldest(limit: number, writtenBefore: number): Promise<InboxRow[]> {
    const { results } = await this.db
      .prepare("SELECT * FROM inbox WHERE created_at <= ?2 ORDER BY created_at LIMIT ?1")
      .bind(limit, writtenBefore)
      .all();
    return z.array(inboxRow).parse(results);
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) {
      return;
    }
    await this.db.batch(
      ids.map((id) => this.db.prepare("DELETE FROM inbox WHERE delivery_id = ?1").bind(id)),
    );
  }

  async markAttempt(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) {
      return;
    }
    await this.db.batch(
      ids.map((id) =>
        this.db.prepare("UPDATE inbox SET attempts = attempts + 1 WHERE delivery_id = ?1").bind(id),
      ),
    );
  }
}
