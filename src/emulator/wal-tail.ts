/**
 * `GET /_api/wal/tail` on a RocksDB single server: the scan of arangodb-protocol.md §4.3, read
 * against RocksDBWalAccess::tail and MyWALDumper (3.8+).
 *
 * - `from` is exclusive; scanning starts at `lastScanned` when `0 < lastScanned < from`, so a
 *   transaction cut in a previous response is re-read from its batch start and only its markers
 *   with tick > from are printed.
 * - Responses hold whole write batches; the size check runs after each batch. Only a transaction
 *   may be cut inside its batch, and only when the client sent `lastScanned` (pre-3.4 clients
 *   never see split batches). The cut follows `MyWALDumper::Continue()`, which RocksDB consults
 *   before every entry of a write batch (each key-value write and each log-data record): once the
 *   response exceeds the limit while a transaction is open and no remove is half-read, one more
 *   entry is processed and the scan stops before the next one. A document write is followed by
 *   its primary-index write, so a cut after a document never prints the next marker; a remove
 *   prints at its primary-index delete (the last write of a document-collection remove), so a
 *   transaction's commit log entry right after it is still processed and printed.
 * - Markers of collections or databases that are gone at read time are skipped; names and `_id`s
 *   are resolved against the current catalog (§7.4).
 */
import {
  type CollectionState,
  type DatabaseState,
  EDGE_COLLECTION,
  type StoredDocument,
} from "./catalog.js";
import type { WalRecord, WriteAheadLog } from "./write-ahead-log.js";

export interface TailFilter {
  /** The database tailed; undefined for `global=true` on `_system`. */
  database: DatabaseState | undefined;
  from: bigint;
  to: bigint;
  lastScanned: bigint;
  chunkSize: number;
  includeSystem: boolean;
  includeFoxxQueues: boolean;
  /** The `collection=` restriction, if any. */
  collection: CollectionState | undefined;
}

export interface TailResult {
  /** Compact JSON markers, each followed by "\n". */
  body: string;
  markerCount: number;
  lastIncluded: bigint;
  lastScanned: bigint;
  lastTick: bigint;
  fromPresent: boolean;
  checkMore: boolean;
}

export const MIN_CHUNK_SIZE = 16384;
export const MAX_CHUNK_SIZE = 128 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

/** System collections never replicated, whatever includeSystem says (TRI_ExcludeCollectionReplication). */
const ALWAYS_EXCLUDED = [
  "_statistics",
  "_configuration",
  "_frontend",
  "_cluster_kickstarter_plans",
  "_routing",
  "_fishbowl",
  "_foxxlog",
  "_sessions",
];

export function isExcludedCollection(
  name: string,
  includeSystem: boolean,
  includeFoxxQueues: boolean,
): boolean {
  if (!name.startsWith("_")) return false;
  if (!includeSystem) return true;
  if (ALWAYS_EXCLUDED.some((prefix) => name.startsWith(prefix))) return true;
  return !includeFoxxQueues && (name === "_jobs" || name === "_queues");
}

export function tailWal(wal: WriteAheadLog, filter: TailFilter): TailResult {
  const chunkSize = Math.min(Math.max(filter.chunkSize, MIN_CHUNK_SIZE), MAX_CHUNK_SIZE);
  const maxTransactionSize = filter.lastScanned > 0n ? chunkSize : Number.POSITIVE_INFINITY;
  const since =
    filter.lastScanned > 0n && filter.lastScanned < filter.from ? filter.lastScanned : filter.from;
  const latest = wal.lastSequence;

  if (since > latest) {
    // RocksDB's GetUpdatesSince answers NotFound, which the tail maps to an empty, error-free
    // result: fromPresent only when from equals the latest sequence (RocksDBWalAccess::tail).
    return {
      body: "",
      markerCount: 0,
      lastIncluded: 0n,
      lastScanned: 0n,
      lastTick: latest,
      fromPresent: filter.from === latest,
      checkMore: false,
    };
  }

  const scan = new BatchScan(filter, maxTransactionSize);
  let lastScanned = since;
  let firstTick: bigint | undefined;

  for (let index = wal.indexOfBatchReaching(since); index < wal.batchCount; index++) {
    if (lastScanned > filter.to) break;
    const batch = wal.batchAt(index);
    if (batch === undefined) break;
    firstTick ??= batch.start;
    if (batch.start > filter.to) break;
    lastScanned = batch.start;
    if (batch.start < since) continue;

    const complete = scan.iterate(batch.records);
    // A cut batch always leaves the response above the limit, so lastScanned stays at its start.
    if (!complete || scan.size >= chunkSize) break;
    lastScanned = batch.end;
  }

  const lastTick = wal.lastSequence;
  const lastIncluded = scan.lastIncluded;
  return {
    body: scan.lines.length === 0 ? "" : `${scan.lines.join("\n")}\n`,
    markerCount: scan.lines.length,
    lastIncluded,
    lastScanned,
    lastTick,
    fromPresent: firstTick !== undefined && firstTick <= filter.from,
    checkMore: lastIncluded > 0n && lastIncluded < lastTick,
  };
}

/** The state MyWALDumper carries through the write batches of one tail call. */
class BatchScan {
  readonly lines: string[] = [];
  size = 0;
  lastIncluded = 0n;
  private stopOnNext = false;
  /** `_state == TRANSACTION`: a begin marker of a handled database was read. */
  private inTransaction = false;
  /** `_removedDocRid` is set: a remove's log entry was read, its primary-index delete not yet. */
  private removePending = false;

  constructor(
    private readonly filter: TailFilter,
    private readonly maxTransactionSize: number,
  ) {}

  /** Reads one write batch; false when the scan stopped inside it. */
  iterate(records: readonly WalRecord[]): boolean {
    this.inTransaction = false;
    this.removePending = false;
    let index = 0;
    if (this.size === 0) {
      // Entries at or below `from` print nothing and, with an empty response, cannot trigger a
      // cut: skip them (a transaction re-read after a cut would otherwise cost its whole length
      // per call). What they leave behind is whether a transaction is open.
      index = firstAbove(records, this.filter.from);
      const first = records[0];
      if (index >= records.length) return true;
      if (index > 0 && first?.kind === "begin") {
        this.inTransaction = this.handlesDatabase(first.database);
      }
    }
    for (; index < records.length; index++) {
      const record = records[index];
      if (record === undefined) break;
      switch (record.kind) {
        case "begin":
          if (!this.proceed()) return false;
          this.inTransaction = this.handlesDatabase(record.database);
          if (this.inTransaction) this.print(record);
          break;
        case "commit":
          if (!this.proceed()) return false;
          if (this.inTransaction) this.print(record);
          this.inTransaction = false;
          break;
        case "document":
          // Document write (printed), then the primary-index write and any edge-index writes.
          if (!this.proceed()) return false;
          if (record.tid === "0") this.inTransaction = false;
          if (shouldHandleCollection(record.collection, this.filter)) this.print(record);
          if (!this.proceed()) return false;
          break;
        case "remove": {
          // Log entry carrying the removed revision, document delete, primary-index delete
          // (printed), then edge-index deletes for edge collections.
          if (!this.proceed()) return false;
          if (record.tid === "0") this.inTransaction = false;
          this.removePending = this.inTransaction;
          if (!this.proceed()) return false;
          if (!this.proceed()) return false;
          if (shouldHandleCollection(record.collection, this.filter)) this.print(record);
          this.removePending = false;
          if (record.collection.type === EDGE_COLLECTION) {
            if (!this.proceed()) return false;
            if (!this.proceed()) return false;
          }
          break;
        }
        default:
          // DDL log entries end any open transaction state (resetTransientState).
          if (!this.proceed()) return false;
          this.inTransaction = false;
          if (shouldPrint(record, this.filter)) this.print(record);
      }
    }
    return true;
  }

  /** `MyWALDumper::Continue()`. */
  private proceed(): boolean {
    if (this.stopOnNext) return false;
    if (this.size > this.maxTransactionSize && this.inTransaction && !this.removePending) {
      this.stopOnNext = true;
    }
    return true;
  }

  private handlesDatabase(database: DatabaseState): boolean {
    if (database.dropped) return false;
    return this.filter.database === undefined || this.filter.database === database;
  }

  /** `printMarker`: only markers above `from` reach the response. */
  private print(record: WalRecord): void {
    if (record.tick <= this.filter.from) return;
    const line = markerJson(record);
    this.lines.push(line);
    this.size += line.length + 1;
    this.lastIncluded = record.tick;
  }
}

/** Index of the first record with a tick above `from` (ticks never decrease within a batch). */
function firstAbove(records: readonly WalRecord[], from: bigint): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const record = records[mid];
    if (record !== undefined && record.tick <= from) low = mid + 1;
    else high = mid;
  }
  return low;
}

function shouldPrint(record: WalRecord, filter: TailFilter): boolean {
  const { database } = record;
  if (filter.database !== undefined && database !== filter.database) return false;
  switch (record.kind) {
    case "database-create":
      return !database.dropped;
    case "database-drop":
      return true;
    case "begin":
    case "commit":
      return !database.dropped;
    case "collection-drop":
      // Drops only need the database filter: the collection is gone by definition.
      return !database.dropped;
    default:
      return shouldHandleCollection(record.collection, filter);
  }
}

function shouldHandleCollection(collection: CollectionState, filter: TailFilter): boolean {
  if (filter.database !== undefined && collection.database !== filter.database) return false;
  if (collection.dropped || collection.database.dropped) return false;
  if (filter.collection !== undefined && filter.collection !== collection) return false;
  return !isExcludedCollection(collection.name, filter.includeSystem, filter.includeFoxxQueues);
}

const documentJsonCache = new WeakMap<StoredDocument, { name: string; json: string }>();

/** The document as it is dumped, with `_id` from the collection's current name; cached per version. */
export function documentJson(collection: CollectionState, document: StoredDocument): string {
  const cached = documentJsonCache.get(document);
  if (cached?.name === collection.name) return cached.json;
  const json = JSON.stringify(collection.present(document));
  documentJsonCache.set(document, { name: collection.name, json });
  return json;
}

/** One marker line; key order as MyWALDumper builds it (§7.3). */
export function markerJson(record: WalRecord): string {
  const tick = `"tick":"${record.tick}"`;
  const db = `"db":${JSON.stringify(record.database.name)}`;
  switch (record.kind) {
    case "begin":
      return `{${tick},"type":2200,"tid":"${record.tid}",${db}}`;
    case "commit":
      return `{${tick},"type":2201,"tid":"${record.tid}",${db}}`;
    case "document":
      return `{${tick},"type":2300,${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)},"tid":"${record.tid}","data":${documentJson(record.collection, record.document)}}`;
    case "remove":
      return `{${tick},"type":2302,${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)},"tid":"${record.tid}","data":${JSON.stringify({ _key: record.key, _rev: record.rev })}}`;
    case "collection-create":
      return `{${tick},${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)},"type":2000,"data":${JSON.stringify(record.definition)}}`;
    case "collection-drop":
      return `{${tick},"type":2001,${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)}}`;
    case "collection-rename":
      return `{${tick},${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)},"type":2002,"data":${JSON.stringify({ name: record.collection.name })}}`;
    case "collection-change":
      return `{${tick},${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)},"type":2003,"data":${JSON.stringify(record.definition)}}`;
    case "collection-truncate":
      return `{${tick},"type":2004,${db},"cuid":${JSON.stringify(record.collection.globallyUniqueId)}}`;
    case "database-create":
      return `{${tick},"type":1100,${db},"data":${JSON.stringify(record.definition)}}`;
    case "database-drop":
      return `{${tick},"type":1101,${db}}`;
  }
}
