/**
 * Reads what a consistency check needs from PostgreSQL, in one REPEATABLE READ transaction so
 * every part describes the same moment even while the daemon keeps applying: the mapped rows,
 * the checkpoint, parked rows, open dead letters, tombstones, and which referenced rows of
 * tables the daemon does not write (better-auth's "user", tasks) exist.
 *
 * Values come back as text in the mapping's encoding (timestamptz as UTC ISO text, jsonb as JSON
 * text, a translated foreign key as the parent's lookup value, e.g. the resume's legacy_id), so the
 * checker compares them with rows built from ArangoDB documents without knowing PostgreSQL.
 */
import type { ClientBase } from "pg";
import type { CompiledMapping, CompiledTable } from "../mapping/compile-mapping.js";
import { textArrayLiteral } from "./pg-array.js";
import { quoteIdentifier } from "./sql-identifier.js";
import { connectTarget } from "./target-connection.js";

export interface TargetParkedRow {
  readonly parentTable: string;
  readonly parentKey: string;
  readonly tick: bigint;
  /** `_rev` of the waiting image. */
  readonly rev: string | undefined;
}

export interface TargetDeadLetter {
  readonly reason: string;
  readonly tick: bigint | null;
  /** `_rev` of the document in the raw event, when the event carried the document. */
  readonly rev: string | undefined;
}

/** Which values of `table.column` to look for (values in the column's text form). */
export interface ParentLookup {
  readonly table: string;
  readonly column: string;
  readonly values: readonly string[];
}

export interface TargetMirror {
  readonly appliedTick: bigint | null;
  /** table → legacy_id → values in `CompiledTable.columns` order. */
  readonly rows: ReadonlyMap<string, ReadonlyMap<string, readonly (string | null)[]>>;
  /** table → legacy_id → the image waiting for its parent. */
  readonly parked: ReadonlyMap<string, ReadonlyMap<string, TargetParkedRow>>;
  /** table → legacy_id → open dead letters of that key. */
  readonly deadLetters: ReadonlyMap<string, ReadonlyMap<string, readonly TargetDeadLetter[]>>;
  /** Open dead letters per table (null: not tied to a table) and reason. */
  readonly deadLetterCounts: readonly {
    readonly table: string | null;
    readonly reason: string;
    readonly count: number;
  }[];
  /** table → keys removed in ArangoDB (for the tables asked for). */
  readonly tombstones: ReadonlyMap<string, ReadonlySet<string>>;
  /** `parentKey(table, column)` → the looked-up values that exist. */
  readonly parents: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface ReadTargetMirrorOptions {
  readonly url: string;
  readonly mapping: CompiledMapping;
  readonly sourceDatabase: string;
  readonly parentLookups: readonly ParentLookup[];
  /** Tables whose tombstones are needed (parents whose removal cascades). */
  readonly tombstoneTables: readonly string[];
}

/** The key of `TargetMirror.parents`. */
export function parentKey(table: string, column: string): string {
  return `${table}\u0000${column}`;
}

export async function readTargetMirror(options: ReadTargetMirrorOptions): Promise<TargetMirror> {
  const client = await connectTarget(options.url, {
    applicationName: "arango-pg-sync verify",
  });
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const checkpoint = await client.query<{ tick: string | null }>(
      "SELECT applied_tick::text AS tick FROM arango_sync.checkpoint WHERE source_database = $1",
      [options.sourceDatabase],
    );
    const tick = checkpoint.rows[0]?.tick;
    const rows = new Map<string, Map<string, (string | null)[]>>();
    for (const table of options.mapping.tables)
      rows.set(table.table, await readRows(client, table));
    const mirror: TargetMirror = {
      appliedTick: tick === undefined || tick === null ? null : BigInt(tick),
      rows,
      parked: await readParked(client),
      ...(await readDeadLetters(client)),
      tombstones: await readTombstones(client, options.tombstoneTables),
      parents: await readParents(client, options.parentLookups),
    };
    await client.query("COMMIT");
    return mirror;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Every row of a mapped table, each column as the mapping would have produced its text. A
 * translated foreign key (stored as the parent's id) is read back as the parent's lookup value.
 * Timestamps get all six fraction digits; the checker normalises the mapping's side the same way.
 */
async function readRows(
  client: ClientBase,
  table: CompiledTable,
): Promise<Map<string, (string | null)[]>> {
  const translated = new Map(
    table.references
      .filter((r) => r.lookupColumn !== r.valueColumn)
      .map((r) => [r.column, r] as const),
  );
  const select = table.columns.map((column) => {
    const name = quoteIdentifier(column.name);
    const reference = translated.get(column.name);
    if (reference !== undefined) {
      return `(SELECT p.${quoteIdentifier(reference.lookupColumn)}::text FROM ${quoteIdentifier(reference.table)} p
                WHERE p.${quoteIdentifier(reference.valueColumn)} = t.${name})`;
    }
    return column.type === "timestamptz"
      ? `to_char(t.${name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
      : `t.${name}::text`;
  });
  const result = await client.query<unknown[]>({
    text: `SELECT ${select.join(", ")} FROM ${quoteIdentifier(table.table)} t`,
    rowMode: "array",
  });
  const keyIndex = table.columns.findIndex((c) => c.source === "key");
  const rows = new Map<string, (string | null)[]>();
  for (const row of result.rows) {
    const values = row.map((value) => (typeof value === "string" ? value : null));
    const key = values[keyIndex];
    if (key !== undefined && key !== null) rows.set(key, values);
  }
  return rows;
}

async function readParked(client: ClientBase): Promise<Map<string, Map<string, TargetParkedRow>>> {
  const result = await client.query<{
    table_name: string;
    legacy_id: string;
    parent_table: string;
    parent_legacy_id: string;
    tick: string;
    rev: string | null;
  }>(
    `SELECT table_name, legacy_id, parent_table, parent_legacy_id, legacy_tick::text AS tick,
            row->>'rev' AS rev
       FROM arango_sync.parked_rows`,
  );
  const parked = new Map<string, Map<string, TargetParkedRow>>();
  for (const row of result.rows) {
    let keys = parked.get(row.table_name);
    if (keys === undefined) {
      keys = new Map();
      parked.set(row.table_name, keys);
    }
    keys.set(row.legacy_id, {
      parentTable: row.parent_table,
      parentKey: row.parent_legacy_id,
      tick: BigInt(row.tick),
      rev: row.rev ?? undefined,
    });
  }
  return parked;
}

/**
 * Open dead letters. The raw event is the document itself (snapshot, constraint violations,
 * expired parked rows) or a WAL marker holding it under `data`: either way its `_rev` says which
 * version of the document the dead letter is about.
 */
async function readDeadLetters(client: ClientBase): Promise<{
  deadLetters: Map<string, Map<string, TargetDeadLetter[]>>;
  deadLetterCounts: { table: string | null; reason: string; count: number }[];
}> {
  const result = await client.query<{
    table_name: string | null;
    legacy_id: string | null;
    reason: string;
    tick: string | null;
    rev: string | null;
  }>(
    `SELECT table_name, legacy_id, reason, tick::text AS tick,
            CASE jsonb_typeof(raw_event)
              WHEN 'object' THEN coalesce(raw_event->>'_rev', raw_event->'data'->>'_rev')
            END AS rev
       FROM arango_sync.dead_letters
      WHERE status = 'open'`,
  );
  const deadLetters = new Map<string, Map<string, TargetDeadLetter[]>>();
  const counts = new Map<string, { table: string | null; reason: string; count: number }>();
  for (const row of result.rows) {
    const countKey = `${row.table_name ?? ""}\u0000${row.reason}`;
    const count = counts.get(countKey) ?? { table: row.table_name, reason: row.reason, count: 0 };
    count.count += 1;
    counts.set(countKey, count);
    if (row.table_name === null || row.legacy_id === null) continue;
    let keys = deadLetters.get(row.table_name);
    if (keys === undefined) {
      keys = new Map();
      deadLetters.set(row.table_name, keys);
    }
    const letters = keys.get(row.legacy_id) ?? [];
    letters.push({
      reason: row.reason,
      tick: row.tick === null ? null : BigInt(row.tick),
      rev: row.rev ?? undefined,
    });
    keys.set(row.legacy_id, letters);
  }
  return { deadLetters, deadLetterCounts: [...counts.values()] };
}

async function readTombstones(
  client: ClientBase,
  tables: readonly string[],
): Promise<Map<string, Set<string>>> {
  const tombstones = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  if (tables.length === 0) return tombstones;
  const result = await client.query<{ table_name: string; legacy_id: string }>(
    "SELECT table_name, legacy_id FROM arango_sync.tombstones WHERE table_name = ANY($1::text[])",
    [textArrayLiteral(tables)],
  );
  for (const row of result.rows) tombstones.get(row.table_name)?.add(row.legacy_id);
  return tombstones;
}

/** The parameter is left untyped so PostgreSQL reads it as an array of the column's own type. */
async function readParents(
  client: ClientBase,
  lookups: readonly ParentLookup[],
): Promise<Map<string, Set<string>>> {
  const parents = new Map<string, Set<string>>();
  for (const lookup of lookups) {
    const found = new Set<string>();
    parents.set(parentKey(lookup.table, lookup.column), found);
    if (lookup.values.length === 0) continue;
    const column = quoteIdentifier(lookup.column);
    const result = await client.query<{ value: string }>(
      `SELECT DISTINCT ${column}::text AS value FROM ${quoteIdentifier(lookup.table)} WHERE ${column} = ANY($1)`,
      [textArrayLiteral(lookup.values)],
    );
    for (const row of result.rows) found.add(row.value);
  }
  return parents;
}
