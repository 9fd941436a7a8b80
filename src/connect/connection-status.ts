/**
 * What a maintainer sees after connecting: whether an event has come through the new hook.
 * The status ticket names one registration (sealed, an hour long), so the page and the CLI
 * can poll without any credential, and a ticket reveals nothing beyond that connection.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { audit } from "../audit";
import { readConfig } from "../config";
import { AppError } from "../errors";
import { isoOrNull } from "../lib/time";
import type { ConnectReport } from "./connect-flow";
import type { DisconnectReport } from "./disconnect-flow";
import { seal, TICKET_PURPOSE, ticketClaims, unseal } from "./sealed-state";

const TICKET_TTL_SECONDS = 3600;

export function statusTicket(env: Env, registrationId: string): Promise<string> {
  return seal(
    readConfig(env).ENCRYPTION_KEY,
    TICKET_PURPOSE,
    { rid: registrationId },
    TICKET_TTL_SECONDS,
  );
}

export async function connectionStatus(c: Context<AppEnv>, ticket: string) {
  const claims = await unseal(
    readConfig(c.env).ENCRYPTION_KEY,
    TICKET_PURPOSE,
    ticket,
    ticketClaims,
  );
  const [registration, connection] = claims
    ? await Promise.all([
        c.var.repos.projects.get(claims.rid),
        c.var.repos.connections.get(claims.rid),
      ])
    : [null, null];
  if (!registration || !connection) {
    throw new AppError("not_found", "no such connection: the link expired, or it was disconnected");
  }
  return {
    path: registration.path,
    instance_url: registration.instance_url,
    mode: connection.mode,
    connected_by: connection.connected_by,
    connected_at: new Date(connection.connected_at).toISOString(),
    verified_at: isoOrNull(connection.verified_at),
    test_result: connection.test_result,
    bot_access: connection.bot_access,
  };
}

/** The audit line of a connect (page or API): who proved what, and what was installed. */
export function auditConnect(c: Context<AppEnv>, report: ConnectReport): void {
  audit(c, "connect", {
    project_registration_id: report.registration_id,
    instance_url: report.instance_url,
    path: report.path,
    mode: report.mode,
    gitlab_user: report.connected_by,
    bot_access: report.bot.state,
  });
}

export function auditDisconnect(c: Context<AppEnv>, report: DisconnectReport): void {
  audit(c, "disconnect", {
    instance_url: report.instance_url,
    path: report.path,
    gitlab_user: report.disconnected_by,
    hooks_removed: report.hooks_removed,
  });
}
