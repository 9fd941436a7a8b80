-- Connect: a maintainer installs the hook through GitLab's API (src/connect).
-- An instance may carry an OAuth application (registered by ops in GitLab) so maintainers
-- prove their role by signing in; its secret is AES-GCM encrypted like the API token, and a
-- URL change drops it with the other credentials for the old host.
ALTER TABLE instances ADD COLUMN oauth_client_id TEXT;
ALTER TABLE instances ADD COLUMN oauth_client_secret_enc TEXT;

-- How a registration was connected, and whether GitLab's test delivery arrived.
CREATE TABLE connections (
  registration_id TEXT PRIMARY KEY REFERENCES registrations(id) ON DELETE CASCADE,
  mode TEXT NOT NULL CHECK (mode IN ('project', 'group', 'projects')),
  gitlab_id INTEGER NOT NULL,             -- GitLab's project id, or group id
  hook_id INTEGER,                        -- the project or group hook (modes project, group)
  webhook_url TEXT NOT NULL,              -- the relay URL the hooks point at (for the sync)
  connected_by TEXT NOT NULL,             -- GitLab username that proved the role
  connected_at INTEGER NOT NULL,
  verified_at INTEGER,                    -- first event received through the hook since
  test_result TEXT,                       -- what GitLab answered to the hook test
  bot_access TEXT,                        -- granted | present | missing | unknown
  synced_at INTEGER,
  hook_alert_status TEXT,                 -- GitLab's alert_status as the bot last read it
  hook_disabled_until INTEGER,
  hook_checked_at INTEGER                 -- when the cron last read it (NULL: never)
);

-- Mode 'projects' (a group whose tier has no group hooks): one hook per project, kept in
-- sync by cron. hook_id NULL with a problem: the relay could not install it.
CREATE TABLE connection_hooks (
  registration_id TEXT NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
  gitlab_project_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  hook_id INTEGER,
  problem TEXT,
  alert_status TEXT,                      -- as the bot last read it
  PRIMARY KEY (registration_id, gitlab_project_id)
);
