/** D1 access to registered GitLab instances. The API token leaves only through `apiToken`. */
import { z } from "zod";
import { isoOrNull } from "../lib/time";

/**
 * Stored in `api_token_enc` when an instance has no API token (the column is NOT NULL):
 * after its URL changed without a new token, the old one is dropped, never sent to the
 * new host.
 */
export const NO_CREDENTIAL = "";

const instanceRow = z.object({
  id: z.string(),
  url: z.string(),
  api_token_enc: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
  credential_broken_at: z.number().nullable().default(null),
  paused_until: z.number().nullable().default(null),
  oauth_client_id: z.string().nullable().default(null),
  oauth_client_secret_enc: z.string().nullable().default(null),
});
export type InstanceRow = z.infer<typeof instanceRow>;

export type Instance = {
  id: string;
  url: string;
  created_at: string;
  updated_at: string;
  credential_ok: boolean;
  has_api_token: boolean;
  credential_broken_at: string | null;
  feedback_paused_until: string | null;
  /** An OAuth application lets maintainers connect by signing in to GitLab. */
  oauth_client_id: string | null;
};

export function toInstance(row: InstanceRow, now = Date.now()): Instance {
  return {
    id: row.id,
    url: row.url,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    credential_ok: row.credential_broken_at === null && row.api_token_enc !== NO_CREDENTIAL,
    has_api_token: row.api_token_enc !== NO_CREDENTIAL,
    credential_broken_at: isoOrNull(row.credential_broken_at),
    feedback_paused_until:
      row.paused_until !== null && row.paused_until > now ? isoOrNull(row.paused_until) : null,
    oauth_client_id: row.oauth_client_secret_enc ? row.oauth_client_id : null,
  };
}

export class InstancesRepo {
  constructor(private readonly db: D1Database) {}

  async insert(
    row: Omit<
      InstanceRow,
      "credential_broken_at" | "paused_until" | "oauth_client_id" | "oauth_client_secret_enc"
    >,
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

  /**
   * Changes the URL and/or the API token. A URL change drops every credential given for the
   * old host in the same transaction: the instance token (unless a new one comes with the
   * change) and the project tokens registered under it. An admin token can therefore never
   * redirect a stored credential to a host of its choosing.
   */
  async update(
    id: string,
    changes: {
      url?: string;
      api_token_enc?: string;
      /** null removes the OAuth application. */
      oauth?: { client_id: string; client_secret_enc: string } | null;
    },
    now: number,
  ): Promise<{ outcome: "ok"; urlChanged: boolean } | { outcome: "missing" | "duplicate" }> {
    try {
      const current = await this.get(id);
      if (!current) {
        return { outcome: "missing" };
      }
      const urlChanged = changes.url !== undefined && changes.url !== current.url;
      const token = changes.api_token_enc ?? (urlChanged ? NO_CREDENTIAL : null);
      // The OAuth secret is a credential for the old host too: it goes unless replaced.
      const oauth =
        changes.oauth !== undefined
          ? changes.oauth
          : urlChanged
            ? null
            : {
                client_id: current.oauth_client_id,
                client_secret_enc: current.oauth_client_secret_enc,
              };
      const statements = [
        this.db
          .prepare(
            `UPDATE instances SET url = coalesce(?2, url), api_token_enc = coalesce(?3, api_token_enc),
               credential_broken_at = CASE WHEN ?3 IS NULL THEN credential_broken_at END,
               paused_until = CASE WHEN ?5 THEN NULL ELSE paused_until END,
               oauth_client_id = ?7, oauth_client_secret_enc = ?8,
               updated_at = ?4 WHERE id = ?1 AND url = ?6`,
          )
          .bind(
            id,
            changes.url ?? null,
            token,
            now,
            urlChanged ? 1 : 0,
            current.url,
            oauth?.client_id ?? null,
            oauth?.client_secret_enc ?? null,
          ),
      ];
      if (urlChanged) {
        statements.push(
          this.db
            .prepare(
              `UPDATE registrations SET gitlab_token_enc = NULL, credential_broken_at = NULL
               WHERE instance_id = ?1 AND gitlab_token_enc IS NOT NULL
                 AND EXISTS (SELECT 1 FROM instances WHERE id = ?1 AND url = ?2)`,
            )
            .bind(id, changes.url ?? ""),
        );
      }
      const [result] = await this.db.batch(statements);
      // A concurrent change of the URL between the read and the batch makes it a no-op.
      return (result?.meta.changes ?? 0) > 0
        ? { outcome: "ok", urlChanged }
        : { outcome: "missing" };
    } catch (err) {
      if (String(err).includes("UNIQUE")) {
        return { outcome: "duplicate" };
      }
      throw err;
    }
  }

  /** GitLab took the API token again (relayctl instances check): it is no longer broken. */
  async clearCredentialBroken(id: string): Promise<void> {
    await this.db
      .prepare("UPDATE instances SET credential_broken_at = NULL WHERE id = ?1")
      .bind(id)
      .run();
  }

  /** Refuses while projects still point at the instance: their tokens would dangle. */
  async delete(id: string): Promise<"ok" | "missing" | "in_use"> {
    const inUse = await this.db
      .prepare("SELECT 1 FROM registrations WHERE instance_id = ?1 LIMIT 1")
      .bind(id)
      .first();
    if (inUse) {
      return "in_use";
    }
    const result = await this.db.prepare("DELETE FROM instances WHERE id = ?1").bind(id).run();
    return result.meta.changes > 0 ? "ok" : "missing";
  }
}
