-- The delivery log: one row per accepted webhook (delivery id from ingress), its outcome per
-- destination, and every forwarding attempt. Kept RETENTION_DAYS, purged by cron.
-- Status moves only forward (queued → retrying → a terminal state), except by replay, which
-- bumps `generation` so stale queue copies of the message are recognised and dropped.

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  generation INTEGER NOT NULL DEFAULT 0,
  dedupe_key TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  registration_id TEXT,                   -- null for legacy JWT senders
  instance_url TEXT,
  project_id INTEGER,
  project_path TEXT,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'retrying', 'delivered', 'duplicate', 'skipped',
    'rejected', 'dead', 'undeliverable')),
  duplicate_of TEXT,
  reason TEXT,                            -- why skipped, rejected, dead or undeliverable
  attempts INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_attempt_at INTEGER,
  next_attempt_at INTEGER,
  last_status_code INTEGER,
  last_error TEXT,                        -- truncated
  lease_owner TEXT,                       -- the consumer invocation forwarding it right now
  lease_until INTEGER,                    -- ... until then; a crashed one's lease runs out
  message TEXT NOT NULL,                  -- the queue message (body inline or R2 key), for replay
  updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_received ON deliveries (received_at, id);
CREATE INDEX deliveries_status ON deliveries (status, received_at);
CREATE INDEX deliveries_project ON deliveries (project_id, received_at);

-- Dedupe claims: 'k:' + dedupe key (kept for the retention period) and 'h:' + content hash
-- (counts only within the dedupe window). The first delivery to claim a key owns it.
CREATE TABLE delivery_keys (
  key TEXT PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
);
CREATE INDEX delivery_keys_claimed ON delivery_keys (claimed_at);

-- Per destination ('packit' for packit-compat, 'events' for normalized CloudEvents).
CREATE TABLE delivery_targets (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'retrying', 'rejected', 'skipped', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error TEXT,
  delivered_at INTEGER,
  PRIMARY KEY (delivery_id, destination)
);

CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  attempted_at INTEGER NOT NULL,
  outcome TEXT NOT NULL,                  -- delivered, transient, permanent
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempted_at);
