/**
 * Lenient readers for GitLab payloads: a missing or wrongly typed field reads as null (or
 * an empty object), so an older or odd payload never fails normalizing as a whole.
 */
import { z } from "zod";

// Lenient readers: a wrong type reads as null instead of failing the whole payload.
export const str = z
  .string()
  .nullish()
  .catch(null)
  .transform((v) => v ?? null);
export const int = z
  .number()
  .int()
  .nullish()
  .catch(null)
  .transform((v) => v ?? null);
const bool = z
  .boolean()
  .nullish()
  .catch(null)
  .transform((v) => v ?? null);
export const record = z
  .record(z.string(), z.unknown())
  .nullish()
  .catch(null)
  .transform((v) => v ?? {});

export function read<T>(schema: z.ZodType<T>, value: unknown): T {
  return schema.parse(value);
}
export function at(value: unknown, key: string): unknown {
  const obj = read(record, value);
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
export const s = (value: unknown, key: string) => read(str, at(value, key));
export const n = (value: unknown, key: string) => read(int, at(value, key));
export const b = (value: unknown, key: string) => read(bool, at(value, key));
