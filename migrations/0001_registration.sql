-- Registration: GitLab instances, the projects and namespaces (group hooks) registered on
-- them, and the webhook tokens GitLab sends in X-Gitlab-Token.
-- Secrets are never stored in clear: API tokens and signing secrets are AES-GCM encrypted
-- under ENCRYPTION_KEY ("v1.<iv>.<ciphertext>", base64url); webhook tokens are SHA-256 hashed.
-- Times are Unix milliseconds.

CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,               -- normalised: scheme://host[:port][/path], no trailing slash
  api_token_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  instance_id TEXT NOT NULL REFERENCES instances(id),
  kind TEXT NOT NULL CHECK (kind IN ('project', 'namespace')),
  gitlab_project_id INTEGER,              -- set for kind 'project' only
  path TEXT NOT NULL,                     -- project path, or the namespace a group hook covers
  signing_secret_enc TEXT,                -- GitLab 19 signing token (whsec_...), encrypted
  created_at INTEGER NOT NULL,
  CHECK ((kind = 'project') = (gitlab_project_id IS NOT NULL))
);
CREATE UNIQUE INDEX projects_instance_project ON projects (instance_id, gitlab_project_id)
  WHERE kind = 'project';
CREATE UNIQUE INDEX projects_instance_namespace ON projects (instance_id, lower(path))
  WHERE kind = 'namespace';

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  hash TEXT NOT NULL UNIQUE,              -- hex SHA-256 of the whole token
  hint TEXT NOT NULL,                     -- prefix and last characters, to tell tokens apart
  created_at INTEGER NOT NULL,
  expires_at INTEGER,                     -- end of the grace period after a rotation
  revoked_at INTEGER,
  last_used_at INTEGER                    -- updated by the queue consumer, never on the hot path
);
CREATE INDEX tokens_project ON tokens (project_id);

-- Events the queue refused at ingress; the cron sweep re-enqueues and deletes them.
CREATE TABLE inbox (
  delivery_id TEXT PRIMARY KEY,
  message TEXT NOT NULL,                  -- the queue message, JSON
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbox_created ON inbox (created_at);
