/**
 * PostgreSQL's own ceiling for the benchmark's rows: what the server absorbs when a client
 * does nothing but write them, measured on the same instance, tables, indexes (GIN included)
 * and durability settings as the daemon (reference/pg-ceiling.md describes the method):
 * - plain COPY into the empty tables (no conflict handling; all constraints and indexes on);
 * - `INSERT … SELECT FROM unnest(…) ON CONFLICT (legacy_id) DO UPDATE … WHERE tick is newer`,
 *   1,000 rows per statement and transaction, for new keys and then for new versions of every
 *   key in a shuffled order;
 * - `DELETE … WHERE legacy_id = ANY(…)`, 1,000 keys per statement.
 * Each pass starts after a CHECKPOINT; the update and delete passes after VACUUM (ANALYZE) too,
 * and the daemon's passes get the same treatment (run-bench.ts).
 *
 * The ceiling supplies the `id` of every row (a client-side UUID) and the parents' ids of the
 * results directly, where the daemon looks them up: that work is the daemon's, not the ceiling's.
 */
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import copyStreams from "pg-copy-streams";
import type { CompiledMapping, CompiledTable } from "../src/mapping/compile-mapping.js";
import { textArrayLiteral } from "../src/sink/pg-array.js";
import { type BenchData, mappedRow, nextVersion } from "./bench-data.js";

export interface CeilingResult {
  readonly rows: number;
  readonly copy_rows_per_s: number;
  readonly upsert_insert_rows_per_s: number;
  readonly upsert_update_rows_per_s: number;
  readonly delete_rows_per_s: number;
  readonly deleted_rows: number;
}

/** One table's rows as text values, `id` first, in the column order of `columns`. */
interface TableRows {
  readonly table: CompiledTable;
  readonly columns: readonly string[];
  readonly types: readonly string[];
  readonly rows: (string | null)[][];
}

const BATCH_ROWS = 1000;
const COPY_ROWS = 50_000;

export async function measureCeiling(
  pgUrl: string,
  mapping: CompiledMapping,
  data: BenchData,
  log: (line: string) => void,
): Promise<CeilingResult> {
  const client = new pg.Client({ connectionString: pgUrl, application_name: "bench ceiling" });
  await client.connect();
  try {
    const ids = new Map<string, string>();
    const inserts = await withCatalogTypes(client, buildRows(mapping, data, ids, 0));
    const total = inserts.reduce((sum, t) => sum + t.rows.length, 0);

    await prepare(client, false);
    const copySeconds = await timed(async () => {
      for (const table of inserts) await copyRows(client, table);
    });
    log(`ceiling: COPY ${total} rows in ${copySeconds.toFixed(1)} s`);

    await client.query(
      `TRUNCATE ${inserts.map((t) => client.escapeIdentifier(t.table.table)).join(", ")} CASCADE`,
    );
    await prepare(client, true);
    const insertSeconds = await timed(async () => {
      for (const table of inserts) await upsertRows(client, table, table.rows);
    });
    log(`ceiling: upsert (new keys) ${total} rows in ${insertSeconds.toFixed(1)} s`);

    const updates = await withCatalogTypes(client, buildRows(mapping, data, ids, 1));
    await prepare(client, true);
    const updateSeconds = await timed(async () => {
      for (const table of updates) await upsertRows(client, table, shuffled(table.rows));
    });
    log(`ceiling: upsert (new versions) ${total} rows in ${updateSeconds.toFixed(1)} s`);

    // A quarter of the resumes; their results go with them (ON DELETE CASCADE), as in the daemon.
    const resumeKeys = data.documents
      .filter((d) => d.collection === "resumes")
      .map((d) => d.document._key)
      .filter((_, i) => i % 4 === 0);
    await prepare(client, true);
    const deleteSeconds = await timed(async () => {
      for (let i = 0; i < resumeKeys.length; i += BATCH_ROWS) {
        await client.query("DELETE FROM resumes WHERE legacy_id = ANY($1::text[])", [
          textArrayLiteral(resumeKeys.slice(i, i + BATCH_ROWS)),
        ]);
      }
    });
    log(`ceiling: delete ${resumeKeys.length} keys in ${deleteSeconds.toFixed(1)} s`);

    return {
      rows: total,
      copy_rows_per_s: total / copySeconds,
      upsert_insert_rows_per_s: total / insertSeconds,
      upsert_update_rows_per_s: total / updateSeconds,
      delete_rows_per_s: resumeKeys.length / deleteSeconds,
      deleted_rows: resumeKeys.length,
    };
  } finally {
    await client.end();
  }
}

/** CHECKPOINT before every timed pass; VACUUM (ANALYZE) before passes over existing rows. */
export async function prepare(client: pg.ClientBase, vacuum: boolean): Promise<void> {
  if (vacuum) await client.query("VACUUM (ANALYZE)");
  await client.query("CHECKPOINT");
}

export async function timed(work: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The mapped rows of every document (version `version`: 0 as generated, 1 the next), with the
 * same ids across versions and each result's resume_id/job_id set to its parents' ids.
 */
function buildRows(
  mapping: CompiledMapping,
  data: BenchData,
  ids: Map<string, string>,
  version: number,
): TableRows[] {
  const byTable = new Map<string, TableRows>();
  let tick = BigInt(version * data.documents.length);
  for (const item of data.documents) {
    tick += 1n;
    const document = version === 0 ? item.document : nextVersion(item, version);
    const row = mappedRow(mapping, item.collection, document, tick);
    const table = mapping.forCollection(item.collection);
    if (table === undefined) continue;
    let rows = byTable.get(table.table);
    if (rows === undefined) {
      rows = {
        table,
        columns: ["id", ...table.columns.map((c) => c.name)],
        types: ["uuid", ...table.columns.map((c) => c.type)],
        rows: [],
      };
      byTable.set(table.table, rows);
    }
    const values = [...row.values];
    for (const parent of row.parents) {
      if (parent.table === "tasks") {
        // The benchmark creates no tasks: the mapping's policy for a missing task is null.
        values[parent.columnIndex] = null;
      } else if (parent.lookupColumn !== parent.valueColumn) {
        values[parent.columnIndex] = ids.get(`${parent.table}/${parent.value}`) ?? null;
      }
    }
    const idKey = `${table.table}/${row.key}`;
    let id = ids.get(idKey);
    if (id === undefined) {
      id = randomUUID();
      ids.set(idKey, id);
    }
    rows.rows.push([id, ...values]);
  }
  return [...byTable.values()];
}

/** The column types as the catalog has them (a translated parent key is text in the mapping, uuid here). */
async function withCatalogTypes(client: pg.Client, tables: TableRows[]): Promise<TableRows[]> {
  const typed: TableRows[] = [];
  for (const table of tables) {
    const result = await client.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, NULL) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
      [client.escapeIdentifier(table.table.table)],
    );
    const types = new Map(result.rows.map((r) => [r.name, r.type]));
    typed.push({
      ...table,
      types: table.columns.map((c) => {
        const type = types.get(c);
        if (type === undefined) throw new Error(`${table.table.table} has no column ${c}`);
        return type;
      }),
    });
  }
  return typed;
}

async function upsertRows(
  client: pg.Client,
  table: TableRows,
  rows: readonly (readonly (string | null)[])[],
): Promise<void> {
  const name = client.escapeIdentifier(table.table.table);
  const columns = table.columns.map((c) => client.escapeIdentifier(c));
  const arrays = table.types.map((type, i) => `$${i + 1}::${type}[]`);
  const updates = columns
    .filter((c, i) => i > 1) // not id, not legacy_id
    .map((c) => `${c} = EXCLUDED.${c}`);
  const sql =
    `INSERT INTO ${name} (${columns.join(", ")}) SELECT * FROM unnest(${arrays.join(", ")}) ` +
    `ON CONFLICT (legacy_id) DO UPDATE SET ${updates.join(", ")} ` +
    `WHERE ${name}.legacy_tick < EXCLUDED.legacy_tick`;
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const batch = rows.slice(start, start + BATCH_ROWS);
    await client.query(
      sql,
      table.types.map((_, column) => textArrayLiteral(batch.map((row) => row[column] ?? null))),
    );
  }
}

async function copyRows(client: pg.Client, table: TableRows): Promise<void> {
  const name = client.escapeIdentifier(table.table.table);
  const columns = table.columns.map((c) => client.escapeIdentifier(c)).join(", ");
  for (let start = 0; start < table.rows.length; start += COPY_ROWS) {
    const rows = table.rows.slice(start, start + COPY_ROWS);
    const stream = client.query(copyStreams.from(`COPY ${name} (${columns}) FROM STDIN`));
    const lines = function* (): Generator<string> {
      let chunk = "";
      for (const row of rows) {
        chunk += `${row.map(copyField).join("\t")}\n`;
        if (chunk.length > 256 * 1024) {
          yield chunk;
          chunk = "";
        }
      }
      if (chunk !== "") yield chunk;
    };
    await pipeline(Readable.from(lines()), stream);
  }
}

const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** COPY's text format: backslash escapes, `\N` for NULL. */
function copyField(value: string | null): string {
  if (value === null) return "\\N";
  return value.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c] ?? c);
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  let seed = 0x9e3779b9;
  for (let i = copy.length - 1; i > 0; i--) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    const j = seed % (i + 1);
    const a = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = a;
  }
  return copy;
}
