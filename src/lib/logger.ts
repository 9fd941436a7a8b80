/**
 * Structured JSON logs, one object per line. Secrets never reach a line: fields whose
 * name says secret are dropped, and string values that look like a credential (our
 * tokens, JWTs, whsec_ keys, bearer headers) are masked wherever they appear.
 */

type Level = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const SECRET_FIELD = /token|secret|password|authorization|signature|cookie|api[-_]?key|private/i;
const SECRET_VALUE = [
  /pgr_[A-Za-z0-9_-]{20,}/g, // relay webhook tokens
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, // JWTs
  /whsec_[A-Za-z0-9+/=_-]+/g, // Standard Webhooks secrets
  /(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi,
  /gl(pat|rt|dt|oas|ptt|ft|soat|agent|imt|wt)-[A-Za-z0-9_-]{8,}/g, // GitLab tokens
  /(?<=\/\/)[^/\s:@]+:[^/\s@]+(?=@)/g, // credentials in a URL
];

/**
 * Whatever any pattern above needs to match: most logged strings (ids, paths, kinds) hold
 * none of it and skip the replacements (one scan instead of six: the log line is on every
 * request).
 */
const MIGHT_HOLD_SECRET = /pgr_|eyJ|whsec_|bearer|basic|gl[a-z]{2,5}-|@/i;

/** Masks credential-looking substrings; also for text stored where ops read it (last_error). */
export function maskString(value: string): string {
  if (!MIGHT_HOLD_SECRET.test(value)) {
    return value;
  }
  let masked = value;
  for (const pattern of SECRET_VALUE) {
    masked = masked.replace(pattern, "[REDACTED]");
  }
  return masked;
}

export function redact(value: unknown, depth = 0, maxDepth = 4): unknown {
  if (typeof value === "string") {
    return maskString(value);
  }
  if (depth > maxDepth || value === null || typeof value !== "object") {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => redact(item, depth + 1, maxDepth));
  }
  const out: LogFields = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_FIELD.test(key) ? "[REDACTED]" : redact(item, depth + 1, maxDepth);
  }
  return out;
}

export function log(level: Level, message: string, fields: LogFields = {}): void {
  const line = JSON.stringify({
    level,
    message: maskString(message),
    time: new Date().toISOString(),
    ...(redact(fields) as LogFields),
  });
  if (level === "error") {
    console.error(line);
  } else if (level === "warn") {
    console.warn(line);
  } else {
    console.log(line);
  }
}
