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
