import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifySignature } from "../../src/ingress/signature";
import { importSigningKey, signingKeyBytes } from "../../src/lib/standard-webhooks";

// Checked against the Standard Webhooks reference implementation, which signs here.
const secret = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i)))}`;
const body = '{"object_kind":"push","ref":"refs/heads/main"}';
const bytes = new TextEncoder().encode(body);

async function key() {
  const raw = signingKeyBytes(secret);
  if (!raw) {
    throw new Error("bad test secret");
  }
  return importSigningKey(raw);
}

describe("verifySignature", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  const seconds = Math.floor(now.getTime() / 1000);
  const signature = new Webhook(secret).sign("msg_1", now, body);
  const headers = { id: "msg_1", timestamp: String(seconds), signature };

  it("accepts what the reference implementation signs", async () => {
    expect(await verifySignature(await key(), headers, bytes, seconds)).toBe("ok");
  });

  it("accepts a timestamp five minutes off and refuses one further", async () => {
    expect(await verifySignature(await key(), headers, bytes, seconds + 300)).toBe("ok");
    expect(await verifySignature(await key(), headers, bytes, seconds + 301)).toBe("stale");
    expect(await verifySignature(await key(), headers, bytes, seconds - 301)).toBe("stale");
  });

  it("refuses another id, another body, a v1a entry and missing headers", async () => {
    expect(await verifySignature(await key(), { ...headers, id: "msg_2" }, bytes, seconds)).toBe(
      "invalid",
    );
    expect(
      await verifySignature(await key(), headers, new TextEncoder().encode(`${body} `), seconds),
    ).toBe("invalid");
    expect(
      await verifySignature(
        await key(),
        { ...headers, signature: signature.replace("v1,", "v1a,") },
        bytes,
        seconds,
      ),
    ).toBe("invalid");
    expect(
      await verifySignature(await key(), { ...headers, signature: undefined }, bytes, seconds),
    ).toBe("missing");
    expect(
      await verifySignature(await key(), { ...headers, timestamp: "soon" }, bytes, seconds),
    ).toBe("invalid");
  });

  it("reads whsec_ secrets and refuses other shapes", () => {
    expect(signingKeyBytes(secret)?.byteLength).toBe(32);
    expect(signingKeyBytes("not-whsec")).toBeNull();
    expect(signingKeyBytes("whsec_!!!")).toBeNull();
    expect(signingKeyBytes(`whsec_${btoa("short")}`)).toBeNull();
  });
});
