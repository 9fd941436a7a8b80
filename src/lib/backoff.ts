/**
 * Retry timing for deliveries: exponential backoff with full jitter, at least what the
 * destination asks for in Retry-After, within what Queues accepts as a delay. Pure.
 *
 * Schedule (the defaults; RETRY_BASE_SECONDS and RETRY_CAP_SECONDS change them): attempt n
 * waits random(0, min(1 h, 30 s × 2^(n-1))), so the ceiling grows 30 s, 1 min, 2 min, ... and
 * stays at 1 h from the 8th retry. A delivery keeps retrying until 24 h (RETRY_WINDOW_SECONDS)
 * have passed since its first attempt, then it is dead.
 * The queue's max_retries (100) is a safety net: 100 jittered retries average ~45 h.
 */

export const BASE_DELAY_SECONDS = 30;
export const CAP_DELAY_SECONDS = 3600;
/** Queues documents 24 h as the longest delay (12 h on older pages): stay at 12 h. */
export const MAX_DELAY_SECONDS = 12 * 3600;
export const RETRY_WINDOW_MS = 24 * 3600 * 1000;

export type BackoffPolicy = { baseSeconds: number; capSeconds: number };
export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseSeconds: BASE_DELAY_SECONDS,
  capSeconds: CAP_DELAY_SECONDS,
};

export function backoffSeconds(
  attempt: number,
  random: () => number,
  retryAfterSeconds: number | null = null,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 20);
  const ceiling = Math.min(policy.capSeconds, policy.baseSeconds * 2 ** exponent);
  const jittered = Math.floor(random() * ceiling);
  return Math.min(Math.max(jittered, retryAfterSeconds ?? 0), MAX_DELAY_SECONDS);
}

/** Retry-After as seconds from now: delta-seconds or an HTTP date; null when absent or odd. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) {
    return null;
  }
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed);
  }
  // An HTTP-date starts with a day name ("Wed, 25 Nov 2026 ..."); anything else Date.parse
  // might still read ("-5" is a year) is not one.
  const at = /^[A-Za-z]{3},? /.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(at)) {
    return null;
  }
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}
