/**
 * Reads what a consistency check needs from PostgreSQL, a chunk of keys at a time, inside one
 * REPEATABLE READ READ ONLY transaction: every query of a check sees the same moment, even while
 * the daemon keeps applying. That single snapshot is what makes the count comparison of the
 * extra-row search exact (rows counted at the end are the rows looked up chunk by chunk).
 *
 * Nothing here holds more than one chunk: rows are looked up by `legacy_id = ANY($1)`, counted
 * per hash bucket, or listed in key order a page at a time.
 *
 * Values come back as text in the mapping's encoding (timestamptz as UTC ISO text with six
 * fraction digits, jsonb as JSON text, a translated foreign key as the parent's lookup value,
 * e.g. the resume's legacy_id), so the checker compares them with rows built from ArangoDB
 * documents without knowing PostgreSQL.
 */
import type { Client } from "pg";
import { SyncError, messageOf } from "../errors.js";
import type { CompiledTable } from "../mapping/compile-mapping.js";
import { TICK_COLUMN } from "../mapping/mapping-spec.js";
import { textArrayLiteral } from "./pg-array.js";
import { quoteIdentifier } from "./sql-identifier.js";
import { connectTarget, errorCode, targetUnavailable } from "./target-connection.js";

/** Rows are spread over this many buckets by a hash of their key (see `bucketOf`). */
export const KEY_BUCKETS = 1024;

/**
 * The bucket of a key, computed by PostgreSQL from the first ten bits of md5(legacy_id). The
 * checker never computes it itself: it takes the value from the rows PostgreSQL returns, so the
 * two sides cannot disagree about encodings.
 */
function bucketOf(column: string): string {
  const digest = `decode(md5(${column}), 'hex')`;
  return `(get_byte(${digest}, 0) * 4 + get_byte(${digest}, 1) / 64)`;
}

export interface TargetRow {
  /** Values in `CompiledTable.columns` order, as text. */
  readonly values: readonly (string | null)[];
  /** legacy_tick; null for a row without one. */
  readonly tick: bigint | null;
  /** 0 … KEY_BUCKETS - 1. */
  readonly bucket: number;
}

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

/** What PostgreSQL holds about one chunk of keys of one table. */
export interface TargetChunk {
  readonly rows: ReadonlyMap<string, TargetRow>;
  readonly parked: ReadonlyMap<string, TargetParkedRow>;
  /** Open dead letters per key. */
  readonly deadLetters: ReadonlyMap<string, readonly TargetDeadLetter[]>;
  /** table → legacy_id → tick of its tombstone, for the keys asked and the parents looked up. */
  readonly tombstones: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  /** `parentKey(table, column)` → the looked-up values that exist. */
  readonly parents: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface RowCounts {
  /** Rows with a legacy_id. */
  readonly total: number;
  /** Rows whose legacy_tick is at most the tick asked for (or null), per bucket. */
  readonly upTo: ReadonlyMap<number, number>;
  /** Rows whose legacy_tick is newer than the tick asked for. */
  readonly after: number;
}

export interface TargetBacklog {
  /** Open dead letters per table (null: not tied to a table) and reason. */
  readonly deadLetters: readonly {
    readonly table: string | null;
    readonly reason: string;
    readonly count: number;
  }[];
  /** Parked rows per table and the table of the parent they wait for. */
  readonly parked: readonly {
    readonly table: string;
    readonly parentTable: string;
    readonly count: number;
  }[];
}

/** The key of `TargetChunk.parents`. */
export function parentKey(table: string, column: string): string {
  return `${table}\u0000${column}`;
}

export interface OpenMirrorReaderOptions {
  readonly url: string;
  readonly sourceDatabase: string;
}

export class MirrorReader {
  private closed = false;

  private constructor(
    private readonly client: Client,
    private readonly url: string,
    /** The checkpoint in this snapshot: every change up to it is applied; null before any. */
    readonly appliedTick: bigint | null,
    readonly phase: string | null,
  ) {}

  /** Connects, starts the snapshot transaction and reads the checkpoint in it. */
  static async open(options: OpenMirrorReaderOptions): Promise<MirrorReader> {
    const client = await connectTarget(options.url, {
      applicationName: "arango-pg-sync verify",
    });
    try {
      await attempt(options.url, () =>
        client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
      );
      const checkpoint = await attempt(options.url, () =>
        client.query<{ tick: string | null; phase: string }>(
          `SELECT applied_tick::text AS tick, phase FROM arango_sync.checkpoint
          WHERE source_database = $1`,
          [options.sourceDatabase],
        ),
      );
      const row = checkpoint.rows[0];
      return new MirrorReader(
        client,
        options.url,
        row?.tick === undefined || row.tick === null ? null : BigInt(row.tick),
        row?.phase ?? null,
      );
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /** Everything PostgreSQL holds about `keys` of `table`, and which parents exist. */
  async lookup(
    table: CompiledTable,
    keys: readonly string[],
    parents: readonly ParentLookup[],
  ): Promise<TargetChunk> {
    const keyList = textArrayLiteral(keys);
    // Tombstones of the keys themselves and of every parent looked up (a removed parent explains
    // a child that PostgreSQL's cascade removed while ArangoDB kept it).
    const tombstoneTables = [
      ...keys.map(() => table.table),
      ...parents.flatMap((p) => p.values.map(() => p.table)),
    ];
    const tombstoneKeys = [...keys, ...parents.flatMap((p) => p.values)];
    return {
      rows: await this.readRows(table, keyList),
      parked: await this.readParked(table.table, keyList),
      deadLetters: await this.readDeadLetters(table.table, keyList),
      tombstones: await this.readTombstones(tombstoneTables, tombstoneKeys),
      parents: await this.readParents(parents),
    };
  }

  /** Rows with a legacy_id, split at `tick` (per bucket up to it). */
  async countRows(table: CompiledTable, tick: bigint): Promise<RowCounts> {
    const key = `t.${quoteIdentifier(table.keyColumn)}`;
    const tickColumn = `t.${quoteIdentifier(TICK_COLUMN)}`;
    const result = await this.attempt(() =>
      this.client.query<{ bucket: number; newer: boolean; n: string }>(
        `SELECT ${bucketOf(key)} AS bucket, coalesce(${tickColumn} > $1::numeric, false) AS newer,
              count(*)::text AS n
         FROM ${quoteIdentifier(table.table)} t
        WHERE ${key} IS NOT NULL
        GROUP BY 1, 2`,
        [tick.toString()],
      ),
    );
    const upTo = new Map<number, number>();
    let total = 0;
    let after = 0;
    for (const row of result.rows) {
      const n = Number(row.n);
      total += n;
      if (row.newer) after += n;
      else upTo.set(row.bucket, (upTo.get(row.bucket) ?? 0) + n);
    }
    return { total, upTo, after };
  }

  /**
   * The next `limit` keys after `after` (in the column's own order, so the unique index serves
   * the scan) among rows in `buckets` whose legacy_tick is at most `tick` or null.
   */
  async keysInBuckets(
    table: CompiledTable,
    buckets: readonly number[],
    tick: bigint,
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const key = `t.${quoteIdentifier(table.keyColumn)}`;
    const tickColumn = `t.${quoteIdentifier(TICK_COLUMN)}`;
    const result = await this.attempt(() =>
      this.client.query<{ key: string }>(
        `SELECT ${key} AS key FROM ${quoteIdentifier(table.table)} t
        WHERE ${key} > $3::text
          AND ${bucketOf(key)} = ANY($1::int[])
          AND (${tickColumn} IS NULL OR ${tickColumn} <= $2::numeric)
        ORDER BY ${key}
        LIMIT $4`,
        // Keys are never empty (ArangoDB requires at least one character), so '' precedes them all.
        [`{${buckets.join(",")}}`, tick.toString(), after ?? "", limit],
      ),
    );
    return result.rows.map((r) => r.key);
  }

  /** Open dead letters by table and reason, parked rows by table and awaited parent table. */
  async backlog(): Promise<TargetBacklog> {
    const letters = await this.attempt(() =>
      this.client.query<{ table_name: string | null; reason: string; n: string }>(
        `SELECT table_name, reason, count(*)::text AS n FROM arango_sync.dead_letters
        WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    );
    const parked = await this.attempt(() =>
      this.client.query<{ table_name: string; parent_table: string; n: string }>(
        `SELECT table_name, parent_table, count(*)::text AS n FROM arango_sync.parked_rows
        GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    );
    return {
      deadLetters: letters.rows.map((r) => ({
        table: r.table_name,
        reason: r.reason,
        count: Number(r.n),
      })),
      parked: parked.rows.map((r) => ({
        table: r.table_name,
        parentTable: r.parent_table,
        count: Number(r.n),
      })),
    };
  }

  /** Ends the snapshot transaction and the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.query("ROLLBACK").catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }

  /**
   * The rows of `keys`, each column as the mapping would have produced its text. A translated
   * foreign key (stored as the parent's id) is read back as the parent's lookup value.
   */
  private async readRows(table: CompiledTable, keyList: string): Promise<Map<string, TargetRow>> {
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
    const key = `t.${quoteIdentifier(table.keyColumn)}`;
    const result = await this.attempt(() =>
      this.client.query<unknown[]>({
        text: `SELECT ${bucketOf(key)}, ${select.join(", ")} FROM ${quoteIdentifier(table.table)} t
              WHERE ${key} = ANY($1::text[])`,
        values: [keyList],
        rowMode: "array",
      }),
    );
    const keyIndex = table.columns.findIndex((c) => c.source === "key");
    const tickIndex = table.columns.findIndex((c) => c.source === "tick");
    const rows = new Map<string, TargetRow>();
    for (const [bucket, ...rest] of result.rows) {
      const values = rest.map((value) => (typeof value === "string" ? value : null));
      const key = values[keyIndex];
      const tick = values[tickIndex];
      if (key === undefined || key === null) continue;
      rows.set(key, {
        values,
        tick: tick === undefined || tick === null ? null : BigInt(tick),
        bucket: Number(bucket),
      });
    }
    return rows;
  }

  private async readParked(table: string, keyList: string): Promise<Map<string, TargetParkedRow>> {
    const result = await this.attempt(() =>
      this.client.query<{
        legacy_id: string;
        parent_table: string;
        parent_legacy_id: string;
        tick: string;
        rev: string | null;
      }>(
        `SELECT legacy_id, parent_table, parent_legacy_id, legacy_tick::text AS tick,
              row->>'rev' AS rev
         FROM arango_sync.parked_rows
        WHERE table_name = $1 AND legacy_id = ANY($2::text[])`,
        [table, keyList],
      ),
    );
    return new Map(
      result.rows.map((row) => [
        row.legacy_id,
        {
          parentTable: row.parent_table,
          parentKey: row.parent_legacy_id,
          tick: BigInt(row.tick),
          rev: row.rev ?? undefined,
        },
      ]),
    );
  }

  /**
   * The raw event is the document itself (snapshot, constraint violations, expired parked rows)
   * or a WAL marker holding it under `data`: either way its `_rev` says which version of the
   * document the dead letter is about.
   */
  private async readDeadLetters(
    table: string,
    keyList: string,
  ): Promise<Map<string, TargetDeadLetter[]>> {
    const result = await this.attempt(() =>
      this.client.query<{
        legacy_id: string;
        reason: string;
        tick: string | null;
        rev: string | null;
      }>(
        `SELECT legacy_id, reason, tick::text AS tick,
              CASE jsonb_typeof(raw_event)
                WHEN 'object' THEN coalesce(raw_event->>'_rev', raw_event->'data'->>'_rev')
              END AS rev
         FROM arango_sync.dead_letters
        WHERE status = 'open' AND table_name = $1 AND legacy_id = ANY($2::text[])`,
        [table, keyList],
      ),
    );
    const letters = new Map<string, TargetDeadLetter[]>();
    for (const row of result.rows) {
      const list = letters.get(row.legacy_id) ?? [];
      list.push({
        reason: row.reason,
        tick: row.tick === null ? null : BigInt(row.tick),
        rev: row.rev ?? undefined,
      });
      letters.set(row.legacy_id, list);
    }
    return letters;
  }

  private async readTombstones(
    tables: readonly string[],
    keys: readonly string[],
  ): Promise<Map<string, Map<string, bigint>>> {
    const tombstones = new Map<string, Map<string, bigint>>();
    if (keys.length === 0) return tombstones;
    const result = await this.attempt(() =>
      this.client.query<{ table_name: string; legacy_id: string; tick: string }>(
        `SELECT t.table_name, t.legacy_id, t.legacy_tick::text AS tick
         FROM arango_sync.tombstones t
         JOIN unnest($1::text[], $2::text[]) AS k(table_name, legacy_id)
           ON t.table_name = k.table_name AND t.legacy_id = k.legacy_id`,
        [textArrayLiteral(tables), textArrayLiteral(keys)],
      ),
    );
    for (const row of result.rows) {
      let table = tombstones.get(row.table_name);
      if (table === undefined) {
        table = new Map();
        tombstones.set(row.table_name, table);
      }
      table.set(row.legacy_id, BigInt(row.tick));
    }
    return tombstones;
  }

  /** The parameter is left untyped so PostgreSQL reads it as an array of the column's own type. */
  private async readParents(lookups: readonly ParentLookup[]): Promise<Map<string, Set<string>>> {
    const parents = new Map<string, Set<string>>();
    for (const lookup of lookups) {
      const found = new Set<string>();
      parents.set(parentKey(lookup.table, lookup.column), found);
      if (lookup.values.length === 0) continue;
      const column = quoteIdentifier(lookup.column);
      const result = await this.attempt(() =>
        this.client.query<{ value: string }>(
          `SELECT DISTINCT ${column}::text AS value FROM ${quoteIdentifier(lookup.table)}
          WHERE ${column} = ANY($1)`,
          [textArrayLiteral(lookup.values)],
        ),
      );
      for (const row of result.rows) found.add(row.value);
    }
    return parents;
  }

  private attempt<T>(operation: () => Promise<T>): Promise<T> {
    return attempt(this.url, operation);
  }
}

/** Runs one query; failures become SyncErrors that say what to check. */
async function attempt<T>(url: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const unavailable = targetUnavailable(error, url);
    if (unavailable !== undefined) throw unavailable;
    const hint = errorCode(error) === "42P01" ? "; run `arango-pg-sync migrate` first" : "";
    throw new SyncError("TARGET_REJECTED", `verify: ${messageOf(error)}${hint}`, {
      cause: error,
    });
  }
}
