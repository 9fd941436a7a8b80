/**
 * One GitLab event, whichever hook reported it: a project hook and a group hook firing for
 * the same event carry the same bytes for the same project. Used for the dedupe key of
 * GitLab versions without Idempotency-Key and for the delivery log's content claim; one
 * function, so the two can never drift apart.
 */
import { sha256Hex } from "../lib/crypto";

export function eventContentHash(event: {
  instanceUrl: string | null;
  projectPath: string | null;
  projectId: number | null;
  kind: string;
  bodySha256: string;
}): Promise<string> {
  return sha256Hex(
    [
      event.instanceUrl ?? "",
      event.projectPath?.toLowerCase() ?? event.projectId ?? "",
      event.kind,
      event.bodySha256,
    ].join("\n"),
  );
}
