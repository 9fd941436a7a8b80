/** gzip through the runtime's native CompressionStream, for bodies that travel compressed. */

async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const compressed = await collect(
    new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip")),
    Number.POSITIVE_INFINITY,
  );
  return compressed ?? new Uint8Array();
}

/**
 * The bytes `compressed` holds, or null when it is not gzip or holds more than `limit`
 * bytes (never inflated past the size the message says).
 */
export async function gunzip(
  compressed: Uint8Array<ArrayBuffer>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    return await collect(
      new Blob([compressed]).stream().pipeThrough(new DecompressionStream("gzip")),
      limit,
    );
  } catch {
    return null;
  }
}
