/**
 * One HTTP attempt at a destination, classified: 2xx delivered; 408, 425, 429, 5xx, network
 * errors and timeouts transient; any other status (3xx included: redirects are not
 * followed) permanent.
 */
import { parseRetryAfter } from "../lib/backoff";
import { truncate } from "../lib/text";

/**
 * How long one forward may take. A queue consumer may run 15 minutes, so a slow destination
 * is waited for: giving up early and retrying while the first request is still being
 * handled is how a slow packit-service got each event twice.
 */
export const FORWARD_TIMEOUT_MS = 120_000;

export type AttemptOutcome = "delivered" | "transient" | "permanent";

export type AttemptResult = {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  retryAfterSeconds: number | null;
  durationMs: number;
};

export function classifyStatus(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) {
    return "delivered";
  }
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    return "transient";
  }
  return "permanent";
}

/**
 * What a permanent answer says about the relay's own configuration: a redirect (plain http
 * to https, or another host) or a 404 from packit-service's own route means the setting
 * names the wrong URL, not that the event was bad. Null when the answer says no such thing.
 */
export function misconfiguration(
  setting: "PACKIT_SERVICE_URL" | "EVENTS_URL",
  status: number,
  location: string | null,
): string | null {
  if (status >= 300 && status < 400) {
    return `configuration error: the destination redirected (${status}) to ${location ?? "another URL"}; ${setting} must be the final https URL (packit-service's public server name)`;
  }
  if (status === 404 && setting === "PACKIT_SERVICE_URL") {
    return `configuration error: packit-service answered 404; ${setting} must be its public https base URL, whose host is its server name (no /api/webhooks/gitlab)`;
  }
  return null;
}

export async function attempt(
  request: Request,
  fetcher: typeof fetch = fetch,
  now: () => number = Date.now,
  setting: "PACKIT_SERVICE_URL" | "EVENTS_URL" = "PACKIT_SERVICE_URL",
  timeoutMs: number = FORWARD_TIMEOUT_MS,
): Promise<AttemptResult> {
  const started = now();
  try {
    const response = await fetcher(request, {
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const outcome = classifyStatus(response.status);
    // A refusal's body goes to the log; a success's is only let go of (the connection is
    // freed either way, without reading what nobody looks at).
    const text =
      outcome === "delivered"
        ? await response.body?.cancel().then(
            () => "",
            () => "",
          )
        : await response.text().catch(() => "");
    const hint = misconfiguration(setting, response.status, response.headers.get("location"));
    return {
      outcome,
      statusCode: response.status,
      error:
        outcome === "delivered"
          ? null
          : truncate(
              hint ? `${hint}: ${text || response.statusText}` : text || response.statusText,
            ),
      retryAfterSeconds: parseRetryAfter(response.headers.get("retry-after"), now()),
      durationMs: now() - started,
    };
  } catch (err) {
    const timedOut =
      err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      outcome: "transient",
      statusCode: null,
      error: timedOut ? `timeout after ${timeoutMs} ms` : truncate(String(err)),
      // A request given up on may still be in the destination's hands: wait at least as
      // long again before the next attempt.
      retryAfterSeconds: timedOut ? timeoutMs / 1000 : null,
      durationMs: now() - started,
    };
  }
}
