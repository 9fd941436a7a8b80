/**
 * What a maintainer sees after connecting: whether an event has come through the new hook.
 * The status ticket names one registration (sealed, an hour long), so the page and the CLI
 * can poll without any credential, and a ticket reveals nothing beyond that connection.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { AppError } from "../errors";
import { isoOrNull } from "../lib/time";
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
