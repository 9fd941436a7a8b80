/** Unix milliseconds (or null) as ISO 8601, the form every API response uses. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
