/** The dedupe claims of the delivery log (`delivery_keys`): who owns an event. */

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
export function claimKeyStatement(
  db: D1Database,
  claim: { key: string; deliveryId: string; now: number; expiredBefore: number },
) {
  const { key, deliveryId, now, expiredBefore } = claim;
  return db
    .prepare(
      `INSERT INTO delivery_keys (key, delivery_id, claimed_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (key) DO UPDATE SET delivery_id = excluded.delivery_id, claimed_at = excluded.claimed_at
       WHERE delivery_keys.claimed_at < ?4
         OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = delivery_keys.delivery_id
           AND d.id <> excluded.delivery_id AND d.status IN ('rejected', 'dead', 'undeliverable'))`,
    )
    .bind(key, deliveryId, now, expiredBefore);
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
