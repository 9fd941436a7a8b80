/**
 * Who owns an event. By dedupe key: the delivery log itself (its `deliveries_dedupe` index)
 * says which delivery holds a key. By content hash: `content_claims`, kept for the dedupe
 * window only.
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
 * The delivery that owns this dedupe key (?3) for the delivery being claimed (?1), or NULL:
 * the latest delivery with the key that claimed it itself (was not recorded as a duplicate
 * of another holder of the key), received since ?13 (0 unless the key is itself a content
 * hash, GitLab before 17.4, which counts within the window only), and that has not failed
 * for good. After a failure (rejected, dead, undeliverable) a redelivery of the event, such
 * as GitLab's "Resend request" once the cause was fixed, owns the key and is forwarded,
 * instead of being recorded as a duplicate of a failure.
 */
export const KEY_OWNER = `(SELECT id FROM (SELECT o.id, max(o.received_at) FROM deliveries o
  WHERE o.dedupe_key = ?3 AND o.id <> ?1 AND o.received_at >= ?13
    AND o.status NOT IN ('rejected', 'dead', 'undeliverable')
    AND NOT (o.status = 'duplicate' AND EXISTS (SELECT 1 FROM deliveries p
      WHERE p.id = o.duplicate_of AND p.dedupe_key = o.dedupe_key))))`;

/**
 * The first delivery to claim a content hash owns it, until the claim expires, or until
 * that delivery failed for good (as for keys, above).
 */
export function contentClaimStatement(
  db: D1Database,
  claim: { hash: string; deliveryId: string; now: number; expiredBefore: number },
) {
  const { hash, deliveryId, now, expiredBefore } = claim;
  return db
    .prepare(
      `INSERT INTO content_claims (hash, delivery_id, claimed_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (hash) DO UPDATE SET delivery_id = excluded.delivery_id, claimed_at = excluded.claimed_at
       WHERE content_claims.claimed_at < ?4
         OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = content_claims.delivery_id
           AND d.id <> excluded.delivery_id AND d.status IN ('rejected', 'dead', 'undeliverable'))`,
    )
    .bind(hash, deliveryId, now, expiredBefore);
}

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
