/** Text helpers with no dependencies. */

/** At most `limit` characters, with an ellipsis when cut (error texts kept for logs and D1). */
export function truncate(text: string, limit = 500): string {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
