/** Reads a request body into memory, refusing (413) past the limit without buffering more. */
import { AppError } from "../errors";

/** GitLab's own cap on webhook payloads. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

export function tooLarge(): AppError {
  return new AppError("payload_too_large", `body exceeds ${MAX_BODY_BYTES} bytes`);
}

export function declaredLengthExceeds(header: string | undefined, limit: number): boolean {
  if (header === undefined || !/^\d+$/.test(header.trim())) {
    return false;
  }
  return Number(header) > limit;
}

export async function readBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) {
    return new Uint8Array(0);
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
