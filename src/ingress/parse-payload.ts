/**
 * The body, checked and read as little as possible: validated whole (JSON, UTF-8, depth) by
 * a scanner that builds nothing, then only the members ingress reads are parsed.
 */
import { AppError } from "../errors";
import { parseMembers, scanJson } from "../lib/json-scan";

/** Deeper than any GitLab payload nests; refused before anything is built. */
const MAX_JSON_DEPTH = 64;

/** The top-level members ingress reads: classification and the identity rule. */
const INGRESS_KEYS = [
  "object_kind",
  "event_name",
  "event_type",
  "project",
  "project_id",
  "repository",
  "object_attributes",
  "merge_request",
] as const;

export function isJsonContentType(header: string | undefined): boolean {
  const mediaType = header?.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json" || (mediaType?.endsWith("+json") ?? false);
}

/**
 * Validates the whole body (JSON, UTF-8, depth) without building it, then parses only the
 * members ingress reads: a 25 MiB body is never held as text and objects as well as bytes.
 */
export function parsePayload(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength === 0) {
    throw new AppError("invalid_json", "body is empty");
  }
  const scan = scanJson(bytes, MAX_JSON_DEPTH);
  if (!scan.ok) {
    throw new AppError(
      "invalid_json",
      scan.reason === "invalid_utf8"
        ? "body is not valid UTF-8"
        : scan.reason === "too_deep"
          ? `body nests deeper than ${MAX_JSON_DEPTH} levels`
          : `body is not valid JSON (at byte ${scan.at})`,
    );
  }
  if (!scan.object) {
    throw new AppError("invalid_payload", "body must be a JSON object");
  }
  return parseMembers(bytes, scan.members, INGRESS_KEYS);
}
