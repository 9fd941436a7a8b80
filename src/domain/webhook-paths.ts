/**
 * Where GitLab posts webhooks: the relay's own path, and packit-service's (so a deployment
 * can take over that route and existing hooks keep working). The first is what the relay
 * hands out and installs.
 */
export const WEBHOOK_PATHS = ["/webhooks/gitlab", "/api/webhooks/gitlab"] as const;

/** The webhook URL of the relay serving `requestUrl`. */
export function webhookUrlFor(requestUrl: string): string {
  return `${new URL(requestUrl).origin}${WEBHOOK_PATHS[0]}`;
}

/** Whether a hook URL GitLab holds points at this relay (either path, any query). */
export function isRelayHookUrl(hookUrl: string, requestUrl: string): boolean {
  try {
    const hook = new URL(hookUrl);
    return (
      hook.origin === new URL(requestUrl).origin &&
      (WEBHOOK_PATHS as readonly string[]).includes(hook.pathname.replace(/\/+$/, ""))
    );
  } catch {
    return false;
  }
}
