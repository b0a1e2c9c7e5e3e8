/**
 * A whole-mirror consistency check: ArangoDB's current documents, re-mapped through the mapping,
 * against what PostgreSQL holds. ArangoDB is read through a replication batch (one consistent
 * snapshot, the same protocol the daemon uses), PostgreSQL in one REPEATABLE READ transaction.
 *
 * Every document ends in exactly one class:
 * - equal: the row holds what the mapping makes of the document (legacy_tick aside);
 * - explained: PostgreSQL does not hold it for a recorded reason: parked for its parent,
 *   dead-lettered (possibly with an older row kept), or its parent was removed in ArangoDB and the
 *   removal cascaded in PostgreSQL while ArangoDB kept the orphan (DESIGN.md §6);
 * - drift: anything else, including a row PostgreSQL has and ArangoDB does not.
 * A parked row or a dead letter only explains the document version it was recorded for (its
 * `_rev`), so a stale record cannot hide a newer change that went missing.
 *
 * Run it when the daemon has applied everything ArangoDB has (the demo stops its writes and waits
 * first): changes still in flight would count as drift. Both sides are held in memory, which
 * suits the demo's data; `verify --full` is meant to stream both sides in key order instead.
 */
import { SyncError } from "../errors.js";
import type { JsonObject } from "../events/events.js";
import type {
  BuildRowResult,
  CompiledMapping,
  CompiledTable,
  ParentReference,
} from "../mapping/compile-mapping.js";
import {
  type ParentLookup,
  type TargetMirror,
  parentKey,
  readTargetMirror,
} from "../sink/mirror-reader.js";
import type { ReplicationApi } from "../source/replication-api.js";
import { SnapshotReader } from "../source/snapshot-reader.js";

export type DriftKind = "missing" | "extra" | "differs" | "not-recorded";

export interface DriftExample {
  readonly key: string;
  readonly kind: DriftKind;
  readonly detail: string;
}

export interface TableComparison {
  readonly collection: string;
  readonly table: string;
  /** Documents in the ArangoDB collection. */
  readonly documents: number;
  /** Rows in the PostgreSQL table. */
  readonly rows: number;
  readonly equal: number;
  /** Documents PostgreSQL does not mirror, for a recorded reason, by that reason. */
  readonly explained: Readonly<Record<string, number>>;
  readonly drift: Readonly<Record<DriftKind, number>>;
  /** The first few drifting keys, to start an investigation with. */
  readonly examples: readonly DriftExample[];
}

export interface MirrorComparison {
  readonly verdict: "consistent" | "drift";
  /** The tick of the ArangoDB snapshot compared. */
  readonly sourceTick: bigint;
  readonly appliedTick: bigint | null;
  readonly tables: readonly TableComparison[];
  /** Open dead letters per table and reason. */
  readonly deadLetters: TargetMirror["deadLetterCounts"];
  /** Parked rows per table and the reason their parent is awaited. */
  readonly parked: readonly {
    readonly table: string;
    readonly reason: string;
    readonly count: number;
  }[];
}

export interface CompareMirrorOptions {
  /** Reads ArangoDB; give it its own syncerId, so the daemon's WAL registration is not moved. */
  readonly api: ReplicationApi;
  readonly pgUrl: string;
  readonly mapping: CompiledMapping;
  readonly sourceDatabase: string;
  readonly dumpChunkSize?: number;
}

/** A document of a mapped collection and what the mapping makes of it. */
export interface SourceRow {
  readonly key: string;
  readonly rev: string;
  readonly built: BuildRowResult;
}

export interface SourceState {
  readonly tick: bigint;
  /** Mapped table → the rows built from its collection's documents. */
  readonly rows: ReadonlyMap<string, readonly SourceRow[]>;
}

const EXAMPLES_PER_TABLE = 5;

export async function compareMirror(options: CompareMirrorOptions): Promise<MirrorComparison> {
  const source = await readSource(options.api, options.mapping, options.dumpChunkSize);
  const target = await readTargetMirror({
    url: options.pgUrl,
    mapping: options.mapping,
    sourceDatabase: options.sourceDatabase,
    parentLookups: parentLookups(options.mapping, source),
    tombstoneTables: options.mapping.tables
      .filter((t) => options.mapping.tables.some((c) => c.parentTables.includes(t.table)))
      .map((t) => t.table),
  });
  return classifyMirror(options.mapping, source, target);
}

/** Every document of every mapped collection, from one replication batch. */
export async function readSource(
  api: ReplicationApi,
  mapping: CompiledMapping,
  chunkSize = 4 * 1024 * 1024,
): Promise<SourceState> {
  const reader = new SnapshotReader(api, { ttlSeconds: 300, chunkSize });
  const batch = await reader.open();
  try {
    const present = new Set(batch.inventory.collections.map((c) => c.name));
    const rows = new Map<string, SourceRow[]>();
    for (const table of mapping.tables) {
      const built: SourceRow[] = [];
      rows.set(table.table, built);
      if (!present.has(table.collection)) continue;
      for await (const lines of reader.documents(batch.id, table.collection)) {
        for (const line of lines) {
          const document = JSON.parse(line) as JsonObject;
          const key = document["_key"];
          const rev = document["_rev"];
          if (typeof key !== "string" || typeof rev !== "string") {
            throw new SyncError(
              "SOURCE_PROTOCOL",
              `a dump line of ${table.collection} is not a document with _key and _rev`,
            );
          }
          built.push({
            key,
            rev,
            built: table.buildRow({ key, rev, tick: batch.snapshotTick, document }),
          });
        }
      }
    }
    return { tick: batch.snapshotTick, rows };
  } finally {
    await reader.close(batch.id);
  }
}

/** References that cannot be checked against the mirrored rows: tables the daemon does not write. */
function parentLookups(mapping: CompiledMapping, source: SourceState): ParentLookup[] {
  const lookups = new Map<string, { table: string; column: string; values: Set<string> }>();
  for (const table of mapping.tables) {
    for (const row of source.rows.get(table.table) ?? []) {
      if (!row.built.ok) continue;
      for (const ref of row.built.row.parents) {
        if (mirroredParent(mapping, ref) !== undefined) continue;
        const id = parentKey(ref.table, ref.lookupColumn);
        let lookup = lookups.get(id);
        if (lookup === undefined) {
          lookup = { table: ref.table, column: ref.lookupColumn, values: new Set() };
          lookups.set(id, lookup);
        }
        lookup.values.add(ref.value);
      }
    }
  }
  return [...lookups.values()].map((l) => ({ ...l, values: [...l.values] }));
}

/** The mapped table a reference points into by its key column, if it does. */
function mirroredParent(
  mapping: CompiledMapping,
  ref: Pick<ParentReference, "table" | "lookupColumn">,
): CompiledTable | undefined {
  const parent = mapping.tables.find((t) => t.table === ref.table);
  return parent !== undefined && parent.keyColumn === ref.lookupColumn ? parent : undefined;
}

/** Pure: the comparison of both sides once read. Exported for tests. */
export function classifyMirror(
  mapping: CompiledMapping,
  source: SourceState,
  target: TargetMirror,
): MirrorComparison {
  const tables = mapping.tables.map((table) => classifyTable(mapping, table, source, target));
  const parked = new Map<string, { table: string; reason: string; count: number }>();
  for (const [tableName, keys] of target.parked) {
    const table = mapping.tables.find((t) => t.table === tableName);
    for (const row of keys.values()) {
      const reason = parkReason(table, row.parentTable);
      const id = `${tableName}\u0000${reason}`;
      const entry = parked.get(id) ?? { table: tableName, reason, count: 0 };
      entry.count += 1;
      parked.set(id, entry);
    }
  }
  const drifting = tables.some((t) => Object.values(t.drift).some((n) => n > 0));
  return {
    verdict: drifting ? "drift" : "consistent",
    sourceTick: source.tick,
    appliedTick: target.appliedTick,
    tables,
    deadLetters: target.deadLetterCounts,
    parked: [...parked.values()],
  };
}

function parkReason(table: CompiledTable | undefined, parentTable: string): string {
  return (
    table?.references.find((r) => r.table === parentTable)?.reason ?? `${parentTable} not found`
  );
}

function classifyTable(
  mapping: CompiledMapping,
  table: CompiledTable,
  source: SourceState,
  target: TargetMirror,
): TableComparison {
  const actualRows = target.rows.get(table.table) ?? new Map<string, readonly (string | null)[]>();
  const parked = target.parked.get(table.table);
  const deadLetters = target.deadLetters.get(table.table);
  const explained = new Map<string, number>();
  const drift: Record<DriftKind, number> = { missing: 0, extra: 0, differs: 0, "not-recorded": 0 };
  const examples: DriftExample[] = [];
  let equal = 0;
  const explain = (label: string): void => {
    explained.set(label, (explained.get(label) ?? 0) + 1);
  };
  const drifted = (key: string, kind: DriftKind, detail: string): void => {
    drift[kind] += 1;
    if (examples.length < EXAMPLES_PER_TABLE) examples.push({ key, kind, detail });
  };

  const sourceRows = source.rows.get(table.table) ?? [];
  const seen = new Set<string>();
  for (const { key, rev, built } of sourceRows) {
    seen.add(key);
    const actual = actualRows.get(key);
    // Records about this very version of the document; older ones explain nothing now.
    const waiting = parked?.get(key);
    const parkedNow = waiting !== undefined && (waiting.rev === undefined || waiting.rev === rev);
    const letter = deadLetters?.get(key)?.find((l) => l.rev === undefined || l.rev === rev);
    const kept = actual === undefined ? "" : ", older row kept";

    if (!built.ok) {
      if (letter !== undefined) explain(`dead-lettered (${letter.reason})${kept}`);
      else
        drifted(
          key,
          "not-recorded",
          `does not map (${built.reason}, ${built.column}) and has no dead letter`,
        );
      continue;
    }

    const values = [...built.row.values];
    let missingParent: ParentReference | undefined;
    for (const ref of built.row.parents) {
      if (parentExists(mapping, ref, target)) continue;
      if (ref.onMissingParent === "null") {
        values[ref.columnIndex] = null;
        continue;
      }
      missingParent = ref;
      break;
    }

    if (missingParent !== undefined) {
      if (parkedNow) explain(`parked (${parkReason(table, waiting.parentTable)})${kept}`);
      else if (letter !== undefined) explain(`dead-lettered (${letter.reason})${kept}`);
      else if (
        actual === undefined &&
        target.tombstones.get(missingParent.table)?.has(missingParent.value) === true
      )
        explain(`orphaned (${missingParent.table} row removed in ArangoDB, cascaded)`);
      else if (actual === undefined)
        drifted(
          key,
          "missing",
          `${missingParent.reason} (${missingParent.table} ${missingParent.value}) but neither parked nor dead-lettered`,
        );
      else
        drifted(
          key,
          "differs",
          `row present although ${missingParent.table} ${missingParent.value} is not`,
        );
      continue;
    }

    if (actual === undefined) {
      if (parkedNow) explain(`parked (${parkReason(table, waiting.parentTable)})`);
      else if (letter !== undefined) explain(`dead-lettered (${letter.reason})`);
      else drifted(key, "missing", `no row, no parked row, no dead letter (rev ${rev})`);
      continue;
    }
    const difference = firstDifference(table, values, actual);
    if (difference === undefined) {
      equal += 1;
    } else if (parkedNow) {
      explain(`parked (${parkReason(table, waiting.parentTable)})${kept}`);
    } else if (letter !== undefined) {
      explain(`dead-lettered (${letter.reason})${kept}`);
    } else {
      drifted(key, "differs", difference);
    }
  }
  for (const key of actualRows.keys()) {
    if (!seen.has(key)) drifted(key, "extra", "row whose document ArangoDB does not have");
  }
  return {
    collection: table.collection,
    table: table.table,
    documents: sourceRows.length,
    rows: actualRows.size,
    equal,
    explained: Object.fromEntries([...explained].sort((a, b) => b[1] - a[1])),
    drift,
    examples,
  };
}

function parentExists(
  mapping: CompiledMapping,
  ref: ParentReference,
  target: TargetMirror,
): boolean {
  const mirrored = mirroredParent(mapping, ref);
  if (mirrored !== undefined) return target.rows.get(mirrored.table)?.has(ref.value) === true;
  return target.parents.get(parentKey(ref.table, ref.lookupColumn))?.has(ref.value) === true;
}

/** The first column whose value differs, described; undefined when the row matches. */
function firstDifference(
  table: CompiledTable,
  expected: readonly (string | null)[],
  actual: readonly (string | null)[],
): string | undefined {
  for (const [index, column] of table.columns.entries()) {
    if (column.source === "tick") continue;
    const want = comparable(column.type, expected[index] ?? null);
    const have = comparable(column.type, actual[index] ?? null);
    if (want !== have) {
      return `${column.name}: ArangoDB maps to ${preview(want)}, PostgreSQL has ${preview(have)}`;
    }
  }
  return undefined;
}

/**
 * One text per value: JSON with sorted keys (jsonb keeps its own key order), timestamps with all
 * six fraction digits (the mapping drops trailing zeros, to_char does not).
 */
function comparable(type: string, value: string | null): string | null {
  if (value === null) return null;
  if (type === "jsonb") {
    try {
      return canonicalJson(JSON.parse(value));
    } catch {
      return value;
    }
  }
  if (type === "timestamptz") {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(value);
    if (match !== null) return `${match[1] ?? ""}.${(match[2] ?? "").padEnd(6, "0")}Z`;
  }
  return value;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function preview(value: string | null): string {
  if (value === null) return "NULL";
  return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}…` : JSON.stringify(value);
}
