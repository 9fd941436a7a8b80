/**
 * GitLab instance URLs in one canonical form: lower-case scheme and host, default port
 * dropped, optional path (relative URL root) kept, no trailing slash, no credentials,
 * query or fragment. X-Gitlab-Instance values are normalised the same way before comparing.
 */

export type InstanceUrlResult = { ok: true; url: string } | { ok: false; reason: string };

export function normalizeInstanceUrl(input: string, allowHttp: boolean): InstanceUrlResult {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { ok: false, reason: "not an absolute URL" };
  }
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) {
    return {
      ok: false,
      reason: allowHttp ? "scheme must be http or https" : "scheme must be https",
    };
  }
  if (url.username || url.password) {
    return { ok: false, reason: "credentials are not allowed in the URL" };
  }
  if (url.search || url.hash) {
    return { ok: false, reason: "query and fragment are not allowed" };
  }
  const path = url.pathname.replace(/\/+$/, "");
  return { ok: true, url: `${url.protocol}//${url.host}${path}` };
}

/** Lenient form for comparing a header value; null when it is not a URL at all. */
export function canonicalInstanceUrl(input: string): string | null {
  const result = normalizeInstanceUrl(input, true);
  return result.ok ? result.url : null;
}
