-- Outcomes per minute, for the console's 24-hour chart without scanning the delivery log:
-- one row per (minute, outcome), counted as the consumer records an outcome (delivered,
-- duplicate, retrying, dead, rejected, skipped, undeliverable). Ignored events are counted
-- per minute in ignored_counts already. Purged with the delivery log.
CREATE TABLE outcome_counts (
  minute INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, outcome)
);

-- The console lists failed feedback newest first.
CREATE INDEX feedback_state ON feedback (state, seq);

-- A circuit breaker per destination (packit, events): after consecutive transient failures
-- the destination is left alone (deliveries park as retrying), one probe at a time tests it,
-- and the first success closes it and re-drives what was parked. `version` makes every
-- change a compare-and-set between concurrent consumers.
CREATE TABLE circuits (
  destination TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
  failures INTEGER NOT NULL,              -- consecutive transient failures
  opened_at INTEGER,
  retry_at INTEGER,                       -- open: when a probe may go
  probe_until INTEGER,                    -- half_open: the probe's lease
  open_count INTEGER NOT NULL,            -- opens in a row: the wait doubles
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
