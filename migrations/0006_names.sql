-- One meaning per name. A registration (a project hook or a group hook over a namespace)
-- was stored in `projects`, and `tokens.project_id` held a registration id while every
-- other `project_id` is GitLab's numeric project id. Renamed; foreign keys and indexes
-- follow the renames. The AES-GCM contexts of stored secrets ("projects:<id>:...") are
-- strings, not table names: they stay, so every stored secret still decrypts.
ALTER TABLE projects RENAME TO registrations;
ALTER TABLE tokens RENAME COLUMN project_id TO registration_id;
