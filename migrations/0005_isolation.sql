-- Tenant isolation.
-- Ignored events are counted only after the sender authenticated, under the registration
-- that sent them ('legacy_jwt' for packit-service tokens), with kinds GitLab does not send
-- collapsed to 'other': an unauthenticated sender, or a payload's claims, no longer choose
-- whose counters move. The old per-payload-project counts are dropped.
CREATE TABLE ignored_counts (
  minute INTEGER NOT NULL,
  registration TEXT NOT NULL,
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, registration, kind)
);
DROP TABLE ignored_events;

-- Webhook tokens carry a check tag from now on (format 2: verified before any D1 read).
-- Tokens issued before (format 1) keep working; their hashes are the only ones an isolate
-- loads to pre-filter untagged tokens, so a made-up token never costs a D1 read.
ALTER TABLE tokens ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
CREATE INDEX tokens_untagged ON tokens (format) WHERE format = 1;
