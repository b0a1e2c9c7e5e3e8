/**
 * `GET /_api/wal/tail` on a RocksDB single server: the scan of arangodb-protocol.md §4.3, read
 * against RocksDBWalAccess::tail and MyWALDumper (3.8+).
 *
 * - `from` is exclusive; scanning starts at `lastScanned` when `0 < lastScanned < from`, so a
 *   transaction cut in a previous response is re-read from its batch start and only its markers
 *   with tick > from are printed.
 * - Responses hold whole write batches; the size check runs after each batch. Only a transaction
 *   may be cut inside its batch, and only when the client sent `lastScanned` (pre-3.4 clients
 *   never see split batches). The cut mirrors `MyWALDumper::Continue()`: once the response
 *   exceeds the limit inside a transaction, one more record is processed, then the scan stops.
 *   Because that record is processed whole, a cut right after the last operation still prints
 *   the commit marker in the same response.
 * - Markers of collections or databases that are gone at read time are skipped; names and `_id`s
 *   are resolved against the current catalog (§7.4).
 */
import type { CollectionState, DatabaseState, StoredDocument } from "./catalog.js";
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
    // RocksDB answers NotFound, which the handler maps to an empty, error-free result.
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

  const lines: string[] = [];
  let size = 0;
  let lastIncluded = 0n;
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

    let inTransaction = false;
    let stopOnNext = false;
    let cut = false;
    for (const record of batch.records) {
      if (stopOnNext) {
        cut = true;
        break;
      }
      if (record.kind === "begin") inTransaction = true;
      else if (record.kind !== "document" && record.kind !== "remove") inTransaction = false;
      if (record.tick > filter.from && shouldPrint(record, filter)) {
        const line = markerJson(record);
        lines.push(line);
        size += line.length + 1;
        lastIncluded = record.tick;
      }
      if (record.kind === "commit") inTransaction = false;
      if (inTransaction && size > maxTransactionSize) stopOnNext = true;
    }
    if (cut || size >= chunkSize) break;
    lastScanned = batch.end;
  }

  const lastTick = wal.lastSequence;
  return {
    body: lines.length === 0 ? "" : `${lines.join("\n")}\n`,
    markerCount: lines.length,
    lastIncluded,
    lastScanned,
    lastTick,
    fromPresent: firstTick !== undefined && firstTick <= filter.from,
    checkMore: lastIncluded > 0n && lastIncluded < lastTick,
  };
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
