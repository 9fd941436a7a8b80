/**
 * Query-plan rules shared by the plan tests. A statement may sort what a LIMITed CTE named
 * `sample` took from a growing table (at most its LIMIT rows, as ingress's percentiles do),
 * never the table's matching rows themselves.
 */
const BOUNDED_SAMPLE = /^\s*WITH sample AS MATERIALIZED \([^()]*\bLIMIT \d+\)/i;

export function sortsOnlyABoundedSample(sql: string): boolean {
  return BOUNDED_SAMPLE.test(sql);
}
