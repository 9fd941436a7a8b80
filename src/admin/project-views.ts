/** How a registration is shown: never a secret; and what to enter in GitLab for it. */
import { isoOrNull } from "../lib/time";
import type { ConnectionHookRow, ConnectionRow } from "../storage/connections-repo";
import type { RegistrationRow } from "../storage/projects-repo";
import { describeToken } from "./webhook-tokens";

const TRIGGERS = {
  push_events: "Push events",
  tag_push_events: "Tag push events",
  note_events: "Comments",
  issues_events: "Issues events",
  merge_requests_events: "Merge request events",
  pipeline_events: "Pipeline events",
  releases_events: "Releases events",
} as const;

export function describeProject(
  row: RegistrationRow,
  tokens: Parameters<typeof describeToken>[0][],
) {
  const now = Date.now();
  return {
    id: row.id,
    kind: row.kind,
    instance_url: row.instance_url,
    project_id: row.gitlab_project_id,
    path: row.path,
    signed: row.signing_secret_enc !== null,
    created_at: new Date(row.created_at).toISOString(),
    tokens: tokens.map((t) => describeToken(t, now)),
  };
}

export function gitlabSettings(
  row: RegistrationRow,
  webhookUrl: string,
  token: string,
  signed: boolean,
) {
  const where =
    row.kind === "project"
      ? `${row.instance_url}/${row.path}/-/hooks`
      : `${row.instance_url}/groups/${row.path}/-/hooks`;
  return {
    where,
    url: webhookUrl,
    secret_token: token,
    signing_token: signed ? "the signing token you registered (whsec_...)" : null,
    trigger: Object.values(TRIGGERS),
    api_fields: {
      url: webhookUrl,
      token,
      enable_ssl_verification: true,
      ...Object.fromEntries(Object.keys(TRIGGERS).map((name) => [name, true])),
      confidential_issues_events: false,
      confidential_note_events: false,
    },
    enable_ssl_verification: true,
  };
}

/** How a maintainer connected a registration, and which projects still need attention. */
export function describeConnection(
  row: ConnectionRow,
  hooks: readonly (ConnectionHookRow & { alert_status?: string | null })[],
) {
  return {
    mode: row.mode,
    hook_id: row.hook_id,
    connected_by: row.connected_by,
    connected_at: new Date(row.connected_at).toISOString(),
    verified_at: isoOrNull(row.verified_at),
    test_result: row.test_result,
    bot_access: row.bot_access,
    synced_at: isoOrNull(row.synced_at),
    hook_health: {
      alert_status: row.hook_alert_status,
      disabled_until: isoOrNull(row.hook_disabled_until),
      checked_at: isoOrNull(row.hook_checked_at),
    },
    project_hooks: hooks.map((h) => ({
      project_id: h.gitlab_project_id,
      path: h.path,
      hook_id: h.hook_id,
      problem: h.problem,
      alert_status: h.alert_status ?? null,
    })),
  };
}
