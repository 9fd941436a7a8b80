/** Reads a request body into memory, refusing (413) past the limit without buffering more. */
import { AppError } from "../errors";

/** GitLab's own cap on webhook payloads. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

/** Bodies up to this size are read whole by the runtime; larger ones chunk by chunk below. */
const SMALL_BODY_BYTES = 1024 * 1024;

export function tooLarge(): AppError {
  return new AppError("payload_too_large", `body exceeds ${MAX_BODY_BYTES} bytes`);
}

export function declaredLengthExceeds(header: string | undefined, limit: number): boolean {
  if (header === undefined || !/^\d+$/.test(header.trim())) {
    return false;
  }
  return Number(header) > limit;
}

/**
 * Reads the body into one buffer sized from Content-Length (GitLab always sends it), so a
 * 25 MiB body is held once, not as chunks plus a copy; without it the buffer doubles as
 * needed. Never reads past `limit`.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) {
    return new Uint8Array(0);
  }
  const declared = request.headers.get("content-length");
  const expected = declared && /^\d+$/.test(declared) ? Number(declared) : null;
  if (expected !== null && expected <= SMALL_BODY_BYTES && expected <= limit) {
    // The runtime holds a body to its Content-Length; a small one is read in one native call.
    return new Uint8Array(await request.arrayBuffer());
  }
  let buffer = new Uint8Array(Math.min(expected ?? 64 * 1024, limit));
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    if (total + value.byteLength > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    if (total + value.byteLength > buffer.byteLength) {
      const grown = new Uint8Array(
        Math.min(limit, Math.max(total + value.byteLength, buffer.byteLength * 2)),
      );
      grown.set(buffer.subarray(0, total));
      buffer = grown;
    }
    buffer.set(value, total);
    total += value.byteLength;
  }
  return total === buffer.byteLength ? buffer : buffer.slice(0, total);
}
