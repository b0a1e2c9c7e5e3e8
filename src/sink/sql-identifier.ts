/** Quotes an identifier for SQL text; names come from the validated mapping, never from data. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
