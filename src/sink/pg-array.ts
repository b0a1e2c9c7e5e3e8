/**
 * How column values travel to PostgreSQL in bulk statements. The mapping already produced text,
 * so each column is sent as ONE parameter: a JSON array of strings (or nulls), expanded in SQL
 * with `json_array_elements_text`. V8 escapes JSON in native code, an order of magnitude faster
 * than escaping an array literal in JavaScript (reference/pg-ceiling.md: cheap encoding matters
 * on a 2-core machine where the client shares the CPUs with the server).
 */

/** One parameter holding a column's values. */
export function jsonColumn(values: readonly (string | null)[]): string {
  return JSON.stringify(values);
}

/**
 * `ROWS FROM (json_array_elements_text($first::json), …) AS alias(c0, c1, …)`: the columns
 * zipped row by row, in order, like a multi-argument `unnest`.
 */
export function rowsFromJsonColumns(
  count: number,
  firstParameter: number,
  alias: string,
  names?: readonly string[],
): string {
  const calls = Array.from(
    { length: count },
    (_, i) => `json_array_elements_text($${firstParameter + i}::json)`,
  );
  const columns = names ?? Array.from({ length: count }, (_, i) => `c${i}`);
  return `ROWS FROM (${calls.join(", ")}) AS ${alias}(${columns.join(", ")})`;
}

const NEEDS_QUOTE_ESCAPE = /["\\]/g;

/** `{"a","b",NULL}` for small arrays (keys, ticks) where a JSON round trip buys nothing. */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ",";
    const value = values[i];
    if (value === null || value === undefined) {
      literal += "NULL";
    } else if (value.indexOf('"') < 0 && value.indexOf("\\") < 0) {
      literal += `"${value}"`;
    } else {
      literal += `"${value.replace(NEEDS_QUOTE_ESCAPE, "\\$&")}"`;
    }
  }
  return `${literal}}`;
}
