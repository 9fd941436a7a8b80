/** What becomes of one queue message: acked, or retried after a delay. One shape for all. */
export type QueueDecision = { action: "ack" } | { action: "retry"; delaySeconds: number };

export const ACK: QueueDecision = { action: "ack" };
