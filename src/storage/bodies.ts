/** Webhook bodies in R2, under the keys `bodyKey` (src/domain/stored-message.ts) gives. */

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
