/**
 * PostgreSQL array literals for `unnest($n::text[])`, built here rather than by node-postgres:
 * the values are already text (the mapping produced them), so one pass of escaping is all that is
 * needed (reference/pg-ceiling.md: cheap array encoding matters on a 2-core machine).
 */
const NEEDS_QUOTE_ESCAPE = /["\\]/g;

/** `{"a","b",NULL}`: every element quoted, so commas, braces and spaces need no special care. */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ",";
    const value = values[i];
    literal +=
      value === null || value === undefined
        ? "NULL"
        : `"${value.replace(NEEDS_QUOTE_ESCAPE, "\\$&")}"`;
  }
  return `${literal}}`;
}
