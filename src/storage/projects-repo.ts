/**
 * D1 access to registrations (a project hook, or a group hook covering a namespace) and
 * their webhook tokens. Tokens are stored as SHA-256 only.
 */
import { z } from "zod";

export const registrationRow = z.object({
  id: z.string(),
  instance_id: z.string(),
  instance_url: z.string(),
  kind: z.enum(["project", "namespace"]),
  gitlab_project_id: z.number().int().nullable(),
  path: z.string(),
  signing_secret_enc: z.string().nullable(),
  created_at: z.number(),
});
export type RegistrationRow = z.infer<typeof registrationRow>;

const tokenRow = z.object({
  id: z.string(),
  registration_id: z.string(),
  hash: z.string(),
  hint: z.string(),
  created_at: z.number(),
  expires_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
  last_used_at: z.number().nullable(),
  /** 1: issued before check tags; 2: `pgr_` + random + check tag. */
  format: z.number().int().default(1),
});
export type TokenRow = z.infer<typeof tokenRow>;

const tokenWithRegistration = tokenRow.extend({
  registration: registrationRow,
});
export type TokenWithRegistration = z.infer<typeof tokenWithRegistration>;

export const REGISTRATION_COLUMNS = `p.id, p.instance_id, i.url AS instance_url, p.kind, p.gitlab_project_id,
  p.path, p.signing_secret_enc, p.created_at`;

export class ProjectsRepo {
  constructor(private readonly db: D1Database) {}

  /** Inserts the registration and its first token atomically. */
  async insertWithToken(
    project: Omit<RegistrationRow, "instance_url">,
    token: TokenRow,
  ): Promise<"ok" | "duplicate"> {
    try {
      await this.db.batch([
        this.db
          .prepare(
            `INSERT INTO registrations (id, instance_id, kind, gitlab_project_id, path, signing_secret_enc, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
          )
          .bind(
            project.id,
            project.instance_id,
            project.kind,
            project.gitlab_project_id,
            project.path,
            project.signing_secret_enc,
            project.created_at,
          ),
        this.insertTokenStatement(token),
      ]);
      return "ok";
    } catch (err) {
      if (String(err).includes("UNIQUE")) {
        return "duplicate";
      }
      throw err;
    }
  }

  async list(instanceId?: string): Promise<RegistrationRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${REGISTRATION_COLUMNS} FROM registrations p JOIN instances i ON i.id = p.instance_id
         WHERE ?1 IS NULL OR p.instance_id = ?1 ORDER BY i.url, p.path`,
      )
      .bind(instanceId ?? null)
      .all();
    return z.array(registrationRow).parse(results);
  }

  async get(id: string): Promise<RegistrationRow | null> {
    const row = await this.db
      .prepare(
        `SELECT ${REGISTRATION_COLUMNS} FROM registrations p JOIN instances i ON i.id = p.instance_id
         WHERE p.id = ?1`,
      )
      .bind(id)
      .first();
    return row ? registrationRow.parse(row) : null;
  }

  /** GitLab confirmed a rename: the registration follows, if nobody changed it meanwhile. */
  async renamePath(id: string, from: string, to: string): Promise<boolean> {
    const result = await this.db
      .prepare(
        "UPDATE registrations SET path = ?3 WHERE id = ?1 AND kind = 'project' AND path = ?2",
      )
      .bind(id, from, to)
      .run();
    return result.meta.changes > 0;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.prepare("DELETE FROM registrations WHERE id = ?1").bind(id).run();
    return result.meta.changes > 0;
  }

  /** Every registration's tokens in one query (a list must not ask once per registration). */
  async tokensByRegistration(): Promise<Map<string, TokenRow[]>> {
    const { results } = await this.db
      .prepare("SELECT * FROM tokens ORDER BY registration_id, created_at")
      .all();
    return Map.groupBy(z.array(tokenRow).parse(results), (token) => token.registration_id);
  }

  async listTokens(projectId: string): Promise<TokenRow[]> {
    const { results } = await this.db
      .prepare("SELECT * FROM tokens WHERE registration_id = ?1 ORDER BY created_at")
      .bind(projectId)
      .all();
    return z.array(tokenRow).parse(results);
  }

  /**
   * Adds a token and puts every other live token of the project on a grace period ending
   * at `graceEndsAt` (tokens already ending sooner keep their earlier end).
   */
  async rotate(token: TokenRow, graceEndsAt: number, now: number): Promise<void> {
    await this.db.batch([
      this.db
        .prepare(
          `UPDATE tokens SET expires_at = min(coalesce(expires_at, ?2), ?2)
           WHERE registration_id = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)`,
        )
        .bind(token.registration_id, graceEndsAt, now),
      this.insertTokenStatement(token),
    ]);
  }

  async revokeToken(projectId: string, tokenId: string, now: number): Promise<TokenRow | null> {
    const row = await this.db
      .prepare(
        `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?3)
         WHERE registration_id = ?1 AND id = ?2 RETURNING *`,
      )
      .bind(projectId, tokenId, now)
      .first();
    return row ? tokenRow.parse(row) : null;
  }

  /** The authentication lookup: one indexed read joining token, registration and instance. */
  async findToken(hash: string): Promise<TokenWithRegistration | null> {
    const row = await this.db
      .prepare(
        `SELECT t.*, p.instance_id AS r_instance_id, i.url AS r_instance_url, p.kind AS r_kind,
           p.gitlab_project_id AS r_gitlab_project_id, p.path AS r_path,
           p.signing_secret_enc AS r_signing_secret_enc, p.created_at AS r_created_at
         FROM tokens t JOIN registrations p ON p.id = t.registration_id JOIN instances i ON i.id = p.instance_id
         WHERE t.hash = ?1`,
      )
      .bind(hash)
      .first();
    if (!row) {
      return null;
    }
    return tokenWithRegistration.parse({
      ...row,
      registration: {
        id: row.registration_id,
        instance_id: row.r_instance_id,
        instance_url: row.r_instance_url,
        kind: row.r_kind,
        gitlab_project_id: row.r_gitlab_project_id,
        path: row.r_path,
        signing_secret_enc: row.r_signing_secret_enc,
        created_at: row.r_created_at,
      },
    });
  }

  /**
   * Records use without ever moving `last_used_at` backwards. The first event through a
   * connected hook also marks its connection verified.
   */
  async touchTokens(uses: ReadonlyMap<string, number>): Promise<void> {
    if (uses.size === 0) {
      return;
    }
    await this.db.batch(
      [...uses].flatMap(([id, at]) => [
        this.db
          .prepare(
            "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
          )
          .bind(id, at),
        this.db
          .prepare(
            `UPDATE connections SET verified_at = ?2 WHERE verified_at IS NULL AND connected_at <= ?2
               AND registration_id = (SELECT registration_id FROM tokens WHERE id = ?1)`,
          )
          .bind(id, at),
      ]),
    );
  }

  /** A project's own GitLab token (encrypted), used for feedback instead of the instance's. */
  async setGitlabToken(id: string, tokenEnc: string | null): Promise<boolean> {
    const result = await this.db
      .prepare(
        "UPDATE registrations SET gitlab_token_enc = ?2, credential_broken_at = NULL WHERE id = ?1 AND kind = 'project'",
      )
      .bind(id, tokenEnc)
      .run();
    return result.meta.changes > 0;
  }

  /**
   * What can cover feedback on an instance: which of `projectIds` have a project
   * registration, and the namespaces registered there. Registrations only: what webhooks
   * said about a project never covers it.
   */
  async feedbackCoverage(
    instanceId: string,
    projectIds: readonly number[],
  ): Promise<{ registered: Set<number>; namespaces: string[] }> {
    const [direct, namespaces] = await this.db.batch([
      this.db
        .prepare(
          `SELECT gitlab_project_id AS id FROM registrations WHERE instance_id = ?1 AND kind = 'project'
             AND gitlab_project_id IN (SELECT value FROM json_each(?2))`,
        )
        .bind(instanceId, JSON.stringify(projectIds)),
      this.db
        .prepare("SELECT path FROM registrations WHERE instance_id = ?1 AND kind = 'namespace'")
        .bind(instanceId),
    ]);
    return {
      registered: new Set(
        z
          .array(z.object({ id: z.number().int() }))
          .parse(direct?.results ?? [])
          .map((r) => r.id),
      ),
      namespaces: z
        .array(z.object({ path: z.string() }))
        .parse(namespaces?.results ?? [])
        .map((r) => r.path),
    };
  }

  /** Hashes of live tokens issued before check tags: the only untagged tokens that exist. */
  async untaggedTokenHashes(now: number): Promise<string[]> {
    const { results } = await this.db
      .prepare(
        `SELECT hash FROM tokens WHERE format = 1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?1)`,
      )
      .bind(now)
      .all();
    return z
      .array(z.object({ hash: z.string() }))
      .parse(results)
      .map((r) => r.hash);
  }

  /** Adds a token alone (a reconnect's new token, or one for a project found by the sync). */
  async addToken(token: TokenRow): Promise<void> {
    await this.insertTokenStatement(token).run();
  }

  private insertTokenStatement(token: TokenRow): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO tokens (id, registration_id, hash, hint, created_at, expires_at, revoked_at, last_used_at, format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
      .bind(
        token.id,
        token.registration_id,
        token.hash,
        token.hint,
        token.created_at,
        token.expires_at,
        token.revoked_at,
        token.last_used_at,
        token.format,
      );
  }
}
