/** Parsed JSON narrowed to an object by validation, never by a cast. */
import { z } from "zod";

const jsonObject = z.record(z.string(), z.unknown());

/** The value as a plain JSON object, or null for arrays, primitives and null. */
export function asJsonObject(value: unknown): Record<string, unknown> | null {
  if (Array.isArray(value)) {
    return null;
  }
  const parsed = jsonObject.safeParse(value);
  return parsed.success ? parsed.data : null;
}
