/**
 * Dump batches (RocksDB replication contexts): `POST /_api/replication/batch` pins a snapshot,
 * `inventory` and `dump` read through it (arangodb-protocol.md §6.2–§6.6;
 * RocksDBReplicationManager.cpp, RocksDBReplicationContext.cpp).
 *
 * - The snapshot is taken when the batch is created: every collection's documents as they are at
 *   the batch's `lastTick`. Stored documents are immutable objects, so a shallow copy of each
 *   collection's document list is a consistent snapshot; nothing is copied per document.
 * - A dump keeps one cursor per (batch, collection): each call continues where the previous one
 *   stopped. A chunk holds whole documents and stops once it reached `chunkSize` bytes (so it
 *   always holds at least one). The cursor's counter starts at 1 and grows by one per chunk after
 *   which more remains; it is sent as `x-arango-replication-lastincluded`. When a chunk exhausts
 *   the collection the cursor is released, so a further call starts a new cursor from the start
 *   of the snapshot (`releaseDumpIterator`).
 * - Lifetime: a batch expires `ttl` seconds after its last use; every lookup extends it by
 *   `max(ttl of the batch, requested ttl)` (`RocksDBReplicationContext::extendLifetime`).
 * - Dropping a collection or database removes every batch holding an open cursor on it
 *   (`RocksDBReplicationManager::drop`); a later lookup of such a batch fails like an unknown id.
 */
import type { CollectionState, StoredDocument } from "./catalog.js";
import type { EmulatedServer } from "./emulated-server.js";
import {
  type ClientIdentity,
  DEFAULT_REPLICATION_TTL_SECONDS,
  type ReplicationClients,
} from "./replication-clients.js";
import { documentJson } from "./wal-tail.js";

interface DumpCursor {
  readonly collection: CollectionState;
  readonly documents: readonly StoredDocument[];
  position: number;
  /** `CollectionIterator::currentTick`. */
  counter: number;
}

export interface DumpChunk {
  /** One compact JSON line per document, each ending with "\n"; empty when nothing was left. */
  body: string;
  hasMore: boolean;
  /** The cursor's chunk counter (`x-arango-replication-lastincluded` when the body is not empty). */
  counter: number;
}

export class DumpBatch {
  expires: number;
  private readonly cursors = new Map<CollectionState, DumpCursor>();

  constructor(
    readonly id: string,
    /** The client a dump or inventory call registers (`replicationClientServerId` defaults to the id). */
    readonly identity: ClientIdentity,
    readonly snapshotTick: bigint,
    readonly ttlSeconds: number,
    private readonly snapshot: ReadonlyMap<CollectionState, readonly StoredDocument[]>,
    now: number,
  ) {
    this.expires = now + ttlSeconds * 1000;
  }

  /** `extendLifetime(ttl)`: the batch lives on for `max(own ttl, ttl)` seconds from now. */
  extendLifetime(now: number, ttlSeconds = 0): number {
    const ttl = Math.max(this.ttlSeconds, ttlSeconds);
    this.expires = now + ttl * 1000;
    return ttl;
  }

  /** Whether a cursor of this batch reads a collection or database that has been dropped. */
  get invalidated(): boolean {
    for (const collection of this.cursors.keys()) {
      if (collection.dropped || collection.database.dropped) return true;
    }
    return false;
  }

  /** Databases this batch has open cursors in (extending a batch refreshes their clients). */
  cursorDatabases(): Set<CollectionState["database"]> {
    return new Set([...this.cursors.keys()].map((collection) => collection.database));
  }

  /** The next chunk of a collection's snapshot (`dumpJson`). */
  dump(collection: CollectionState, chunkSize: number, useEnvelope: boolean): DumpChunk {
    let cursor = this.cursors.get(collection);
    if (cursor === undefined) {
      // A collection created after the snapshot has no documents in it.
      cursor = {
        collection,
        documents: this.snapshot.get(collection) ?? [],
        position: 0,
        counter: 1,
      };
      this.cursors.set(collection, cursor);
    }
    const lines: string[] = [];
    let size = 0;
    const { documents } = cursor;
    while (cursor.position < documents.length && size < chunkSize) {
      const document = documents[cursor.position];
      cursor.position += 1;
      if (document === undefined) continue;
      const json = documentJson(collection, document);
      const line = useEnvelope ? `{"type":2300,"data":${json}}` : json;
      lines.push(line);
      size += line.length + 1;
    }
    const hasMore = cursor.position < documents.length;
    if (hasMore) cursor.counter += 1;
    else this.cursors.delete(collection);
    return {
      body: lines.length === 0 ? "" : `${lines.join("\n")}\n`,
      hasMore,
      counter: cursor.counter,
    };
  }
}

/** All live batches of the server (`RocksDBReplicationManager`). */
export class DumpBatches {
  private readonly batches = new Map<string, DumpBatch>();

  constructor(private readonly state: EmulatedServer) {}

  /**
   * Creates a batch whose snapshot is the current state of every collection. JavaScript runs one
   * request at a time, so the copy and `lastTick` describe the same instant.
   */
  create(ttlSeconds: number, identity: ClientIdentity): DumpBatch {
    const snapshot = new Map<CollectionState, readonly StoredDocument[]>();
    for (const database of this.state.listDatabases()) {
      for (const collection of database.collections.values()) {
        snapshot.set(collection, Array.from(collection.documents.values()));
      }
    }
    const id = this.state.nextServerTick();
    const ttl = ttlSeconds > 0 ? ttlSeconds : DEFAULT_REPLICATION_TTL_SECONDS;
    const batch = new DumpBatch(
      id,
      // "buggy clients may not send the serverId": the batch id stands in for it.
      { ...identity, serverId: identity.serverId === 0n ? BigInt(id) : identity.serverId },
      this.state.wal.lastSequence,
      ttl,
      snapshot,
      this.state.now(),
    );
    this.batches.set(id, batch);
    return batch;
  }

  /** A live batch, its lifetime extended (`find`); undefined when unknown, expired or dropped. */
  find(id: string): DumpBatch | undefined {
    const batch = this.live(id);
    batch?.extendLifetime(this.state.now());
    return batch;
  }

  /**
   * `PUT /batch/<id>`: extends the batch and refreshes the client entries of the databases it has
   * cursors in; returns the batch or undefined when unknown.
   */
  extend(
    id: string,
    ttlSeconds: number,
    clientsOf: (database: CollectionState["database"]) => ReplicationClients,
  ): DumpBatch | undefined {
    const batch = this.live(id);
    if (batch === undefined) return undefined;
    const ttl = batch.extendLifetime(this.state.now(), ttlSeconds);
    for (const database of batch.cursorDatabases()) {
      clientsOf(database).track(batch.identity, batch.snapshotTick, ttl);
    }
    return batch;
  }

  remove(id: string): boolean {
    const batch = this.live(id);
    if (batch === undefined) return false;
    this.batches.delete(batch.id);
    return true;
  }

  /** Number of live batches. */
  get size(): number {
    this.collect();
    return this.batches.size;
  }

  /** Forgets every batch and cursor (server restart). */
  clear(): void {
    this.batches.clear();
  }

  /** Removes expired batches and batches whose cursors read dropped collections. */
  collect(): void {
    const now = this.state.now();
    for (const [id, batch] of this.batches) {
      if (batch.expires < now || batch.invalidated) this.batches.delete(id);
    }
  }

  private live(id: string): DumpBatch | undefined {
    const batch = this.batches.get(id);
    if (batch === undefined) return undefined;
    if (batch.expires < this.state.now() || batch.invalidated) {
      this.batches.delete(id);
      return undefined;
    }
    return batch;
  }
}
