/**
 * GitLab URLs and paths, read strictly. Pure: no bindings.
 *
 * Every URL is split by hand over its raw text, never through `new URL()`: the WHATWG
 * parser resolves `..`, decodes nothing but rewrites `\` to `/`, so a checked URL could name
 * another project than the text packit-service later parses. A path is accepted only when
 * every segment is what GitLab allows in a path (letters, digits, `_`, `-`, `.`, not
 * starting with `.` or `-`), so `.`/`..`/empty segments, `%`-escapes and backslashes never
 * pass.
 */
import { canonicalInstanceUrl } from "../lib/instance-url";

/** GitLab nests groups at most 20 levels deep; a segment is at most 255 characters. */
const MAX_SEGMENTS = 21;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

export function isGitlabPath(path: string): boolean {
  const segments = path.split("/");
  return (
    segments.length >= 1 &&
    segments.length <= MAX_SEGMENTS &&
    // GitLab refuses paths ending in .git or .atom; a URL's .git is its clone suffix.
    segments.every((segment) => SEGMENT.test(segment) && !/\.(git|atom)$/i.test(segment))
  );
}

/** GitLab compares project paths case-insensitively (`Group/Project` is `group/project`). */
export function samePath(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** `path` is `namespace` itself or under it (subgroups included), on segment boundaries. */
export function withinNamespace(path: string, namespace: string): boolean {
  return path.toLowerCase().startsWith(`${namespace.toLowerCase().replace(/^\/+|\/+$/g, "")}/`);
}

export type InstanceRoot = { origin: string; root: string };

/** `https://host[:port][/root]` in canonical form, split into origin and relative root. */
export function instanceRoot(instanceUrl: string): InstanceRoot | null {
  const canonical = canonicalInstanceUrl(instanceUrl);
  const m = canonical ? /^([a-z][a-z0-9+.-]*:\/\/[^/]+)(\/.*)?$/.exec(canonical) : null;
  return m?.[1] ? { origin: m[1], root: m[2] ?? "" } : null;
}

const HTTP_URL = /^(https?):\/\/([A-Za-z0-9.-]+(?::\d{1,5})?)(\/[^?#]*)?$/i;

/**
 * The project path an http(s) URL names under `instance`, or null when it is on another
 * host or root, or its path is not a plain GitLab path. `.git` is dropped when `git` is set.
 */
export function projectPathOf(url: string, instance: InstanceRoot, git: boolean): string | null {
  const m = HTTP_URL.exec(url);
  if (!m?.[1] || !m[2]) {
    return null;
  }
  if (canonicalInstanceUrl(`${m[1]}://${m[2]}`) !== instance.origin) {
    return null;
  }
  let rest = m[3] ?? "";
  const root = instance.root;
  if (root) {
    if (rest.slice(0, root.length).toLowerCase() !== root.toLowerCase()) {
      return null;
    }
    rest = rest.slice(root.length);
  }
  if (!rest.startsWith("/")) {
    return null;
  }
  let path = rest.slice(1);
  if (path.endsWith("/")) {
    path = path.slice(0, -1);
  }
  if (git && path.endsWith(".git")) {
    path = path.slice(0, -4);
  }
  return isGitlabPath(path) ? path : null;
}

/** The origin (canonical scheme://host[:port]) of an http(s) URL, read strictly. */
export function originOf(url: string): string | null {
  const m = HTTP_URL.exec(url);
  return m?.[1] && m[2] ? canonicalInstanceUrl(`${m[1]}://${m[2]}`) : null;
}

/**
 * The path of a clone URL in any of the forms GitLab writes (`git@host:path.git`,
 * `ssh://git@host[:port]/path.git`, `ssh://git@host:path.git`, http(s)). The host is not
 * compared: GitLab's SSH host is configured apart from its web host and often differs, and
 * nothing downstream reads these fields to name a project; the path must still agree.
 */
export function clonePathOf(url: string, root: string): string | null {
  const ssh =
    /^(?:(?:ssh|git\+ssh):\/\/)?[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(?::\d{1,5}\/|:|\/)(.*)$/.exec(url);
  let rest = ssh ? ssh[1] : /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(\/.*)$/i.exec(url)?.[1];
  if (rest === undefined) {
    return null;
  }
  if (!ssh && root && rest.toLowerCase().startsWith(`${root.toLowerCase()}/`)) {
    rest = rest.slice(root.length);
  }
  rest = rest.replace(/^\//, "").replace(/\/$/, "");
  if (rest.endsWith(".git")) {
    rest = rest.slice(0, -4);
  }
  return isGitlabPath(rest) ? rest : null;
}

/**
 * Namespace and repository exactly as packit-service reads them: ogr's `parse_git_repo`
 * (ogr/parsing.py), including its quirks: credentials before `@` dropped, `host:user`
 * netlocs, and the Pagure fork rule (a first segment `fork`/`forks` with three or more
 * segments: the second is a user name, the namespace is what lies between). Case is kept.
 * Null where ogr returns None or yields no namespace.
 */
export function parseGitRepo(
  potentialUrl: string | null,
): { namespace: string; repo: string } | null {
  if (!potentialUrl) {
    return null;
  }
  let url = potentialUrl.replace(/\/+$/, "");
  if (url.includes("@")) {
    const split = url.split("@");
    if (split.length !== 2) {
      return null;
    }
    url = `https://${split[1]}`;
  }
  if (!/^(http:\/\/|https:\/\/|git:\/\/|git\+https:\/\/)/.test(url)) {
    url = `https://${url}`;
  }
  // Python's urlparse: scheme://netloc/path?query#fragment
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/.exec(url);
  if (!m) {
    return null;
  }
  const netloc = m[1] ?? "";
  let username: string | null = null;
  let isFork = false;
  if (netloc.includes(":")) {
    const parts = netloc.split(":");
    if (parts.length > 2) {
      return null;
    }
    const after = parts[1] ?? "";
    if (after === "forks") {
      isFork = true;
    } else if (after && !/^[0-9]+$/.test(after)) {
      username = after;
    }
  }
  let path = (m[2] ?? "").replace(/^\/+/, "");
  if (path.endsWith(".git")) {
    path = path.slice(0, -4);
  }
  const splits = path.split("/");
  if (splits.length === 1) {
    // ogr: namespace is the user name from the netloc, if any
    return username ? { namespace: username, repo: path } : null;
  }
  let parts: string[];
  if (isFork) {
    parts = splits.slice(1, -1);
  } else if ((splits[0] === "fork" || splits[0] === "forks") && splits.length >= 3) {
    parts = splits.slice(2, -1);
  } else if (username) {
    parts = [username, ...splits.slice(0, -1)];
  } else {
    parts = splits.slice(0, -1);
  }
  const repo = splits.at(-1) ?? "";
  return { namespace: parts.join("/"), repo };
}
