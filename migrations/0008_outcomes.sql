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
