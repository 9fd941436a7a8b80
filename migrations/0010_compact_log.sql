-- A leaner delivery log, part 2 (issue 12).
--
-- Destinations and attempts become WITHOUT ROWID tables clustered on their delivery: each
-- row is stored once, in the order it is read, instead of in a table plus an index that
-- repeats the delivery id. An attempt is keyed by (delivery, time, destination): a delivery
-- is forwarded by one lease holder at a time, so two attempts of one delivery to one
-- destination in the same millisecond do not happen (the insert ignores one if they did).
--
-- Dedupe-key claims are no longer a table of their own: the delivery log already holds each
-- delivery's key, and an index on it finds the delivery that owns a key
-- (src/storage/delivery-claims.ts) with a third of the bytes. Content-hash claims, which
-- count for the 24-hour dedupe window only, move to their own table, purged by its own
-- index; existing ones move with them, so redeliveries within the window are still found.
-- A consumer still running the code from before this migration fails its claim (no
-- delivery_keys) and the message is retried by the queue, to be claimed by the new code.
--
-- The newest-first list orders by (received_at, id); ties within a millisecond are few, so
-- the received_at index no longer repeats the 36-character id.

CREATE TABLE delivery_targets_v2 (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'retrying', 'rejected', 'skipped', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error TEXT,
  delivered_at INTEGER,
  PRIMARY KEY (delivery_id, destination)
) WITHOUT ROWID;
INSERT INTO delivery_targets_v2 (delivery_id, destination, status, attempts, last_status_code,
  last_error, delivered_at)
SELECT delivery_id, destination, status, attempts, last_status_code, last_error, delivered_at
FROM delivery_targets;
DROP TABLE delivery_targets;
ALTER TABLE delivery_targets_v2 RENAME TO delivery_targets;

CREATE TABLE delivery_attempts_v2 (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  attempted_at INTEGER NOT NULL,
  destination TEXT NOT NULL,
  outcome TEXT NOT NULL,                  -- delivered, transient, permanent
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempted_at, destination)
) WITHOUT ROWID;
INSERT OR IGNORE INTO delivery_attempts_v2 (delivery_id, attempted_at, destination, outcome,
  status_code, error, duration_ms)
SELECT delivery_id, attempted_at, destination, outcome, status_code, error, duration_ms
FROM delivery_attempts ORDER BY rowid;
DROP TABLE delivery_attempts;
ALTER TABLE delivery_attempts_v2 RENAME TO delivery_attempts;

CREATE TABLE content_claims (
  hash TEXT PRIMARY KEY,                  -- the content hash's first 32 hex digits (128 bits)
  delivery_id TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX content_claims_claimed ON content_claims (claimed_at);
INSERT INTO content_claims (hash, delivery_id, claimed_at)
SELECT substr(key, 3, 32), delivery_id, claimed_at FROM delivery_keys WHERE key >= 'h:' AND key < 'h;';
DROP TABLE delivery_keys;
CREATE INDEX deliveries_dedupe ON deliveries (dedupe_key);

DROP INDEX deliveries_received;
CREATE INDEX deliveries_received ON deliveries (received_at);
