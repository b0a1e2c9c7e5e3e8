/**
 * The emulated RocksDB write-ahead log (arangodb-protocol.md §8, §11, §16).
 *
 * The WAL is a list of atomic write batches. Each key-value write consumes one sequence number;
 * "log data" records (transaction begin/commit) consume none, so marker ticks are sparse and not
 * unique: a begin marker carries the tick of the first write of its batch, a commit marker the tick
 * of the last one, and a collection drop the tick of the write that follows its log record. Records
 * keep references to the live catalog objects so the tail can apply the read-time filters of §7.4
 * (markers of collections that no longer exist are skipped; names are resolved when read).
 */
import type { CollectionState, DatabaseState, StoredDocument } from "./catalog.js";

export type WalRecord =
  | { kind: "begin"; tick: bigint; database: DatabaseState; tid: string }
  | { kind: "commit"; tick: bigint; database: DatabaseState; tid: string }
  | {
      kind: "document";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
      tid: string;
      document: StoredDocument;
    }
  | {
      kind: "remove";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
      tid: string;
      key: string;
      rev: string;
    }
  | {
      kind: "collection-create";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
      definition: object;
    }
  | { kind: "collection-drop"; tick: bigint; database: DatabaseState; collection: CollectionState }
  | {
      kind: "collection-rename";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
    }
  | {
      kind: "collection-change";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
      definition: object;
    }
  | {
      kind: "collection-truncate";
      tick: bigint;
      database: DatabaseState;
      collection: CollectionState;
    }
  | { kind: "database-create"; tick: bigint; database: DatabaseState; definition: object }
  | { kind: "database-drop"; tick: bigint; database: DatabaseState };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A record as the engine hands it over, before sequence numbers are assigned. `writes` is the
 * number of key-value operations the record stands for (0 for log data).
 */
export type PendingRecord = DistributiveOmit<WalRecord, "tick"> & { writes: number };

export interface WriteBatch {
  /** First sequence number of the batch. */
  readonly start: bigint;
  /** Last sequence number of the batch (>= start). */
  readonly end: bigint;
  readonly records: readonly WalRecord[];
}

/** How many sequence numbers each kind of write consumes (only monotonicity and sparseness matter). */
export const WriteCost = {
  document: 2,
  edgeDocument: 4,
  remove: 2,
  edgeRemove: 4,
  collectionDefinition: 1,
  collectionDrop: 4,
  databaseDefinition: 1,
  databaseDrop: 2,
} as const;

export class WriteAheadLog {
  private readonly batches: WriteBatch[] = [];
  /** Index into `batches` of the oldest retained batch (pruned batches are dropped lazily). */
  private head = 0;
  private last: bigint;
  private readonly listeners = new Set<() => void>();

  constructor(firstSequence = 1n) {
    this.last = firstSequence - 1n;
  }

  /**
   * A WAL holding previously saved batches (persistence.ts). `lastSequence` may exceed the end of
   * the last batch: sequence numbers consumed by writes that left no batch are not handed out twice.
   */
  static restore(batches: readonly WriteBatch[], lastSequence: bigint): WriteAheadLog {
    const first = batches[0]?.start ?? lastSequence + 1n;
    const wal = new WriteAheadLog(first);
    for (const batch of batches) {
      if (batch.start <= wal.last || batch.end < batch.start) {
        throw new Error(`WAL batches out of order at sequence ${batch.start}`);
      }
      wal.batches.push(batch);
      wal.last = batch.end;
    }
    if (lastSequence > wal.last) wal.last = lastSequence;
    return wal;
  }

  /** The newest sequence number (`lastTick`, `tickMax`). */
  get lastSequence(): bigint {
    return this.last;
  }

  /** Start of the oldest retained batch (`tickMin`); the next sequence number when the WAL is empty. */
  get firstSequence(): bigint {
    return this.batches[this.head]?.start ?? this.last + 1n;
  }

  get retainedBatches(): readonly WriteBatch[] {
    return this.head === 0 ? this.batches : this.batches.slice(this.head);
  }

  /**
   * Appends one atomic write batch and stamps its records with ticks. Returns undefined when the
   * records consume no sequence number (nothing reaches the WAL).
   */
  append(pending: readonly PendingRecord[]): WriteBatch | undefined {
    const totalWrites = pending.reduce((sum, r) => sum + r.writes, 0);
    if (totalWrites === 0) return undefined;
    const start = this.last + 1n;
    const end = start + BigInt(totalWrites) - 1n;
    let next = start;
    const records: WalRecord[] = [];
    for (const record of pending) {
      const { writes, ...rest } = record;
      let tick: bigint;
      switch (rest.kind) {
        case "begin":
          tick = start;
          break;
        case "commit":
          tick = end;
          break;
        case "collection-drop":
        case "database-drop":
          // The drop's log record precedes its writes: stamped with the write that follows it.
          tick = next;
          break;
        case "remove":
          // The remove marker is printed at the primary-index delete, which follows the
          // document delete (MyWALDumper::handleDeleteCF).
          tick = writes > 1 ? next + 1n : next;
          break;
        case "collection-truncate":
          // Stamped with the last range delete written before it.
          tick = next + BigInt(Math.max(writes, 1)) - 1n;
          break;
        default:
          tick = next;
      }
      next += BigInt(writes);
      records.push({ ...rest, tick });
    }
    const batch: WriteBatch = { start, end, records };
    this.batches.push(batch);
    this.last = end;
    for (const listener of this.listeners) listener();
    return batch;
  }

  /** Writes that consume sequence numbers but produce no marker (index and background writes). */
  appendSilentWrites(count: number): void {
    if (count <= 0) return;
    const start = this.last + 1n;
    this.last = start + BigInt(count) - 1n;
    this.batches.push({ start, end: this.last, records: [] });
    for (const listener of this.listeners) listener();
  }

  /**
   * Index of the first retained batch whose last sequence is >= `since` (RocksDB's
   * GetUpdatesSince starts at the batch containing `since`), or the length when there is none.
   */
  indexOfBatchReaching(since: bigint): number {
    let low = this.head;
    let high = this.batches.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const batch = this.batches[mid];
      if (batch !== undefined && batch.end < since) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  batchAt(index: number): WriteBatch | undefined {
    return index >= this.head ? this.batches[index] : undefined;
  }

  get batchCount(): number {
    return this.batches.length;
  }

  /**
   * Removes every batch that lies entirely below `minTick`, keeping at least the newest batch
   * (RocksDB never deletes the live WAL file). Returns how many batches were removed.
   */
  pruneBelow(minTick: bigint): number {
    let removed = 0;
    while (this.head < this.batches.length - 1) {
      const batch = this.batches[this.head];
      if (batch === undefined || batch.end >= minTick) break;
      this.head += 1;
      removed += 1;
    }
    // Compact once the dead prefix dominates, so memory follows the retained WAL.
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
    return removed;
  }

  /** Called after every append; the tail uses it to wake waiting readers in tests and the demo. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
