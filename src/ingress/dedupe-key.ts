/**
 * The key that makes redeliveries of one event recognisable: GitLab 19's `webhook-id`,
 * else `Idempotency-Key` (GitLab 17.4+, stable across GitLab's retries and manual
 * resends), else a hash of instance, project, event and body for older GitLab.
 */
import { sha256Hex } from "../lib/crypto";

export type DedupeKey = {
  key: string;
  source: "webhook-id" | "idempotency-key" | "content-hash";
};

/** A sender-supplied key is used only when it is short printable ASCII. */
function usable(value: string | undefined): value is string {
  return value !== undefined && /^[\x21-\x7e]{8,200}$/.test(value);
}

export async function dedupeKey(input: {
  webhookId: string | undefined;
  idempotencyKey: string | undefined;
  instanceUrl: string | null;
  projectId: number | null;
  projectPath: string | null;
  event: string;
  bodySha256: string;
}): Promise<DedupeKey> {
  if (usable(input.webhookId)) {
    return { key: input.webhookId, source: "webhook-id" };
  }
  if (usable(input.idempotencyKey)) {
    return { key: input.idempotencyKey, source: "idempotency-key" };
  }
  const material = [
    input.instanceUrl ?? "",
    input.projectId ?? input.projectPath ?? "",
    input.event,
    input.bodySha256,
  ].join("\n");
  return { key: `sha256:${await sha256Hex(material)}`, source: "content-hash" };
}
