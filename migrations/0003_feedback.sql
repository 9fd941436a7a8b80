-- Feedback: what packit-service asks the relay to report to GitLab (commit statuses, notes,
-- reactions), its outcome, and the state the relay keeps to report in order and once.

-- Credentials per project (a maintainer's project access token), and the health of each
-- credential: a 401 marks it broken; a 429 pauses the instance's feedback until it resets.
ALTER TABLE projects ADD COLUMN gitlab_token_enc TEXT;
ALTER TABLE projects ADD COLUMN credential_broken_at INTEGER;
ALTER TABLE instances ADD COLUMN credential_broken_at INTEGER;
ALTER TABLE instances ADD COLUMN paused_until INTEGER;

CREATE TABLE feedback (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- acceptance order: newer statuses supersede older
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL CHECK (type IN ('status', 'note', 'reaction')),
  instance_id TEXT NOT NULL,
  project_id INTEGER NOT NULL,            -- GitLab's project id
  order_key TEXT,                         -- statuses: instance|project|sha|name
  request TEXT NOT NULL,                  -- the validated request, JSON
  state TEXT NOT NULL CHECK (state IN ('queued', 'retrying', 'done', 'failed', 'superseded')),
  attempts INTEGER NOT NULL DEFAULT 0,
  gitlab_status INTEGER,
  gitlab_id INTEGER,                      -- the created status, note or award
  fallback TEXT,                          -- 'note' when a status was reported as an MR note
  last_error TEXT,
  created_at INTEGER NOT NULL,
  first_attempt_at INTEGER,
  next_attempt_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX feedback_order ON feedback (order_key, seq);
CREATE INDEX feedback_created ON feedback (created_at);

-- Per (instance, project, sha, name): the newest status sent, and who is sending right now.
CREATE TABLE status_heads (
  order_key TEXT PRIMARY KEY,
  sent_seq INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until INTEGER
);

-- Notes the relay wrote and may edit instead of posting again (dedupe_key, fallback notes).
CREATE TABLE relay_notes (
  instance_id TEXT NOT NULL,
  project_id INTEGER NOT NULL,
  target TEXT NOT NULL,                   -- merge_request:7, issue:3, commit:<sha>
  dedupe_key TEXT NOT NULL,
  note_id INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (instance_id, project_id, target, dedupe_key)
);

-- Notes posted per instance and minute, to stay under GitLab's notes_create rate limit.
CREATE TABLE note_budget (
  instance_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  used INTEGER NOT NULL,
  PRIMARY KEY (instance_id, minute)
);
