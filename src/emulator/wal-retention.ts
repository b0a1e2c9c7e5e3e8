/**
 * WAL retention: which write batches the emulated server may delete, and when
 * (arangodb-protocol.md §11; RocksDBBackgroundThread.cpp, RocksDBEngine.cpp
 * `determinePrunableWalFiles` / `pruneWalFiles`, ReplicationClients.cpp).
 *
 * A background pass computes `minTick = min(latest sequence, lowest lastServedTick of the
 * registered clients of every database)`. Batches lying entirely below it become prunable and are
 * deleted `walFileTimeout` later (`--rocksdb.wal-file-timeout`, default 10 s). Nothing is pruned
 * during the first `walFileTimeoutInitial` after start (`--rocksdb.wal-file-timeout-initial`,
 * default 60 s). Client entries expire `ttl` after their last contact and are garbage-collected
 * by the same pass. The newest batch is never removed (RocksDB keeps the live WAL file).
 */
import type { DatabaseState } from "./catalog.js";
import type { EmulatedServer } from "./emulated-server.js";
import { type ClientIdentity, ReplicationClients } from "./replication-clients.js";

export interface RetentionOptions {
  /** `--rocksdb.wal-file-timeout` in ms (default 10 000). */
  walFileTimeoutMs?: number;
  /** `--rocksdb.wal-file-timeout-initial` in ms (default 60 000). */
  walFileTimeoutInitialMs?: number;
  /** Period of the background pass in ms (default 2 500, the engine's background thread). */
  pruneIntervalMs?: number;
}

export interface PruneResult {
  /** Write batches removed by this call. */
  removed: number;
  /** `wal/range` tickMin after the call. */
  tickMin: bigint;
  tickMax: bigint;
}

export class WalRetention {
  private readonly registries = new Map<DatabaseState, ReplicationClients>();
  /** Prunable ranges: batches ending below `below` are deleted once `due` has passed. */
  private pending: { below: bigint; due: number }[] = [];
  private readonly startedAt: number;
  private readonly walFileTimeoutMs: number;
  private readonly walFileTimeoutInitialMs: number;
  private readonly pruneIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: EmulatedServer,
    options: RetentionOptions = {},
  ) {
    this.startedAt = state.now();
    this.walFileTimeoutMs = options.walFileTimeoutMs ?? 10_000;
    this.walFileTimeoutInitialMs = options.walFileTimeoutInitialMs ?? 60_000;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 2_500;
  }

  /** The client registry of a database (`vocbase.replicationClients()`). */
  clientsOf(database: DatabaseState): ReplicationClients {
    let clients = this.registries.get(database);
    if (clients === undefined) {
      clients = new ReplicationClients(this.state.now);
      this.registries.set(database, clients);
    }
    return clients;
  }

  /** Registers a client in every database, as each wal/tail call does. */
  trackEverywhere(identity: ClientIdentity, lastServedTick: bigint, ttlSeconds: number): void {
    for (const database of this.state.listDatabases()) {
      this.clientsOf(database).track(identity, lastServedTick, ttlSeconds);
    }
  }

  /** Drops registries of dropped databases and expired client entries. */
  collectClients(): void {
    const now = this.state.now();
    for (const [database, clients] of this.registries) {
      if (database.dropped) this.registries.delete(database);
      else clients.garbageCollect(now);
    }
  }

  /** The lowest tick some registered client still needs, capped at the latest sequence. */
  minTickToKeep(): bigint {
    let minTick = this.state.wal.lastSequence;
    for (const clients of this.registries.values()) {
      const lowest = clients.lowestServedTick();
      if (lowest !== undefined && lowest < minTick) minTick = lowest;
    }
    return minTick;
  }

  /** One background pass: collect clients, mark prunable batches, delete the expired marks. */
  runOnce(): PruneResult {
    this.collectClients();
    const now = this.state.now();
    let removed = 0;
    if (now >= this.startedAt + this.walFileTimeoutInitialMs) {
      const below = this.minTickToKeep();
      const last = this.pending[this.pending.length - 1];
      if (last === undefined || below > last.below) {
        this.pending.push({ below, due: now + this.walFileTimeoutMs });
      }
      while (this.pending[0] !== undefined && this.pending[0].due <= now) {
        removed += this.state.wal.pruneBelow(this.pending[0].below);
        this.pending.shift();
      }
    }
    return this.result(removed);
  }

  /**
   * Test hook: deletes every batch ending below `below` (default: all but the newest) right away,
   * whatever clients are registered, like an overflowing `--rocksdb.wal-archive-size-limit`.
   */
  forcePrune(below?: bigint): PruneResult {
    const removed = this.state.wal.pruneBelow(below ?? this.state.wal.lastSequence + 1n);
    return this.result(removed);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.runOnce(), this.pruneIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Forgets every client entry (server restart). */
  clear(): void {
    this.registries.clear();
    this.pending = [];
  }

  private result(removed: number): PruneResult {
    return {
      removed,
      tickMin: this.state.wal.firstSequence,
      tickMax: this.state.wal.lastSequence,
    };
  }
}
