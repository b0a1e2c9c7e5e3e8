/**
 * Named prepared statements for what the daemon sends with every batch. PostgreSQL parses and
 * plans an unnamed statement on every call; a named one is parsed once per connection, and its
 * plan is kept once PostgreSQL finds that a generic plan costs no more than custom ones. The
 * name is derived from the text, so a statement has one name wherever it is built, and two
 * texts never share one (node-postgres refuses a name reused for another text).
 */
import { createHash } from "node:crypto";
import type { QueryConfig } from "pg";

const names = new Map<string, string>();

/** `{ name, text, values }` for `client.query`. */
export function prepared(text: string, values: readonly unknown[]): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `arango_pg_sync_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
    names.set(text, name);
  }
  return { name, text, values: [...values] };
}
