/**
 * The events queue consumer. Each message is validated against the queue schema (a
 * malformed one is logged and acked: retrying cannot fix it), its body is checked to be
 * the bytes ingress accepted, and token use is recorded here rather than on the hot path.
 *
 * Forwarding to packit-service is the delivery issue's work; until it lands, valid
 * messages are held in the queue (retried with the longest delay) so nothing is lost.
 */
import { queueMessage, type WebhookMessage } from "../events/queue-message";
import { sha256Hex } from "../lib/crypto";
import { utf8 } from "../lib/encoding";
import { log } from "../lib/logger";
import { getBody } from "../storage/bodies";
import { ProjectsRepo } from "../storage/projects-repo";

const HOLD_SECONDS = 12 * 3600;

/** The exact bytes GitLab sent, from the message or R2; null when they are gone or altered. */
export async function loadBody(
  message: WebhookMessage,
  bodies: Pick<R2Bucket, "get">,
): Promise<Uint8Array | null> {
  const bytes =
    message.body.storage === "inline"
      ? utf8(message.body.text)
      : await getBody(bodies, message.body.key);
  if (!bytes || (await sha256Hex(new Uint8Array(bytes))) !== message.body.sha256) {
    return null;
  }
  return bytes;
}

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const tokenUses = new Map<string, number>();
  const valid: { raw: Message<unknown>; message: WebhookMessage }[] = [];
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    if (!parsed.success) {
      log("error", "malformed queue message acked", { queue_message_id: raw.id });
      raw.ack();
      continue;
    }
    const message = parsed.data;
    valid.push({ raw, message });
    if (message.registration.kind !== "legacy_jwt") {
      const seen = tokenUses.get(message.registration.token_id) ?? 0;
      tokenUses.set(message.registration.token_id, Math.max(seen, message.received_at));
    }
  }
  await new ProjectsRepo(env.DB).touchTokens(tokenUses);
  for (const { raw, message } of valid) {
    const body = await loadBody(message, env.BODIES);
    log(body ? "info" : "error", body ? "event held for delivery" : "event body missing", {
      delivery_id: message.delivery_id,
      kind: message.kind,
      attempts: raw.attempts,
    });
    raw.retry({ delaySeconds: HOLD_SECONDS });
  }
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, _env: Env): Promise<void> {
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    log("error", "event dead-lettered", {
      delivery_id: parsed.success ? parsed.data.delivery_id : null,
      queue_message_id: raw.id,
    });
    raw.ack();
  }
}
