/**
 * One log line per admin or connect action that creates, changes, reveals or removes a credential, so
 * ops can answer "who changed what, when" from the Workers logs. Never carries a secret:
 * only ids, URLs and what changed.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { log } from "./lib/logger";

export type AuditAction =
  | "instance.create"
  | "instance.update"
  | "instance.delete"
  | "project.create"
  | "project.delete"
  | "project.token.rotate"
  | "project.token.revoke"
  | "project.gitlab_token.set"
  | "project.signing_secret.set"
  | "project.path.renamed"
  | "secrets.reencrypt"
  | "feedback.replay"
  | "connect"
  | "disconnect"
  | "hook.test";

export function audit(
  c: Context<AppEnv>,
  action: AuditAction,
  fields: Record<string, string | number | boolean | null>,
): void {
  log("info", "audit", {
    audit: action,
    request_id: c.get("requestId"),
    client_ip: c.req.header("cf-connecting-ip") ?? null,
    ...fields,
  });
}
