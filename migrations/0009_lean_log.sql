-- A leaner delivery log (issue 12). Bodies now live in R2 only (content-addressed per day) and
-- deliveries.message holds a ~250-byte stored form; deliveries.content_hash is no longer
-- written (the 'h:' claim holds it). Content-hash claims count only within the 24-hour dedupe
-- window, so the nightly purge drops them once it has passed instead of keeping them as long
-- as the log: this index finds them without walking the other claims.
CREATE INDEX delivery_keys_hash_claimed ON delivery_keys (claimed_at)
  WHERE key >= 'h:' AND key < 'h;';
