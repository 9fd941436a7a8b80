-- Numbers for GET /admin/stats.
-- How long ingress took to accept each delivered event, up to the queue send.
ALTER TABLE deliveries ADD COLUMN ingress_ms INTEGER;

-- Events answered 202 "ignored" (nothing else records them), per minute, project and kind.
CREATE TABLE ignored_events (
  minute INTEGER NOT NULL,
  project_id INTEGER NOT NULL,            -- 0 when the payload names no project
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, project_id, kind)
);
