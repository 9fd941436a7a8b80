/**
 * D1 access to the delivery log. The claim is one transactional batch: it claims the content
 * hash, inserts the delivery (as `duplicate` when another delivery owns its dedupe key or the
 * hash), and reads back the row and its destinations.
 */
import { z } from "zod";
import type { AttemptRecord, Finish } from "../domain/delivery-state";
import type { WebhookMessage } from "../domain/queue-message";
import { type BatchRunner, directBatches } from "./batch-window";
import {
  contentClaimStatement,
  countOutcomeStatement,
  KEY_OWNER,
  SAME_SENDER_NEW_EVENT,
} from "./delivery-claims";
import { deliveryDetails, listDeliveries, purgeDeliveries } from "./delivery-log-query";
import { beginReplay, type ReplayStart, staleDeliveries } from "./delivery-replay";
import {
  type AttemptRow,
  CLAIMED_COLUMNS,
  type ClaimedRow,
  claimedWithRegistration,
  type DeliveryFilter,
  type DeliveryRow,
  deliveryRow,
  TARGET_COLUMNS,
  type TargetRow,
  targetRow,
} from "./delivery-rows";

export type { AttemptRow, DeliveryFilter, DeliveryRow, TargetRow };

/**
 * The guard of every write in `record`, checked inside the same transaction: the delivery is
 * still of this generation, unfinished, and (when a lease owner is given, ?9) leased to it.
 * A copy whose lease ran out, or a replay that started meanwhile, writes nothing.
 */
const STILL_OURS = `EXISTS (SELECT 1 FROM deliveries WHERE id = ?1 AND generation = ?8
  AND status IN ('queued', 'retrying') AND (?9 IS NULL OR lease_owner = ?9))`;

export class DeliveriesRepo {
  /**
   * `batches`: how claims and records reach D1. The consumer combines a queue batch's
   * (src/storage/batch-window.ts); everything else sends each at once.
   */
  constructor(
    private readonly db: D1Database,
    private readonly batches: { claims: BatchRunner; records: BatchRunner } = {
      claims: directBatches(db),
      records: directBatches(db),
    },
  ) {}

  /**
   * Claims the delivery and, when it is not finished, a lease on forwarding it (`lease`
   * until `leaseUntil`), so two copies of one message never forward at the same time.
   * A dedupe key that is itself a content hash (GitLab before 17.4) counts only within the
   * window, like the content hash.
   */
  async claim(input: {
    message: WebhookMessage;
    contentHash: string;
    /** What the row keeps for replay (src/domain/stored-message.ts). */
    stored: string;
    /** Content-hash claims older than this are void. */
    windowStart: number;
    now: number;
    lease: { owner: string; until: number };
  }): Promise<{
    delivery: ClaimedRow;
    targets: TargetRow[];
    leased: boolean;
    /** False when the sender's registration was removed since ingress (never for JWTs). */
    registered: boolean;
  }> {
    const { message, contentHash, stored, windowStart, now, lease } = input;
    // 128 bits of the hash: no collision within a day's events, at half the bytes.
    const claimedHash = contentHash.slice(0, 32);
    const keyWindowStart = message.dedupe_source === "content-hash" ? windowStart : 0;
    const registrationId =
      message.registration.kind === "legacy_jwt" ? null : message.registration.id;
    const results = await this.batches.claims([
      contentClaimStatement(this.db, {
        hash: claimedHash,
        deliveryId: message.delivery_id,
        now,
        expiredBefore: windowStart,
      }),
      this.db
        .prepare(
          `INSERT INTO deliveries (id, generation, dedupe_key, content_hash, registration_id, instance_url,
             project_id, project_path, kind, status, duplicate_of, received_at, message, updated_at, ingress_ms,
             lease_owner, lease_until)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, d.status, d.duplicate_of, ?10, ?11, ?12, ?15,
             CASE WHEN d.status = 'queued' THEN ?16 END, CASE WHEN d.status = 'queued' THEN ?17 END
           FROM (SELECT CASE WHEN k.owner IS NULL AND (h.delivery_id = ?1 OR ${SAME_SENDER_NEW_EVENT})
                 THEN 'queued' ELSE 'duplicate' END AS status,
               CASE WHEN k.owner IS NOT NULL THEN k.owner
                 WHEN h.delivery_id <> ?1 AND NOT ${SAME_SENDER_NEW_EVENT} THEN h.delivery_id END
                 AS duplicate_of
             FROM (SELECT ${KEY_OWNER} AS owner) k, content_claims h WHERE h.hash = ?14) d
           WHERE true
           ON CONFLICT (id) DO NOTHING`,
        )
        .bind(
          message.delivery_id,
          message.generation,
          message.dedupe_key,
          // Not kept on the row: its claim in content_claims holds it while it counts.
          "",
          registrationId,
          message.instance_url,
          message.project.id,
          message.project.path,
          message.kind,
          message.received_at,
          stored,
          now,
          keyWindowStart,
          claimedHash,
          message.ingress_ms ?? null,
          lease.owner,
          lease.until,
        ),
      // Counted once, when the insert just above made it a duplicate.
      countOutcomeStatement(this.db, {
        now,
        outcome: "duplicate",
        deliveryId: message.delivery_id,
        also: "EXISTS (SELECT 1 FROM deliveries WHERE id = ?3 AND status = 'duplicate')",
      }),
      // A new delivery took its lease as it was written (one row write, not two); one the log
      // already held (a retry, a replay) takes it here, if it is free.
      this.db
        .prepare(
          `UPDATE deliveries SET lease_owner = ?2, lease_until = ?3
           WHERE id = ?1 AND generation = ?4 AND status IN ('queued', 'retrying')
             AND (lease_until IS NULL OR lease_until <= ?5)`,
        )
        .bind(message.delivery_id, lease.owner, lease.until, message.generation, now),
      this.db
        .prepare(
          `SELECT ${CLAIMED_COLUMNS},
             ?2 IS NULL OR EXISTS (SELECT 1 FROM registrations WHERE id = ?2) AS registered
           FROM deliveries WHERE id = ?1`,
        )
        .bind(message.delivery_id, registrationId),
      this.db
        .prepare(`SELECT ${TARGET_COLUMNS} FROM delivery_targets WHERE delivery_id = ?1`)
        .bind(message.delivery_id),
    ]);
    // The last two statements read back: the row (with its registration check), its targets.
    const [row, destinations] = results.slice(-2);
    const { registered, ...delivery } = claimedWithRegistration.parse(row?.results[0]);
    const targets = z.array(targetRow).parse(destinations?.results ?? []);
    return {
      delivery,
      targets,
      leased: delivery.lease_owner === lease.owner,
      registered: registered === 1,
    };
  }

  /**
   * Records attempts, destination states and the delivery's new state in one transaction,
   * and releases the lease. Nothing is written unless the delivery is still this generation,
   * unfinished and, with `leaseOwner`, leased to it (an expired lease may have passed to
   * another copy of the message): one transaction, no separate check.
   */
  async record(input: {
    id: string;
    generation: number;
    attempts: readonly AttemptRecord[];
    finish: Finish;
    now: number;
    /** Only this lease's holder may write; null: forced (dead letters). */
    leaseOwner?: string | null;
  }): Promise<boolean> {
    const { id, generation, attempts, finish, now } = input;
    const leaseOwner = input.leaseOwner ?? null;
    const statements: D1PreparedStatement[] = [];
    for (const a of attempts) {
      if (a.outcome !== "skipped") {
        statements.push(
          this.db
            .prepare(
              `INSERT INTO delivery_attempts (delivery_id, destination, attempted_at, outcome, status_code, error, duration_ms)
               SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE ${STILL_OURS}
               ON CONFLICT DO NOTHING`,
            )
            .bind(
              id,
              a.destination,
              now,
              a.outcome,
              a.statusCode,
              a.error,
              a.durationMs,
              generation,
              leaseOwner,
            ),
        );
      }
      const counted = a.outcome === "skipped" ? 0 : 1;
      statements.push(
        this.db
          .prepare(
            `INSERT INTO delivery_targets (delivery_id, destination, status, attempts, last_status_code, last_error, delivered_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?3 = 'delivered' THEN ?7 END WHERE ${STILL_OURS}
             ON CONFLICT (delivery_id, destination) DO UPDATE SET status = excluded.status,
               attempts = delivery_targets.attempts + ?4, last_status_code = excluded.last_status_code,
               last_error = excluded.last_error,
               delivered_at = coalesce(excluded.delivered_at, delivery_targets.delivered_at)`,
          )
          .bind(
            id,
            a.destination,
            a.targetStatus,
            counted,
            a.statusCode,
            a.error,
            now,
            generation,
            leaseOwner,
          ),
      );
    }
    statements.push(
      this.db
        .prepare(
          `UPDATE deliveries SET status = ?3, reason = ?4, next_attempt_at = ?5,
             attempts = attempts + ?6,
             first_attempt_at = CASE WHEN ?6 = 1 THEN coalesce(first_attempt_at, ?9) ELSE first_attempt_at END,
             last_attempt_at = CASE WHEN ?6 = 1 THEN ?9 ELSE last_attempt_at END,
             last_status_code = coalesce(?7, last_status_code), last_error = coalesce(?8, last_error),
             lease_owner = NULL, lease_until = NULL, updated_at = ?9
           WHERE id = ?1 AND generation = ?2 AND status IN ('queued', 'retrying')
             AND (?10 IS NULL OR lease_owner = ?10)`,
        )
        .bind(
          id,
          generation,
          finish.status,
          finish.reason ?? null,
          finish.nextAttemptAt ?? null,
          finish.attempted ? 1 : 0,
          finish.lastStatusCode ?? null,
          finish.lastError ?? null,
          now,
          leaseOwner,
        ),
    );
    // Counted only when the update above applied.
    statements.push(countOutcomeStatement(this.db, { now, outcome: finish.status }));
    const results = await this.batches.records(statements);
    return (results.at(-2)?.meta.changes ?? 0) > 0;
  }

  /** Replaces the row's stored form (`stored`) with the whole message (`whole`). */
  async keepWhole(id: string, stored: string, whole: string): Promise<void> {
    await this.db
      .prepare("UPDATE deliveries SET message = ?3 WHERE id = ?1 AND message = ?2")
      .bind(id, stored, whole)
      .run();
  }

  async get(id: string): Promise<DeliveryRow | null> {
    const row = await this.db.prepare("SELECT * FROM deliveries WHERE id = ?1").bind(id).first();
    return row ? deliveryRow.parse(row) : null;
  }

  /** A delivery's destinations and attempts, for its view. */
  details(id: string): Promise<{ targets: TargetRow[]; attempts: AttemptRow[] }> {
    return deliveryDetails(this.db, id);
  }

  /** See delivery-log-query.ts: newest first, keyset pagination, an index per filter. */
  list(
    filter: DeliveryFilter,
    limit: number,
    before?: { receivedAt: number; id: string },
  ): Promise<DeliveryRow[]> {
    return listDeliveries(this.db, filter, limit, before);
  }

  /** See `staleDeliveries` in delivery-replay.ts. */
  stale(input: { dueBefore: number; now: number; limit: number }) {
    return staleDeliveries(this.db, input);
  }

  /** See `beginReplay` in delivery-replay.ts: the delivery and its next message, at once. */
  beginReplay(input: ReplayStart): Promise<boolean> {
    return beginReplay(this.db, input);
  }

  /** See delivery-log-query.ts: in chunks, on the received_at index. */
  purge(cutoff: number, hashClaimsBefore: number): Promise<number> {
    return purgeDeliveries(this.db, cutoff, hashClaimsBefore);
  }
}
