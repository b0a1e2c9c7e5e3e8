/**
 * The full consistency check (DESIGN.md §8, `verify --full`): every document of every mapped
 * collection, re-mapped, against the row PostgreSQL holds for its key, and every row PostgreSQL
 * holds that ArangoDB does not. It runs next to a live daemon and never writes to either side.
 *
 * Both sides stream, and memory follows the chunk size and the number of drift examples kept,
 * never the size of a collection:
 *
 * 1. ArangoDB is pinned at tick T by a replication batch and dumped a response at a time (the
 *    protocol the daemon's snapshot uses). PostgreSQL is read in one REPEATABLE READ snapshot
 *    taken right after, whose checkpoint says which tick A it has applied.
 * 2. Each chunk of documents is mapped and looked up in PostgreSQL in one query per kind of
 *    record (`legacy_id = ANY($1)`: rows, parked rows, dead letters, tombstones, parents), then
 *    classified (classify-document.ts). The mapped values are compared directly, column by
 *    column after normalising jsonb key order and timestamp digits, rather than through a hash:
 *    both sides of the chunk are in memory anyway, and the first differing column makes a far
 *    better drift example than two digests.
 * 3. Rows ArangoDB does not have: PostgreSQL counts its rows with legacy_tick ≤ T per hash
 *    bucket of the key; the chunk lookups counted, per bucket, how many of those rows belong to
 *    keys the snapshot has. In the same PostgreSQL snapshot the two agree exactly unless a bucket
 *    holds a row of a key ArangoDB did not have at T. Only such buckets are listed, in key order
 *    a page at a time, and each page is checked against ArangoDB by key. Rows newer than T whose
 *    key the snapshot lacks were inserted after T: in flight.
 *
 * In flight, not drift: PostgreSQL holding a change newer than T for a key (classify-document),
 * and, while A < T, ArangoDB having changed a key in (A, T] that PostgreSQL has not applied yet.
 * The second needs the WAL: a possible drift seen while A < T, and every row the extra-row pass
 * finds missing in ArangoDB now, is held (at most `maxPendingKeys` at a time) until one read of
 * the WAL window from min(A, T) says what happened to those keys. A key that disappears in
 * ArangoDB after T cannot be told apart from a row the snapshot never had, so the extra-row pass
 * leaves keys that changed after T to the next check rather than guessing.
 */
import { SyncError } from "../errors.js";
import { CollectionCatalog } from "../events/collection-catalog.js";
import type { JsonObject } from "../events/events.js";
import type {
  CompiledMapping,
  CompiledTable,
  ParentReference,
} from "../mapping/compile-mapping.js";
import { DRIFT_KINDS, type DriftKind, type SyncEvents } from "../observe/sync-events.js";
import {
  KEY_BUCKETS,
  MirrorReader,
  type ParentLookup,
  type TargetBacklog,
  type TargetChunk,
  parentKey,
} from "../sink/mirror-reader.js";
import type { DocumentLookup } from "../source/document-lookup.js";
import type { ReplicationApi } from "../source/replication-api.js";
import { SnapshotReader } from "../source/snapshot-reader.js";
import {
  type KeyInTarget,
  type ParentsInTarget,
  type SourceDocument,
  classifyDocument,
  parkReason,
} from "./classify-document.js";
import { type WalWindow, readWalWindow } from "./wal-window.js";

export interface VerifyObserver {
  /** ArangoDB is pinned at `tick`; PostgreSQL's snapshot is taken once this returns. */
  sourcePinned?(tick: bigint): Promise<void> | void;
  /** One chunk looked up in PostgreSQL: the keys asked for and the rows that came back. */
  lookedUp?(lookup: {
    readonly table: string;
    readonly pass: "documents" | "extra-rows";
    readonly keys: number;
    readonly rows: number;
  }): void;
}

export interface VerifyMirrorOptions {
  /** Reads ArangoDB; give it its own syncerId, so the daemon's WAL registration is not moved. */
  readonly api: ReplicationApi;
  /** Reads ArangoDB documents by key, for the extra-row pass. */
  readonly documents: DocumentLookup;
  readonly pgUrl: string;
  readonly mapping: CompiledMapping;
  readonly sourceDatabase: string;
  /** Approximate bytes per dump response (default 4 MiB). */
  readonly dumpChunkSize?: number;
  /** Keys per PostgreSQL lookup and per page of the extra-row pass (default 1000). */
  readonly chunkDocuments?: number;
  /** Bytes per `wal/tail` response when the WAL window is read (default 4 MiB). */
  readonly tailChunkSize?: number;
  /** Drift examples kept per table (default 5). */
  readonly examplesPerTable?: number;
  /** Keys held for the WAL window before it is read (default 10,000). */
  readonly maxPendingKeys?: number;
  /** Lifetime of the replication batch, extended while dumping (default 300 s). */
  readonly batchTtlSeconds?: number;
  /** Receives `verify:checked` when the check completes. */
  readonly events?: SyncEvents;
  readonly observer?: VerifyObserver;
}

export interface DriftExample {
  readonly key: string;
  readonly kind: DriftKind;
  readonly detail: string;
}

export interface TableVerification {
  readonly collection: string;
  readonly table: string;
  /** Documents in the ArangoDB collection at T. */
  readonly documents: number;
  /** Rows (with a legacy_id) in the PostgreSQL table. */
  readonly rows: number;
  readonly equal: number;
  /** Documents and rows set aside because one side holds a change the other has not seen yet. */
  readonly inFlight: number;
  /** Documents PostgreSQL does not mirror, for a recorded reason, by that reason. */
  readonly explained: Readonly<Record<string, number>>;
  readonly drift: Readonly<Record<DriftKind, number>>;
  /** The first few drifting keys, to start an investigation with. */
  readonly examples: readonly DriftExample[];
}

export interface VerifyStats {
  readonly startedAtMs: number;
  readonly durationMs: number;
  /** Documents compared plus rows checked by the extra-row pass. */
  readonly rowsVerified: number;
  readonly rowsPerSecond: number;
  /** PostgreSQL lookups by key, and the most keys one of them asked for. */
  readonly lookups: number;
  readonly largestLookup: number;
  /** Tables whose row counts called for the extra-row pass. */
  readonly extraRowPasses: readonly string[];
  /** `wal/tail` calls made to tell changes in flight from drift. */
  readonly walCalls: number;
  /** The most keys held at once for the WAL window. */
  readonly pendingPeak: number;
}

export interface MirrorVerification {
  readonly verdict: "consistent" | "drift";
  readonly mode: "full";
  /** T: the tick of the ArangoDB snapshot compared. */
  readonly sourceTick: bigint;
  /** A: what PostgreSQL had applied in the snapshot compared. */
  readonly appliedTick: bigint;
  readonly tables: readonly TableVerification[];
  /** Open dead letters per table and reason. */
  readonly deadLetters: TargetBacklog["deadLetters"];
  /** Parked rows per table and what their parent is awaited for. */
  readonly parked: readonly {
    readonly table: string;
    readonly reason: string;
    readonly count: number;
  }[];
  readonly stats: VerifyStats;
}

const DEFAULTS = {
  dumpChunkSize: 4 * 1024 * 1024,
  chunkDocuments: 1000,
  tailChunkSize: 4 * 1024 * 1024,
  examplesPerTable: 5,
  maxPendingKeys: 10_000,
  batchTtlSeconds: 300,
} as const;

/** The running counts of one table. */
class TableTally {
  documents = 0;
  rows = 0;
  equal = 0;
  inFlight = 0;
  /** Rows found by the extra-row pass (extra or in flight). */
  rowsChecked = 0;
  readonly explained = new Map<string, number>();
  readonly drift: Record<DriftKind, number> = { missing: 0, extra: 0, revision: 0, content: 0 };
  readonly examples: DriftExample[] = [];

  constructor(
    readonly table: CompiledTable,
    private readonly examplesKept: number,
  ) {}

  explain(label: string): void {
    this.explained.set(label, (this.explained.get(label) ?? 0) + 1);
  }

  drifted(key: string, kind: DriftKind, detail: string): void {
    this.drift[kind] += 1;
    if (this.examples.length < this.examplesKept) this.examples.push({ key, kind, detail });
  }

  result(): TableVerification {
    return {
      collection: this.table.collection,
      table: this.table.table,
      documents: this.documents,
      rows: this.rows,
      equal: this.equal,
      inFlight: this.inFlight,
      explained: Object.fromEntries([...this.explained].sort((a, b) => b[1] - a[1])),
      drift: { ...this.drift },
      examples: [...this.examples],
    };
  }
}

type Pending =
  /** A document that looked like drift while PostgreSQL was behind T. */
  | {
      readonly kind: "suspect";
      readonly tally: TableTally;
      readonly key: string;
      readonly drift: DriftKind;
      readonly detail: string;
    }
  /** A row (legacy_tick ≤ T) whose key ArangoDB does not have now. */
  | { readonly kind: "absent"; readonly tally: TableTally; readonly key: string };

/**
 * Keys waiting for the WAL to say whether a change is in flight. Flushed when full and at the
 * end, so at most `limit` keys are held.
 */
class PendingChecks {
  private items: Pending[] = [];
  peak = 0;
  walCalls = 0;

  constructor(
    private readonly api: ReplicationApi,
    private readonly catalog: CollectionCatalog,
    private readonly sourceTick: bigint,
    private readonly appliedTick: bigint,
    private readonly limit: number,
    private readonly tailChunkSize: number,
  ) {}

  async add(item: Pending): Promise<void> {
    this.items.push(item);
    this.peak = Math.max(this.peak, this.items.length);
    if (this.items.length >= this.limit) await this.flush();
  }

  async flush(): Promise<void> {
    const items = this.items;
    this.items = [];
    if (items.length === 0) return;
    const window = await this.readWindow(items);
    for (const item of items) {
      const history = window?.history(item.tally.table.collection, item.key);
      const upTo = history?.upToSnapshot;
      if (item.kind === "suspect") {
        // Changed in ArangoDB between what PostgreSQL applied and T: not applied yet.
        if (upTo !== undefined) item.tally.inFlight += 1;
        else item.tally.drifted(item.key, item.drift, item.detail);
        continue;
      }
      item.tally.rowsChecked += 1;
      if (history?.afterSnapshot === true) {
        // Gone now, and changed since T: removed before T only if the last change up to T was a
        // removal; otherwise the key may well have been in the snapshot (and compared there).
        if (upTo === "remove") item.tally.inFlight += 1;
        continue;
      }
      // Absent now and untouched since T, so absent at T as well.
      if (upTo !== undefined) item.tally.inFlight += 1;
      else item.tally.drifted(item.key, "extra", "row whose document ArangoDB does not have");
    }
  }

  private async readWindow(items: readonly Pending[]): Promise<WalWindow | undefined> {
    const from = this.appliedTick < this.sourceTick ? this.appliedTick : this.sourceTick;
    // Rows missing in ArangoDB were looked up after T: changes up to now matter for them.
    const to = items.some((i) => i.kind === "absent")
      ? maxOf(this.sourceTick, await this.api.lastTick())
      : this.sourceTick;
    if (from >= to) return undefined;
    const keys = new Map<string, Set<string>>();
    for (const item of items) {
      const collection = item.tally.table.collection;
      let set = keys.get(collection);
      if (set === undefined) {
        set = new Set();
        keys.set(collection, set);
      }
      set.add(item.key);
    }
    const window = await readWalWindow(this.api, {
      from,
      snapshotTick: this.sourceTick,
      to,
      catalog: this.catalog,
      keys,
      chunkSize: this.tailChunkSize,
    });
    this.walCalls += window.calls;
    return window;
  }
}

export async function verifyMirror(options: VerifyMirrorOptions): Promise<MirrorVerification> {
  const startedAtMs = Date.now();
  const started = performance.now();
  const chunkDocuments = options.chunkDocuments ?? DEFAULTS.chunkDocuments;
  const { mapping } = options;
  const reader = new SnapshotReader(options.api, {
    ttlSeconds: options.batchTtlSeconds ?? DEFAULTS.batchTtlSeconds,
    chunkSize: options.dumpChunkSize ?? DEFAULTS.dumpChunkSize,
  });
  let lookups = 0;
  let largestLookup = 0;
  const lookedUp = (
    table: string,
    pass: "documents" | "extra-rows",
    keys: number,
    rows: number,
  ) => {
    lookups += 1;
    largestLookup = Math.max(largestLookup, keys);
    options.observer?.lookedUp?.({ table, pass, keys, rows });
  };

  const batch = await reader.open();
  try {
    const sourceTick = batch.snapshotTick;
    await options.observer?.sourcePinned?.(sourceTick);
    const target = await MirrorReader.open({
      url: options.pgUrl,
      sourceDatabase: options.sourceDatabase,
    });
    try {
      const appliedTick = target.appliedTick;
      if (appliedTick === null) {
        throw new SyncError(
          "USAGE",
          `PostgreSQL holds no applied tick for ArangoDB database ${options.sourceDatabase}: nothing to verify until a snapshot completes (run \`arango-pg-sync snapshot\` or \`run\`)`,
        );
      }
      const present = new Set(batch.inventory.collections.map((c) => c.name));
      const pending = new PendingChecks(
        options.api,
        CollectionCatalog.fromEntries(
          batch.inventory.collections.map((c) => ({
            cuid: c.globallyUniqueId,
            name: c.name,
            type: c.type === 3 ? "edge" : "document",
          })),
        ),
        sourceTick,
        appliedTick,
        options.maxPendingKeys ?? DEFAULTS.maxPendingKeys,
        options.tailChunkSize ?? DEFAULTS.tailChunkSize,
      );
      const behind = appliedTick < sourceTick;
      const tallies: TableTally[] = [];
      const extraRowPasses: string[] = [];

      for (const table of mapping.tables) {
        const tally = new TableTally(table, options.examplesPerTable ?? DEFAULTS.examplesPerTable);
        tallies.push(tally);
        // Per bucket: rows (legacy_tick ≤ T) of keys the snapshot has; and rows newer than T.
        const matchedUpTo = new Uint32Array(KEY_BUCKETS);
        let matchedAfter = 0;

        if (present.has(table.collection)) {
          for await (const lines of reader.documents(batch.id, table.collection)) {
            for (let start = 0; start < lines.length; start += chunkDocuments) {
              const documents = lines
                .slice(start, start + chunkDocuments)
                .map((line) => sourceDocument(table, line, sourceTick));
              const chunk = await target.lookup(
                table,
                documents.map((d) => d.key),
                parentLookups(documents),
              );
              lookedUp(table.table, "documents", documents.length, chunk.rows.size);
              const parents = parentsIn(mapping, chunk);
              for (const document of documents) {
                tally.documents += 1;
                const row = chunk.rows.get(document.key);
                if (row !== undefined) {
                  if (row.tick !== null && row.tick > sourceTick) matchedAfter += 1;
                  else matchedUpTo[row.bucket] = (matchedUpTo[row.bucket] ?? 0) + 1;
                }
                const found = classifyDocument(
                  table,
                  document,
                  keyIn(table, chunk, document.key),
                  parents,
                  sourceTick,
                );
                switch (found.class) {
                  case "equal":
                    tally.equal += 1;
                    break;
                  case "explained":
                    tally.explain(found.label);
                    break;
                  case "in-flight":
                    tally.inFlight += 1;
                    break;
                  case "drift":
                    if (behind) {
                      await pending.add({
                        kind: "suspect",
                        tally,
                        key: document.key,
                        drift: found.kind,
                        detail: found.detail,
                      });
                    } else {
                      tally.drifted(document.key, found.kind, found.detail);
                    }
                }
              }
            }
          }
        }

        const counts = await target.countRows(table, sourceTick);
        tally.rows = counts.total;
        // Rows newer than T of keys the snapshot does not have: inserted after T.
        tally.inFlight += Math.max(0, counts.after - matchedAfter);
        const buckets = [...counts.upTo]
          .filter(([bucket, n]) => n > (matchedUpTo[bucket] ?? 0))
          .map(([bucket]) => bucket);
        if (buckets.length === 0) continue;
        extraRowPasses.push(table.table);
        let after: string | undefined;
        for (;;) {
          const keys = await target.keysInBuckets(
            table,
            buckets,
            sourceTick,
            after,
            chunkDocuments,
          );
          lookedUp(table.table, "extra-rows", keys.length, keys.length);
          if (keys.length === 0) break;
          after = keys[keys.length - 1];
          const existing = present.has(table.collection)
            ? await options.documents.existing(table.collection, keys)
            : new Set<string>();
          for (const key of keys) {
            if (!existing.has(key)) await pending.add({ kind: "absent", tally, key });
          }
          if (keys.length < chunkDocuments) break;
        }
      }
      await pending.flush();

      const backlog = await target.backlog();
      const tables = tallies.map((t) => t.result());
      const durationMs = performance.now() - started;
      const rowsVerified = tallies.reduce((sum, t) => sum + t.documents + t.rowsChecked, 0);
      const drifting = tables.some((t) => DRIFT_KINDS.some((kind) => t.drift[kind] > 0));
      const result: MirrorVerification = {
        verdict: drifting ? "drift" : "consistent",
        mode: "full",
        sourceTick,
        appliedTick,
        tables,
        deadLetters: backlog.deadLetters,
        parked: parkedByReason(mapping, backlog),
        stats: {
          startedAtMs,
          durationMs,
          rowsVerified,
          rowsPerSecond: durationMs > 0 ? (rowsVerified / durationMs) * 1000 : rowsVerified,
          lookups,
          largestLookup,
          extraRowPasses,
          walCalls: pending.walCalls,
          pendingPeak: pending.peak,
        },
      };
      options.events?.emit("verify:checked", {
        mode: "full",
        checkedAtMs: Date.now(),
        tables: tallies.map((t) => ({
          table: t.table.table,
          checked: t.documents + t.rowsChecked,
          inFlight: t.inFlight,
          drift: DRIFT_KINDS.map((kind) => ({ kind, rows: t.drift[kind] })),
        })),
      });
      return result;
    } finally {
      await target.close();
    }
  } finally {
    await reader.close(batch.id);
  }
}

function sourceDocument(table: CompiledTable, line: string, tick: bigint): SourceDocument {
  const document = JSON.parse(line) as JsonObject;
  const key = document["_key"];
  const rev = document["_rev"];
  if (typeof key !== "string" || typeof rev !== "string") {
    throw new SyncError(
      "SOURCE_PROTOCOL",
      `a dump line of ${table.collection} is not a document with _key and _rev`,
    );
  }
  return { key, rev, built: table.buildRow({ key, rev, tick, document }) };
}

/** The referenced values of a chunk, one lookup per referenced (table, column). */
function parentLookups(documents: readonly SourceDocument[]): ParentLookup[] {
  const lookups = new Map<string, { table: string; column: string; values: Set<string> }>();
  for (const { built } of documents) {
    if (!built.ok) continue;
    for (const ref of built.row.parents) {
      const id = parentKey(ref.table, ref.lookupColumn);
      let lookup = lookups.get(id);
      if (lookup === undefined) {
        lookup = { table: ref.table, column: ref.lookupColumn, values: new Set() };
        lookups.set(id, lookup);
      }
      lookup.values.add(ref.value);
    }
  }
  return [...lookups.values()].map((l) => ({ ...l, values: [...l.values] }));
}

function parentsIn(mapping: CompiledMapping, chunk: TargetChunk): ParentsInTarget {
  return {
    exists: (ref) =>
      chunk.parents.get(parentKey(ref.table, ref.lookupColumn))?.has(ref.value) === true,
    removedAt: (ref: ParentReference) => {
      // Tombstones are keyed by legacy_id: only a reference by a mirrored table's key has one.
      const parent = mapping.tables.find((t) => t.table === ref.table);
      if (parent?.keyColumn !== ref.lookupColumn) return undefined;
      return chunk.tombstones.get(ref.table)?.get(ref.value);
    },
  };
}

function keyIn(table: CompiledTable, chunk: TargetChunk, key: string): KeyInTarget {
  return {
    row: chunk.rows.get(key),
    parked: chunk.parked.get(key),
    deadLetters: chunk.deadLetters.get(key) ?? [],
    tombstoneTick: chunk.tombstones.get(table.table)?.get(key),
  };
}

function parkedByReason(
  mapping: CompiledMapping,
  backlog: TargetBacklog,
): { table: string; reason: string; count: number }[] {
  const parked = new Map<string, { table: string; reason: string; count: number }>();
  for (const entry of backlog.parked) {
    const reason = parkReason(
      mapping.tables.find((t) => t.table === entry.table),
      entry.parentTable,
    );
    const id = `${entry.table}\u0000${reason}`;
    const total = parked.get(id) ?? { table: entry.table, reason, count: 0 };
    total.count += entry.count;
    parked.set(id, total);
  }
  return [...parked.values()];
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
