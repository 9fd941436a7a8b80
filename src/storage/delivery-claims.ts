/**
 * The dedupe claims of the delivery log, who owns an event: `delivery_keys` by dedupe key
 * (`k:` + key, for the retention period) and `content_claims` by content hash (for the
 * dedupe window).
 */

/**
 * Identical bytes are one event when two hooks report it (a project hook and a group hook:
 * different senders). From one sender, two deliveries that each carry their own key (GitLab's
 * Idempotency-Key or a signed webhook-id) are two events: the Test button pressed twice, a
 * force-push back to the same commits. (?3: this dedupe key; ?5: this registration.)
 */
export const SAME_SENDER_NEW_EVENT = `(?3 NOT LIKE 'sha256:%' AND EXISTS (SELECT 1 FROM deliveries o
  WHERE o.id = h.delivery_id AND o.registration_id IS ?5 AND o.dedupe_key NOT LIKE 'sha256:%'
  AND o.dedupe_key <> ?3))`;

/**
 * The first delivery to claim a key owns it, until the claim expires, or until that
 * delivery failed for good (rejected, dead, undeliverable): then a redelivery of the event,
 * such as GitLab's "Resend request" after the cause was fixed, takes the claim over and is
 * forwarded, instead of being recorded as a duplicate of a failure.
 */
export function claimStatement(
  db: D1Database,
  claim: {
    table: "delivery_keys" | "content_claims";
    key: string;
    deliveryId: string;
    now: number;
    expiredBefore: number;
  },
) {
  const { table, key, deliveryId, now, expiredBefore } = claim;
  const column = CLAIM_KEY[table];
  return db
    .prepare(
      `INSERT INTO ${table} (${column}, delivery_id, claimed_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (${column}) DO UPDATE SET delivery_id = excluded.delivery_id, claimed_at = excluded.claimed_at
       WHERE ${table}.claimed_at < ?4
         OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = ${table}.delivery_id
           AND d.id <> excluded.delivery_id AND d.status IN ('rejected', 'dead', 'undeliverable'))`,
    )
    .bind(key, deliveryId, now, expiredBefore);
}

/** Each claim table's key column. */
export const CLAIM_KEY = { delivery_keys: "key", content_claims: "hash" } as const;

/**
 * One more `outcome` in this minute's count (the console's chart), only when the statement
 * just before it in the batch changed a row: `changes()` is that statement's (one batch,
 * one connection). `also` narrows it further (SQL over ?3, the delivery id).
 */
export function countOutcomeStatement(
  db: D1Database,
  input: { now: number; outcome: string; deliveryId?: string; also?: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO outcome_counts (minute, outcome, count)
       SELECT ?1, ?2, 1 WHERE changes() > 0 ${input.also ? `AND ${input.also}` : ""}
       ON CONFLICT (minute, outcome) DO UPDATE SET count = count + 1`,
    )
    .bind(
      Math.floor(input.now / 60_000),
      input.outcome,
      ...(input.also ? [input.deliveryId ?? null] : []),
    );
}
