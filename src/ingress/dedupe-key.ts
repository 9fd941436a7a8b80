/**
 * The key that makes redeliveries of one event recognisable: GitLab 19's `webhook-id`
 * (only when its signature was verified), else `Idempotency-Key` (GitLab 17.4+, stable
 * across GitLab's retries and manual resends), else a hash of instance, project, event and
 * body for older GitLab.
 *
 * A sender chooses its keys, so a key only ever speaks for its sender: it is hashed with
 * the sender's scope (its registration; for legacy tokens, instance and namespace), and that
 * scoped key is what the delivery log claims and what destinations receive as
 * Idempotency-Key / CloudEvent id. Project A sending B's key claims nothing of B's.
 */
import type { WebhookMessage } from "../domain/queue-message";
import { eventContentHash } from "../gitlab/content-hash";
import type { Identity } from "../gitlab/project-identity";
import { sha256Hex } from "../lib/crypto";

export type DedupeKey = {
  key: string;
  source: "webhook-id" | "idempotency-key" | "content-hash";
};

/** A sender-supplied key is used only when it is short printable ASCII. */
function usable(value: string | undefined): value is string {
  return value !== undefined && /^[\x21-\x7e]{8,200}$/.test(value);
}

async function scoped(prefix: string, scope: string, key: string): Promise<string> {
  return `${prefix}_${(await sha256Hex(`${scope}\n${key}`)).slice(0, 48)}`;
}

export function dedupeScope(
  registration: WebhookMessage["registration"],
  identity: Pick<Identity, "instanceUrl">,
): string {
  return registration.kind === "legacy_jwt"
    ? `legacy|${identity.instanceUrl}|${registration.namespace}|${registration.repo_name ?? ""}`
    : `registration|${registration.id}`;
}

export async function dedupeKey(input: {
  scope: string;
  webhookId: string | undefined;
  idempotencyKey: string | undefined;
  instanceUrl: string | null;
  projectId: number | null;
  projectPath: string | null;
  event: string;
  bodySha256: string;
}): Promise<DedupeKey> {
  if (usable(input.webhookId)) {
    return { key: await scoped("wh", input.scope, input.webhookId), source: "webhook-id" };
  }
  if (usable(input.idempotencyKey)) {
    return {
      key: await scoped("ik", input.scope, input.idempotencyKey),
      source: "idempotency-key",
    };
  }
  const hash = await eventContentHash({
    instanceUrl: input.instanceUrl,
    projectPath: input.projectPath,
    projectId: input.projectId,
    kind: input.event,
    bodySha256: input.bodySha256,
  });
  return { key: `sha256:${hash}`, source: "content-hash" };
}
