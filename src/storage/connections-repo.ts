/**
 * D1 access to connections: how a registration's hook was installed through GitLab's API
 * (src/connect), and whether an event has come through it since.
 */
import { z } from "zod";
import { REGISTRATION_COLUMNS, type RegistrationRow, registrationRow } from "./projects-repo";

const connectionRow = z.object({
  registration_id: z.string(),
  mode: z.enum(["project", "group", "projects"]),
  gitlab_id: z.number().int(),
  hook_id: z.number().int().nullable(),
  webhook_url: z.string(),
  connected_by: z.string(),
  connected_at: z.number(),
  verified_at: z.number().nullable(),
  test_result: z.string().nullable(),
  bot_access: z.string().nullable(),
  synced_at: z.number().nullable(),
  hook_alert_status: z.string().nullable().default(null),
  hook_disabled_until: z.number().nullable().default(null),
  hook_checked_at: z.number().nullable().default(null),
});
export type ConnectionRow = z.infer<typeof connectionRow>;
/** What a connect records; the hook's health is the cron's to fill in. */
export type NewConnection = Omit<
  ConnectionRow,
  "hook_alert_status" | "hook_disabled_until" | "hook_checked_at"
>;

const hookRow = z.object({
  registration_id: z.string(),
  gitlab_project_id: z.number().int(),
  path: z.string(),
  hook_id: z.number().int().nullable(),
  problem: z.string().nullable(),
  alert_status: z.string().nullable().default(null),
});
export type ConnectionHookRow = z.input<typeof hookRow>;

export class ConnectionsRepo {
  constructor(private readonly db: D1Database) {}

  /** Every connection by registration (one per connected project or group: a small table). */
  async all(): Promise<Map<string, ConnectionRow>> {
    const { results } = await this.db.prepare("SELECT * FROM connections").all();
    return new Map(
      z
        .array(connectionRow)
        .parse(results)
        .map((r) => [r.registration_id, r]),
    );
  }

  async get(registrationId: string): Promise<ConnectionRow | null> {
    const row = await this.db
      .prepare("SELECT * FROM connections WHERE registration_id = ?1")
      .bind(registrationId)
      .first();
    return row ? connectionRow.parse(row) : null;
  }

  /**
   * Records a (re)connect: verification starts over, so only an event that came through the
   * hook installed now marks it verified. Per-project hooks are replaced as a whole.
   */
  async save(row: NewConnection, hooks: readonly ConnectionHookRow[]): Promise<void> {
    await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO connections (registration_id, mode, gitlab_id, hook_id, connected_by, connected_at,
             verified_at, test_result, bot_access, synced_at, webhook_url)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
           ON CONFLICT (registration_id) DO UPDATE SET mode = ?2, gitlab_id = ?3, hook_id = ?4,
             connected_by = ?5, connected_at = ?6, verified_at = ?7, test_result = ?8,
             bot_access = ?9, synced_at = ?10, webhook_url = ?11, hook_alert_status = NULL,
             hook_disabled_until = NULL, hook_checked_at = NULL`,
        )
        .bind(
          row.registration_id,
          row.mode,
          row.gitlab_id,
          row.hook_id,
          row.connected_by,
          row.connected_at,
          row.verified_at,
          row.test_result,
          row.bot_access,
          row.synced_at,
          row.webhook_url,
        ),
      this.db
        .prepare("DELETE FROM connection_hooks WHERE registration_id = ?1")
        .bind(row.registration_id),
      ...hooks.map((hook) => this.hookStatement(hook)),
    ]);
  }

  /** The registration a connect target already has: by GitLab id, or by namespace path. */
  async findRegistration(
    instanceId: string,
    target: { kind: "project"; gitlabProjectId: number } | { kind: "namespace"; path: string },
  ): Promise<RegistrationRow | null> {
    const where =
      target.kind === "project"
        ? "p.kind = 'project' AND p.gitlab_project_id = ?2"
        : "p.kind = 'namespace' AND lower(p.path) = lower(?2)";
    const row = await this.db
      .prepare(
        `SELECT ${REGISTRATION_COLUMNS} FROM registrations p JOIN instances i ON i.id = p.instance_id
         WHERE p.instance_id = ?1 AND ${where}`,
      )
      .bind(instanceId, target.kind === "project" ? target.gitlabProjectId : target.path)
      .first();
    return row ? registrationRow.parse(row) : null;
  }

  /** Once the hooks carry the new token, every other token of the registration stops now. */
  async revokeOtherTokens(
    registrationId: string,
    keep: readonly string[],
    now: number,
    options: { dropSigningSecret: boolean },
  ) {
    await this.db.batch([
      this.db
        .prepare(
          `UPDATE tokens SET revoked_at = ?3 WHERE registration_id = ?1 AND revoked_at IS NULL
             AND id NOT IN (SELECT value FROM json_each(?2))`,
        )
        .bind(registrationId, JSON.stringify(keep), now),
      ...(options.dropSigningSecret
        ? [
            this.db
              .prepare("UPDATE registrations SET signing_secret_enc = NULL WHERE id = ?1")
              .bind(registrationId),
          ]
        : []),
    ]);
  }

  async setTestResult(registrationId: string, result: string): Promise<void> {
    await this.db
      .prepare("UPDATE connections SET test_result = ?2 WHERE registration_id = ?1")
      .bind(registrationId, result)
      .run();
  }

  async hooks(registrationId: string): Promise<z.infer<typeof hookRow>[]> {
    const { results } = await this.db
      .prepare("SELECT * FROM connection_hooks WHERE registration_id = ?1 ORDER BY path")
      .bind(registrationId)
      .all();
    return z.array(hookRow).parse(results);
  }

  /** Groups connected with one hook per project: what the sync keeps up to date. */
  async perProjectGroups(): Promise<ConnectionRow[]> {
    const { results } = await this.db
      .prepare("SELECT * FROM connections WHERE mode = 'projects' ORDER BY coalesce(synced_at, 0)")
      .all();
    return z.array(connectionRow).parse(results);
  }

  /** The sync's findings for one group: hooks added (or refused), projects gone, the time. */
  async recordSync(
    registrationId: string,
    upserts: readonly ConnectionHookRow[],
    gone: readonly number[],
    now: number,
  ): Promise<void> {
    await this.db.batch([
      ...upserts.map((hook) => this.hookStatement(hook)),
      ...gone.map((id) =>
        this.db
          .prepare(
            "DELETE FROM connection_hooks WHERE registration_id = ?1 AND gitlab_project_id = ?2",
          )
          .bind(registrationId, id),
      ),
      this.db
        .prepare("UPDATE connections SET synced_at = ?2 WHERE registration_id = ?1")
        .bind(registrationId, now),
    ]);
  }

  /** Connections whose hook health is the most stale: never read first, newest first. */
  async dueForHealthCheck(limit: number): Promise<ConnectionRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT * FROM connections WHERE hook_id IS NOT NULL OR mode = 'projects'
         ORDER BY coalesce(hook_checked_at, 0), connected_at DESC LIMIT ?1`,
      )
      .bind(limit)
      .all();
    return z.array(connectionRow).parse(results);
  }

  /** What the bot read: the hook's state (null: unreadable) and each project hook's. */
  async recordHealth(
    registrationId: string,
    hook: { alert_status: string; disabled_until: number | null } | null,
    projectHooks: ReadonlyMap<number, string | null>,
    now: number,
  ): Promise<void> {
    await this.db.batch([
      this.db
        .prepare(
          `UPDATE connections SET hook_alert_status = ?2, hook_disabled_until = ?3, hook_checked_at = ?4
           WHERE registration_id = ?1`,
        )
        .bind(registrationId, hook?.alert_status ?? null, hook?.disabled_until ?? null, now),
      ...[...projectHooks].map(([projectId, status]) =>
        this.db
          .prepare(
            "UPDATE connection_hooks SET alert_status = ?3 WHERE registration_id = ?1 AND gitlab_project_id = ?2",
          )
          .bind(registrationId, projectId, status),
      ),
    ]);
  }

  private hookStatement(hook: ConnectionHookRow): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO connection_hooks (registration_id, gitlab_project_id, path, hook_id, problem)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (registration_id, gitlab_project_id) DO UPDATE SET path = ?3, hook_id = ?4, problem = ?5`,
      )
      .bind(hook.registration_id, hook.gitlab_project_id, hook.path, hook.hook_id, hook.problem);
  }
}
