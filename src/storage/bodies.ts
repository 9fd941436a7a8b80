/** Webhook bodies too large for a queue message, kept in R2 under a per-day prefix. */

export function bodyKey(deliveryId: string, receivedAt: number): string {
  return `bodies/${new Date(receivedAt).toISOString().slice(0, 10)}/${deliveryId}.json`;
}

export async function putBody(
  bucket: Pick<R2Bucket, "put">,
  key: string,
  bytes: Uint8Array<ArrayBuffer>,
  sha256: string,
): Promise<void> {
  // R2 checks the digest on write, so a corrupted upload fails instead of being stored.
  await bucket.put(key, bytes, {
    sha256,
    httpMetadata: { contentType: "application/json" },
  });
}

export async function getBody(
  bucket: Pick<R2Bucket, "get">,
  key: string,
): Promise<Uint8Array | null> {
  const object = await bucket.get(key);
  return object ? new Uint8Array(await object.arrayBuffer()) : null;
}
