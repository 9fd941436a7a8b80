/** D1 access to registered GitLab instances. The API token leaves only through `apiToken`. */
import { z } from "zod";
import { isoOrNull } from "../lib/time";

const instanceRow = z.object({
  id: z.string(),
  url: z.string(),
  api_token_enc: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
  credential_broken_at: z.number().nullable().default(null),
  paused_until: z.number().nullable().default(null),
});
export type InstanceRow = z.infer<typeof instanceRow>;

export type Instance = {
  id: string;
  url: string;
  created_at: string;
  updated_at: string;
  credential_ok: boolean;
  credential_broken_at: string | null;
  feedback_paused_until: string | null;
};

export function toInstance(row: InstanceRow, now = Date.now()): Instance {
  return {
    id: row.id,
    url: row.url,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    credential_ok: row.credential_broken_at === null,
    credential_broken_at: isoOrNull(row.credential_broken_at),
    feedback_paused_until:
      row.paused_until !== null && row.paused_until > now ? isoOrNull(row.paused_until) : null,
  };
}

export class InstancesRepo {
  constructor(private readonly db: D1Database) {}

  async insert(
    row: Omit<InstanceRow, "credential_broken_at" | "paused_until">,
  ): Promise<"ok" | "duplicate"> {
    const result = await this.db
      .prepare(
        `INSERT INTO instances (id, url, api_token_enc, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (url) DO NOTHING`,
      )
      .bind(row.id, row.url, row.api_token_enc, row.created_at, row.updated_at)
      .run();
    return result.meta.changes > 0 ? "ok" : "duplicate";
  }

  async list(): Promise<InstanceRow[]> {
    const { results } = await this.db.prepare("SELECT * FROM instances ORDER BY url").all();
    return z.array(instanceRow).parse(results);
  }

  async get(id: string): Promise<InstanceRow | null> {
    const row = await this.db.prepare("SELECT * FROM instances WHERE id = ?1").bind(id).first();
    return row ? instanceRow.parse(row) : null;
  }

  async findByUrl(url: string): Promise<InstanceRow | null> {
    const row = await this.db.prepare("SELECT * FROM instances WHERE url = ?1").bind(url).first();
    return row ? instanceRow.parse(row) : null;
  }

  async update(
    id: string,
    changes: { url?: string; api_token_enc?: string },
    now: number,
  ): Promise<"ok" | "missing" | "duplicate"> {
    try {
      const result = await this.db
        .prepare(
          `UPDATE instances SET url = coalesce(?2, url), api_token_enc = coalesce(?3, api_token_enc),
             credential_broken_at = CASE WHEN ?3 IS NULL THEN credential_broken_at END,
             updated_at = ?4 WHERE id = ?1`,
        )
        .bind(id, changes.url ?? null, changes.api_token_enc ?? null, now)
        .run();
      return result.meta.changes > 0 ? "ok" : "missing";
    } catch (err) {
      if (String(err).includes("UNIQUE")) {
        return "duplicate";
      }
      throw err;
    }
  }

  /** Refuses while projects still point at the instance: their tokens would dangle. */
  async delete(id: string): Promise<"ok" | "missing" | "in_use"> {
    const inUse = await this.db
      .prepare("SELECT 1 FROM projects WHERE instance_id = ?1 LIMIT 1")
      .bind(id)
      .first();
    if (inUse) {
      return "in_use";
    }
    const result = await this.db.prepare("DELETE FROM instances WHERE id = ?1").bind(id).run();
    return result.meta.changes > 0 ? "ok" : "missing";
  }
}
