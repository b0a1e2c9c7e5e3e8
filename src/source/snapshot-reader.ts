/**
 * Reads a consistent snapshot (arangodb-protocol.md §12): a replication batch pins the data at
 * tick T, the inventory lists the collections, and each collection is dumped from that snapshot in
 * chunks. Pull-based: the caller asks for the next chunk only when it has applied the last one,
 * and the batch's TTL is extended meanwhile so a slow target cannot make the batch expire.
 */
import { SyncError } from "../errors.js";
import type { Tick } from "../events/tick.js";
import type { DumpChunk, Inventory, ReplicationApi } from "./replication-api.js";

export interface SnapshotBatch {
  readonly id: string;
  readonly snapshotTick: Tick;
  readonly inventory: Inventory;
}

export interface SnapshotOptions {
  /** Batch TTL asked of the server; extended every quarter of it (the built-in client's rule). */
  ttlSeconds: number;
  /** Approximate bytes per dump response. */
  chunkSize: number;
}

export class SnapshotReader {
  private keepAlive: NodeJS.Timeout | undefined;
  private keepAliveError: SyncError | undefined;

  constructor(
    private readonly api: ReplicationApi,
    private readonly options: SnapshotOptions,
  ) {}

  /** Creates the batch and reads the inventory at its snapshot tick. */
  async open(): Promise<SnapshotBatch> {
    const batch = await this.api.createBatch(this.options.ttlSeconds);
    this.startKeepAlive(batch.id);
    const inventory = await this.api.inventory(batch.id);
    if (inventory.snapshotTick !== batch.snapshotTick) {
      // inventory state.lastLogTick is the batch's snapshot sequence (§6.5); anything else means
      // the server does not pin snapshots the way this daemon relies on.
      throw new SyncError(
        "SOURCE_PROTOCOL",
        `inventory tick ${inventory.snapshotTick} differs from batch tick ${batch.snapshotTick}`,
      );
    }
    return { id: batch.id, snapshotTick: batch.snapshotTick, inventory };
  }

  /**
   * The documents of one collection as NDJSON lines, chunk by chunk. The server keeps one cursor
   * per (batch, collection), so a chunk lost to an error cannot be read again: the caller restarts
   * the collection with a new batch.
   *
   * One chunk is read ahead: while the caller applies a chunk, the next one is on its way, so
   * the dump and the apply overlap instead of taking turns. Requests stay one at a time and in
   * order (the server's cursor needs that), and memory holds at most two chunks.
   */
  async *documents(batchId: string, collection: string): AsyncGenerator<string[]> {
    let next: Promise<DumpChunk> | undefined = this.dump(batchId, collection);
    while (next !== undefined) {
      const chunk: DumpChunk = await next;
      next = undefined;
      if (chunk.body !== "" && !chunk.body.endsWith("\n")) {
        throw new SyncError("SOURCE_UNAVAILABLE", `dump of ${collection} ended mid-line`, {
          retryable: true,
        });
      }
      const lines = chunk.body === "" ? [] : chunk.body.split("\n").filter((line) => line !== "");
      if (chunk.checkMore && chunk.body !== "") next = this.dump(batchId, collection);
      if (lines.length > 0) yield lines;
    }
  }

  /**
   * One dump request. A read-ahead whose caller stopped (an error, a signal) is never awaited:
   * its failure is observed here so that it cannot surface as an unhandled rejection.
   */
  private dump(batchId: string, collection: string): Promise<DumpChunk> {
    const request =
      this.keepAliveError === undefined
        ? this.api.dump(batchId, collection, this.options.chunkSize)
        : Promise.reject(this.keepAliveError);
    request.catch(() => undefined);
    return request;
  }

  /** Deletes the batch (releasing the server's snapshot). Safe to call twice. */
  async close(batchId: string | undefined): Promise<void> {
    this.stopKeepAlive();
    if (batchId === undefined) return;
    try {
      await this.api.deleteBatch(batchId);
    } catch (error) {
      // An expired or already deleted batch is exactly the state we want.
      if (!(error instanceof SyncError && error.code === "SOURCE_BATCH_EXPIRED")) throw error;
    }
  }

  private startKeepAlive(batchId: string): void {
    this.stopKeepAlive();
    const everyMs = (this.options.ttlSeconds * 1000) / 4;
    this.keepAlive = setInterval(() => {
      this.api.extendBatch(batchId, this.options.ttlSeconds).catch((error: unknown) => {
        this.keepAliveError =
          error instanceof SyncError
            ? error
            : new SyncError("SOURCE_UNAVAILABLE", String(error), { cause: error });
      });
    }, everyMs);
    this.keepAlive.unref();
  }

  private stopKeepAlive(): void {
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
