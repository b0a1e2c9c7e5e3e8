/**
 * The daemon's main loop: snapshot (or resume one), then stream the WAL into PostgreSQL, one
 * PostgreSQL transaction per batch of whole source transactions, checkpoint included.
 *
 * The hot path is a plain pull-based loop (STYLE.md): fetch a WAL chunk, decode, assemble, map,
 * apply, commit; only then is the next chunk asked for, so memory is bounded by one batch
 * (DESIGN.md §2 invariant 6). Adaptive batching: while the server says there is more, chunks are
 * gathered up to `maxBatchChanges` before one commit (throughput when behind); when caught up,
 * each chunk is committed at once (latency when idle).
 */
import { type SyncError, SyncError as SyncErrorClass } from "../errors.js";
import {
  TransactionAssembler,
  type AssembledUnit,
  type TransactionUnit,
} from "../events/assemble-transactions.js";
import { CollectionCatalog } from "../events/collection-catalog.js";
import { decodeMarker } from "../events/decode-marker.js";
import type { Marker } from "../events/events.js";
import type { CompiledMapping } from "../mapping/compile-mapping.js";
import type {
  Change,
  Checkpoint,
  ControlEvent,
  DeadLetter,
  Phase,
  SnapshotProgress,
} from "../sink/changes.js";
import type { TargetStore } from "../sink/target-store.js";
import type { ReplicationApi } from "../source/replication-api.js";
import { SnapshotReader } from "../source/snapshot-reader.js";
import { WalTailer } from "../source/wal-tailer.js";
import {
  earliest,
  oldestWriteFrom,
  oldestWriteOfUnit,
  writeTimeRange,
} from "./change-write-times.js";
import { type CollectionEventCounts, type MappedUnits, mapUnits } from "./map-units.js";

export interface DaemonOptions {
  readonly sourceDatabase: string;
  readonly mapping: CompiledMapping;
  readonly journal: boolean;
  readonly tailChunkSize: number;
  readonly dumpChunkSize: number;
  readonly batchTtlSeconds: number;
  /** Most changes gathered into one PostgreSQL transaction while behind. */
  readonly maxBatchChanges: number;
  /** Operations of one source transaction held in memory before it is applied in parts. */
  readonly maxOperationsPerUnit: number;
  /** PostgreSQL connections snapshot chunks commit on side by side (default 2). */
  readonly snapshotConnections?: number;
  readonly retryBudget: number;
  readonly parkedRetryIntervalMs: number;
  /** Stop once the stream is caught up (the `snapshot` command, tests). */
  readonly stopWhenCaughtUp?: boolean;
}

/** A snapshot commit started on one of several connections (`SyncDaemon.commitOnLane`). */
interface LaneCommit {
  /** The checkpoint it writes. */
  readonly checkpoint: Checkpoint;
  /** Settles once it has written its checkpoint, or has failed. */
  readonly checkpointWritten: Promise<void>;
  readonly done: Promise<void>;
}

/** What the daemon reports as it works; metrics and logs subscribe (src/observe/). */
export interface DaemonObserver {
  phase?(phase: Phase): void;
  polled?(info: {
    lastIncluded: bigint;
    lastTick: bigint;
    markers: number;
    bytes: number;
    /** The `from` and `lastScanned` the request was sent with (`lastScanned` as answered). */
    from: bigint;
    lastScanned: bigint;
    checkMore: boolean;
    fromPresent: boolean;
    /** The `wal/tail` call itself, the idle wait before it not included. */
    durationMs: number;
    /** Write times (decoded `_rev`) of the oldest and newest document write in the response. */
    oldestChangeWriteMs: number | undefined;
    newestChangeWriteMs: number | undefined;
  }): void;
  committed?(info: {
    durationMs: number;
    appliedTick: bigint | null;
    changes: number;
    counts: Awaited<ReturnType<TargetStore["apply"]>>;
    events: Map<string, CollectionEventCounts>;
    revisions: readonly string[];
    committedAt: number;
    /**
     * Write time (decoded `_rev`) of the oldest change read from the WAL and still not applied
     * after this commit: parts of a large transaction staged in PostgreSQL, units of the same
     * fetch applied after this one, a group still open in the assembler. Undefined when nothing
     * read is waiting (or nothing waiting carries a write time).
     */
    oldestPendingWriteMs: number | undefined;
  }): void;
  snapshotProgress?(info: { collection: string; documents: number; done: boolean }): void;
  /**
   * A snapshot pinned its batch at `tick` and is about to dump `collections` (those an earlier run
   * did not finish). Awaited: a reporter may look at the collections first (their counts).
   */
  snapshotStarted?(info: {
    tick: bigint;
    resnapshot: boolean;
    collections: readonly string[];
  }): void | Promise<void>;
  /** Parked rows were retried (and expired ones dead-lettered) in their own transaction. */
  parkedRetried?(info: {
    durationMs: number;
    counts: Awaited<ReturnType<TargetStore["retryParked"]>>;
    committedAt: number;
    /** As for `committed`. */
    oldestPendingWriteMs: number | undefined;
  }): void;
  /**
   * A staged large transaction is being applied in its one PostgreSQL transaction: called after
   * each chunk of it, so a commit that takes minutes is seen progressing.
   */
  stagedApplying?(info: { appliedChanges: number; totalChanges: number }): void;
  gap?(info: { from: bigint }): void;
  sourceRetry?(error: SyncError, attempt: number, waitMs: number): void;
  skipped?(reason: string, count: number): void;
}

/** How a round of the stream ended (an object: a promise returned bare would be awaited). */
type StreamRound =
  | { readonly kind: "committing"; readonly commit: Promise<void> }
  | { readonly kind: "caught-up" }
  | { readonly kind: "resnapshotted" };

export class SyncDaemon {
  private checkpoint: Checkpoint | undefined;
  private catalog = CollectionCatalog.empty();
  private currentPhase: Phase = "stopped";
  private lastParkedRetry = 0;
  /** Operations of the large transaction staged so far (its next part's first sequence number). */
  private stagedOperations = 0;
  /** Oldest write time among the staged parts: read from the WAL, not applied yet. */
  private stagedOldestWriteMs: number | undefined;

  constructor(
    private readonly api: ReplicationApi,
    private readonly store: TargetStore,
    private readonly options: DaemonOptions,
    private readonly observer: DaemonObserver = {},
  ) {}

  get phase(): Phase {
    return this.currentPhase;
  }

  get appliedTick(): bigint | null {
    return this.checkpoint?.appliedTick ?? null;
  }

  /** Runs until `signal` aborts (a clean stop after the batch in flight) or a fatal error. */
  async run(signal: AbortSignal): Promise<void> {
    this.checkpoint = await this.store.readCheckpoint(this.options.sourceDatabase);
    const cp = this.checkpoint;
    if (
      cp === undefined ||
      cp.appliedTick === null ||
      cp.phase === "snapshotting" ||
      cp.phase === "resnapshotting"
    ) {
      await this.snapshot(
        cp?.phase === "resnapshotting" ? "resnapshotting" : "snapshotting",
        signal,
      );
    } else {
      await this.loadCatalog();
    }
    if (!signal.aborted) await this.stream(signal);
    this.setPhase("stopped");
  }

  private setPhase(phase: Phase): void {
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.observer.phase?.(phase);
  }

  /** The cuid → name map from a short-lived batch's inventory (the server resolves names at read time). */
  private async loadCatalog(): Promise<void> {
    const reader = new SnapshotReader(this.api, {
      ttlSeconds: 60,
      chunkSize: this.options.dumpChunkSize,
    });
    const batch = await reader.open();
    try {
      this.catalog = catalogOf(batch.inventory.collections);
    } finally {
      await reader.close(batch.id);
    }
  }

  /**
   * Snapshot through a replication batch (arangodb-protocol.md §12). Collections already done by
   * an earlier run are skipped; the others are dumped from scratch (the server's dump cursor
   * cannot be rewound), and their rows older than the batch tick are swept afterwards, so a
   * re-snapshot after a gap removes rows ArangoDB no longer has (invariant 5).
   */
  private async snapshot(
    phase: "snapshotting" | "resnapshotting",
    signal: AbortSignal,
  ): Promise<void> {
    this.setPhase(phase);
    const reader = new SnapshotReader(this.api, {
      ttlSeconds: this.options.batchTtlSeconds,
      chunkSize: this.options.dumpChunkSize,
    });
    const batch = await reader.open();
    try {
      this.catalog = catalogOf(batch.inventory.collections);
      const present = new Set(batch.inventory.collections.map((c) => c.name));
      const progress: Record<string, SnapshotProgress> = { ...(this.checkpoint?.snapshot ?? {}) };
      const tick = batch.snapshotTick.toString();
      const mapped = this.options.mapping.collections;
      // The stream will start at the oldest snapshot tick, an earlier run's when collections
      // are done already. Register this syncerId there now (a tail call registers `from`): the
      // batch is created without it, so the server keeps that WAL however long the dump takes
      // or the daemon stays down, within the registration's ttl (arangodb-protocol.md §11).
      const oldest = mapped.reduce((low, c) => {
        const done = progress[c]?.state === "done" ? BigInt(progress[c].tick) : low;
        return done < low ? done : low;
      }, batch.snapshotTick);
      await this.api.tail({ from: oldest, lastScanned: 0n, chunkSize: 16384 });
      const started: ControlEvent = {
        kind: "snapshot:started",
        detail: { tick, phase, collections: mapped.filter((c) => progress[c]?.state !== "done") },
      };
      let pendingEvents: ControlEvent[] = [started];
      await this.observer.snapshotStarted?.({
        tick: batch.snapshotTick,
        resnapshot: phase === "resnapshotting",
        collections: mapped.filter((c) => progress[c]?.state !== "done"),
      });
      for (const collection of mapped) {
        if (progress[collection]?.state === "done") continue;
        const table = this.options.mapping.forCollection(collection);
        if (table === undefined) continue;
        progress[collection] = { state: "dumping", documents: 0, tick };
        let documents = 0;
        let chunk = 0;
        if (present.has(collection)) {
          // Chunks commit on several connections side by side, so PostgreSQL can use more
          // than one core, while the next chunk is read and mapped. Each commit follows the one
          // before it (`ApplyInput.follows`): they take effect in dump order, and the progress
          // each one records covers exactly the chunks committed before it.
          const lanes = this.options.snapshotConnections ?? 2;
          const inFlight: Promise<void>[] = [];
          let previous: LaneCommit | undefined;
          let settled: PromiseSettledResult<void>[] = [];
          try {
            for await (const lines of reader.documents(batch.id, collection)) {
              const { changes, deadLetters } = this.snapshotChanges(
                collection,
                lines,
                batch.snapshotTick,
              );
              // The first commit of a run goes alone: it may create the checkpoint row, and
              // only an existing row orders the commits after it.
              while (
                inFlight.length >= lanes ||
                (inFlight.length > 0 && this.checkpoint === undefined)
              ) {
                await inFlight.shift();
              }
              documents += lines.length;
              progress[collection] = { state: "dumping", documents, tick };
              const done = documents;
              previous = this.commitOnLane(
                { changes, deadLetters, controlEvents: pendingEvents },
                { phase, snapshot: { ...progress } },
                chunk % lanes,
                inFlight.length === 0 ? undefined : previous,
              );
              const reported = previous.done.then(() => {
                this.observer.snapshotProgress?.({ collection, documents: done, done: false });
              });
              // Awaited in order below; observed now so that a failure cannot surface as an
              // unhandled rejection meanwhile.
              reported.catch(() => undefined);
              inFlight.push(reported);
              chunk += 1;
              pendingEvents = [];
              if (signal.aborted) break;
            }
          } finally {
            // Whatever ends the loop (the last chunk, a stop, a failed read), the commits in
            // flight finish first. An error already on its way out is the one reported.
            settled = await Promise.allSettled(inFlight);
          }
          // Otherwise the first failed commit: the ones after it failed because of it.
          const failed = settled.find((o) => o.status === "rejected");
          if (failed !== undefined) throw failed.reason;
          if (signal.aborted) return;
        }
        progress[collection] = { state: "done", documents, tick };
        await this.commit(
          {
            changes: [],
            controlEvents: [
              ...pendingEvents,
              {
                kind: "snapshot:collectionDone",
                detail: { collection, documents, tick, present: present.has(collection) },
              },
            ],
            sweeps: [{ table: table.table, belowTick: batch.snapshotTick }],
          },
          { phase, snapshot: { ...progress } },
        );
        pendingEvents = [];
        this.observer.snapshotProgress?.({ collection, documents, done: true });
      }
      // Collections were possibly dumped at different ticks (a restart in the middle): the
      // stream starts at the smallest, and the tick guard skips what a later snapshot covers.
      const ticks = mapped.map((c) => BigInt(progress[c]?.tick ?? tick));
      const from = ticks.reduce((a, b) => (b < a ? b : a), batch.snapshotTick);
      await this.commit(
        {
          changes: [],
          controlEvents: [
            { kind: "snapshot:finished", detail: { tick, from: from.toString(), phase } },
          ],
        },
        {
          phase: "streaming",
          appliedTick: from,
          lastScanned: 0n,
          snapshotTick: batch.snapshotTick,
          snapshot: progress,
        },
      );
      // One tail call registers this client at the snapshot tick before the batch that holds
      // the WAL is released (§12 step 4): nothing between snapshot and stream can be pruned.
      await this.api.tail({ from, lastScanned: 0n, chunkSize: 16384 });
    } finally {
      await reader.close(batch.id);
    }
  }

  private snapshotChanges(
    collection: string,
    lines: readonly string[],
    tick: bigint,
  ): { changes: Change[]; deadLetters: DeadLetter[] } {
    const table = this.options.mapping.forCollection(collection);
    const changes: Change[] = [];
    const deadLetters: DeadLetter[] = [];
    if (table === undefined) return { changes, deadLetters };
    for (const line of lines) {
      let document: unknown;
      try {
        document = JSON.parse(line);
      } catch (error) {
        deadLetters.push({
          reason: "undecodable",
          detail: String(error),
          collection,
          table: table.table,
          tick,
          rawText: line,
        });
        continue;
      }
      const key = (document as { _key?: unknown } | null)?._key;
      const rev = (document as { _rev?: unknown } | null)?._rev;
      if (
        typeof document !== "object" ||
        document === null ||
        Array.isArray(document) ||
        typeof key !== "string" ||
        typeof rev !== "string"
      ) {
        deadLetters.push({
          reason: "undecodable",
          detail: "dump line is not a document with _key and _rev",
          collection,
          table: table.table,
          tick,
          rawText: line,
        });
        continue;
      }
      const built = table.buildRow({ key, rev, tick, document: document as never });
      if (built.ok) {
        changes.push({
          kind: "upsert",
          collection,
          row: built.row,
          rev,
          ...(this.options.journal ? { documentJson: line } : {}),
        });
      } else {
        deadLetters.push({
          reason: built.reason,
          detail: `${built.column}: ${built.detail}`,
          collection,
          table: table.table,
          key,
          tick,
          rawJson: line,
        });
      }
    }
    return { changes, deadLetters };
  }

  private async stream(signal: AbortSignal): Promise<void> {
    const start = this.checkpoint;
    if (start?.appliedTick === null || start?.appliedTick === undefined) {
      throw new SyncErrorClass("INTERNAL", "streaming without an applied tick");
    }
    this.setPhase("streaming");
    // Parts staged by an earlier run belong to a transaction the checkpoint will read again.
    await this.store.discardStaged();
    this.stagedOperations = 0;
    this.stagedOldestWriteMs = undefined;
    const tailer = new WalTailer(
      this.api,
      { from: start.appliedTick, lastScanned: start.lastScanned ?? 0n },
      {
        chunkSize: this.options.tailChunkSize,
        retryBudget: this.options.retryBudget,
        onRetry: (error, attempt, waitMs) => this.observer.sourceRetry?.(error, attempt, waitMs),
      },
    );
    let assembler = new TransactionAssembler({
      resumeTick: start.appliedTick,
      maxOperationsPerUnit: this.options.maxOperationsPerUnit,
    });
    // The batch committing while the next one is read and mapped (`streamOnce`).
    let committing: Promise<void> | undefined;
    try {
      while (!signal.aborted) {
        const round = await this.streamOnce(tailer, assembler, committing, signal);
        committing = undefined;
        if (round.kind === "caught-up") return;
        if (round.kind === "committing") {
          committing = round.commit;
        } else {
          const resumed = this.checkpoint?.appliedTick ?? 0n;
          tailer.reset({ from: resumed, lastScanned: 0n });
          assembler = new TransactionAssembler({
            resumeTick: resumed,
            maxOperationsPerUnit: this.options.maxOperationsPerUnit,
          });
          this.setPhase("streaming");
        }
      }
    } finally {
      // A stop, or a failed read: the commit in flight finishes first, and its failure, if
      // any, is the one reported.
      await committing;
    }
  }

  /**
   * One round of the stream: reads up to a batch of changes, waiting for the previous batch's
   * commit (`committing`) only when it has something to apply, and starts this batch's commit
   * without waiting for it: the next round reads and maps while it commits. Commits stay one at
   * a time and in stream order. A failure of `committing` surfaces here, at the latest when the
   * round ends.
   */
  private async streamOnce(
    tailer: WalTailer,
    assembler: TransactionAssembler,
    committing: Promise<void> | undefined,
    signal: AbortSignal,
  ): Promise<StreamRound> {
    {
      const units: AssembledUnit[] = [];
      const deadLetters: DeadLetter[] = [];
      let pendingOperations = 0;
      let caughtUp = false;
      let gapFrom: bigint | undefined;
      // Gather chunks while the server has more, up to the batch cap.
      for (;;) {
        const chunk = await tailer.next(signal).catch((error: unknown) => {
          if (signal.aborted) return undefined;
          throw error;
        });
        if (chunk === undefined) break;
        if (chunk.step.gap) {
          gapFrom = chunk.requested.from;
          break;
        }
        const markers = this.decode(chunk.response.body, deadLetters);
        if (this.observer.polled !== undefined) {
          const writeTimes = writeTimeRange(markers);
          this.observer.polled({
            lastIncluded: chunk.response.lastIncluded,
            lastTick: chunk.response.lastTick,
            markers: markers.length,
            bytes: chunk.response.body.length,
            from: chunk.requested.from,
            lastScanned: chunk.response.lastScanned,
            checkMore: chunk.response.checkMore,
            fromPresent: chunk.response.fromPresent,
            durationMs: chunk.durationMs,
            oldestChangeWriteMs: writeTimes.oldestMs,
            newestChangeWriteMs: writeTimes.newestMs,
          });
        }
        for (const unit of assembler.pushAll(markers)) {
          units.push(unit);
          pendingOperations += unit.kind === "transaction" ? unit.operations.length : 1;
        }
        caughtUp = !chunk.response.checkMore;
        if (caughtUp) units.push(...assembler.endOfStream());
        if (!chunk.step.pollAgainNow || pendingOperations >= this.options.maxBatchChanges) break;
      }
      if (gapFrom !== undefined) {
        await committing;
        this.observer.gap?.({ from: gapFrom });
        await this.commit(
          {
            changes: [],
            controlEvents: [{ kind: "source:walGap", detail: { from: gapFrom.toString() } }],
          },
          // Every collection is dumped again: the last snapshot's progress marks them all done,
          // and keeping it would skip the dumps and tail from the lost tick once more. A restart
          // during the re-snapshot resumes from the progress recorded from here on.
          { phase: "resnapshotting", snapshot: {} },
        );
        await this.snapshot("resnapshotting", signal);
        // Parts staged before the gap belong to a group the new assembler never completes.
        await this.store.discardStaged();
        this.stagedOperations = 0;
        this.stagedOldestWriteMs = undefined;
        return { kind: "resnapshotted" };
      }
      // What is read and not applied after each commit, for the lag (lag-tracker.ts): the units
      // of this fetch not applied yet, the group the assembler holds, and the staged parts.
      const isLargePart = (unit: AssembledUnit): unit is TransactionUnit =>
        unit.kind === "transaction" && (unit.partial || unit.part > 0);
      // Only a large part splits the batch into several commits; without one, nothing of this
      // fetch waits after its single commit and the pass over it is skipped.
      const oldestFrom = units.some(isLargePart) ? oldestWriteFrom(units) : [];
      const held = writeTimeRange(assembler.heldOperations).oldestMs;
      const waitingFrom = (index: number): number | undefined =>
        earliest(earliest(oldestFrom[index], held), this.stagedOldestWriteMs);
      // Parts of a source transaction too large for memory are staged in PostgreSQL and applied
      // with the transaction's last part; everything else is applied in one batch.
      let whole: AssembledUnit[] = [];
      for (const [index, unit] of units.entries()) {
        if (isLargePart(unit)) {
          await committing;
          committing = undefined;
          await this.applyUnits(
            whole,
            [],
            tailer.current.lastScanned,
            whole.at(-1)?.safeResumeTick,
            waitingFrom(index),
          );
          whole = [];
          await this.applyLargeTransactionPart(
            unit,
            tailer.current.lastScanned,
            oldestFrom[index + 1],
            held,
          );
        } else {
          whole.push(unit);
        }
      }
      // Mapped now, while the previous batch may still be committing; committed after it.
      const mapped = this.mapForApply(whole);
      const lastScanned = tailer.current.lastScanned;
      const safeTick = assembler.safeResumeTick;
      const waiting = waitingFrom(units.length);
      // Back-pressure: this round returns only once the previous batch is committed, so at
      // most one batch commits while the next is read and mapped.
      await committing;
      const next = (async () => {
        await this.commitMapped(mapped, deadLetters, lastScanned, safeTick, waiting);
        await this.retryParkedWhenDue(waiting);
      })();
      // Awaited by the next round or at the end of the stream; observed now so that a failure
      // cannot surface as an unhandled rejection meanwhile.
      next.catch(() => undefined);
      if (caughtUp && this.options.stopWhenCaughtUp === true && assembler.openGroup === undefined) {
        await next;
        return { kind: "caught-up" };
      }
      return { kind: "committing", commit: next };
    }
  }

  /**
   * Maps whole units and commits them with the checkpoint at `safeTick` (skipped when nothing
   * moved); `oldestPendingWriteMs` is what stays waiting after this commit.
   */
  private async applyUnits(
    units: readonly AssembledUnit[],
    deadLetters: DeadLetter[],
    lastScanned: bigint,
    safeTick: bigint | undefined,
    oldestPendingWriteMs: number | undefined,
  ): Promise<void> {
    await this.commitMapped(
      this.mapForApply(units),
      deadLetters,
      lastScanned,
      safeTick,
      oldestPendingWriteMs,
    );
  }

  /** Maps units in stream order (the catalog follows the stream's collection changes). */
  private mapForApply(units: readonly AssembledUnit[]): MappedUnits {
    const mapped = mapUnits(units, this.catalog, this.options.mapping, {
      journal: this.options.journal,
    });
    this.catalog = mapped.catalog;
    for (const [reason, count] of mapped.skipped) this.observer.skipped?.(reason, count);
    return mapped;
  }

  private async commitMapped(
    mapped: MappedUnits,
    deadLetters: DeadLetter[],
    lastScanned: bigint,
    safeTick: bigint | undefined,
    oldestPendingWriteMs: number | undefined,
  ): Promise<void> {
    const appliedTick = safeTick ?? this.checkpoint?.appliedTick ?? null;
    const moved = appliedTick !== this.checkpoint?.appliedTick;
    if (
      mapped.changes.length === 0 &&
      deadLetters.length === 0 &&
      mapped.deadLetters.length === 0 &&
      mapped.controlEvents.length === 0 &&
      !moved
    ) {
      return;
    }
    await this.commit(
      {
        changes: mapped.changes,
        deadLetters: [...deadLetters, ...mapped.deadLetters],
        controlEvents: mapped.controlEvents,
      },
      { phase: "streaming", appliedTick, lastScanned },
      mapped.events,
      mapped.revisions,
      oldestPendingWriteMs,
    );
  }

  /**
   * One part of a source transaction larger than `maxOperationsPerUnit`: a partial part is staged
   * with the checkpoint still before the transaction; the last part applies everything staged in
   * one PostgreSQL transaction (DESIGN.md §2 invariants 3 and 6). `laterWriteMs` and `heldWriteMs`
   * are the oldest write times of the units read after this one and of the group the assembler
   * holds: what still waits once this part is applied.
   */
  private async applyLargeTransactionPart(
    unit: TransactionUnit,
    lastScanned: bigint,
    laterWriteMs: number | undefined,
    heldWriteMs: number | undefined,
  ): Promise<void> {
    const groupKey = `${unit.tid}@${unit.groupFirstTick}`;
    if (unit.end === "abort") {
      // Never produced by RocksDB (protocol §9); if it were, nothing of the group may apply.
      await this.store.discardStaged();
      this.stagedOperations = 0;
      this.stagedOldestWriteMs = undefined;
      return;
    }
    const mapped = mapUnits([unit], this.catalog, this.options.mapping, {
      journal: this.options.journal,
    });
    this.catalog = mapped.catalog;
    const checkpoint = this.nextCheckpoint({
      phase: "streaming",
      appliedTick: unit.safeResumeTick,
      lastScanned,
    });
    const input = {
      changes: mapped.changes,
      deadLetters: mapped.deadLetters,
      controlEvents: mapped.controlEvents,
      checkpoint,
    };
    if (unit.partial) {
      await this.store.stage(groupKey, this.stagedOperations, input);
      this.stagedOperations += mapped.changes.length;
      this.stagedOldestWriteMs = earliest(this.stagedOldestWriteMs, oldestWriteOfUnit(unit));
      this.checkpoint = checkpoint;
      return;
    }
    const started = performance.now();
    const totalChanges = this.stagedOperations + mapped.changes.length;
    const counts = await this.store.applyStaged(groupKey, input, {
      onProgress: (appliedChanges) => {
        this.observer.stagedApplying?.({ appliedChanges, totalChanges });
      },
    });
    this.stagedOperations = 0;
    this.stagedOldestWriteMs = undefined;
    this.checkpoint = checkpoint;
    this.observer.committed?.({
      durationMs: performance.now() - started,
      appliedTick: checkpoint.appliedTick,
      changes: mapped.changes.length,
      counts,
      events: mapped.events,
      revisions: mapped.revisions,
      committedAt: Date.now(),
      oldestPendingWriteMs: earliest(laterWriteMs, heldWriteMs),
    });
  }

  private decode(body: string, deadLetters: DeadLetter[]): Marker[] {
    if (body === "") return [];
    const markers: Marker[] = [];
    for (const line of body.split("\n")) {
      if (line === "") continue;
      const decoded = decodeMarker(line);
      if (decoded.ok) markers.push(decoded.marker);
      else
        deadLetters.push({
          reason: "undecodable",
          detail: `${decoded.reason}: ${decoded.detail}`,
          rawText: line,
        });
    }
    return markers;
  }

  private async retryParkedWhenDue(oldestPendingWriteMs: number | undefined): Promise<void> {
    const now = Date.now();
    if (now - this.lastParkedRetry < this.options.parkedRetryIntervalMs) return;
    this.lastParkedRetry = now;
    const started = performance.now();
    const counts = await this.store.retryParked();
    this.observer.parkedRetried?.({
      durationMs: performance.now() - started,
      counts,
      committedAt: Date.now(),
      oldestPendingWriteMs,
    });
  }

  private nextCheckpoint(checkpoint: Partial<Omit<Checkpoint, "sourceDatabase">>): Checkpoint {
    const previous = this.checkpoint;
    return {
      sourceDatabase: this.options.sourceDatabase,
      phase: checkpoint.phase ?? previous?.phase ?? "snapshotting",
      appliedTick:
        checkpoint.appliedTick === undefined
          ? (previous?.appliedTick ?? null)
          : checkpoint.appliedTick,
      lastScanned:
        checkpoint.lastScanned === undefined
          ? (previous?.lastScanned ?? null)
          : checkpoint.lastScanned,
      snapshotTick:
        checkpoint.snapshotTick === undefined
          ? (previous?.snapshotTick ?? null)
          : checkpoint.snapshotTick,
      snapshot: checkpoint.snapshot ?? previous?.snapshot ?? {},
    };
  }

  /**
   * Starts one snapshot commit on connection `lane` without waiting for it. It follows the
   * commit before it (`previous`), which may still be in flight: its checkpoint is written only
   * on top of that one's (FollowedCommit), and its bookkeeping waits for that one too.
   */
  private commitOnLane(
    batch: { changes: Change[]; deadLetters: DeadLetter[]; controlEvents: ControlEvent[] },
    checkpoint: Partial<Omit<Checkpoint, "sourceDatabase">>,
    lane: number,
    previous: LaneCommit | undefined,
  ): LaneCommit {
    const next = this.nextCheckpoint(checkpoint);
    const started = performance.now();
    let checkpointWritten = (): void => undefined;
    const written = new Promise<void>((resolve) => {
      checkpointWritten = resolve;
    });
    const done = (async () => {
      try {
        const counts = await this.store.apply(
          {
            changes: batch.changes,
            deadLetters: batch.deadLetters,
            controlEvents: batch.controlEvents,
            checkpoint: next,
            ...(previous === undefined
              ? {}
              : {
                  follows: {
                    checkpoint: previous.checkpoint,
                    checkpointWritten: previous.checkpointWritten,
                  },
                }),
            onCheckpointWritten: checkpointWritten,
          },
          lane,
        );
        // Committed after the one before (the checkpoint row saw to it); reported after it too.
        await previous?.done.catch(() => undefined);
        this.checkpoint = next;
        this.observer.committed?.({
          durationMs: performance.now() - started,
          appliedTick: next.appliedTick,
          changes: batch.changes.length,
          counts,
          events: new Map(),
          revisions: [],
          committedAt: Date.now(),
          oldestPendingWriteMs: undefined,
        });
      } finally {
        // A commit that failed before writing its checkpoint must not hold up the next one,
        // which then finds the checkpoint is not the one it follows, and fails too.
        checkpointWritten();
      }
    })();
    return { checkpoint: next, checkpointWritten: written, done };
  }

  private async commit(
    batch: {
      changes: Change[];
      deadLetters?: DeadLetter[];
      controlEvents?: ControlEvent[];
      sweeps?: { table: string; belowTick: bigint }[];
    },
    checkpoint: Partial<Omit<Checkpoint, "sourceDatabase">>,
    events = new Map<string, CollectionEventCounts>(),
    revisions: readonly string[] = [],
    oldestPendingWriteMs?: number,
  ): Promise<void> {
    const next = this.nextCheckpoint(checkpoint);
    const started = performance.now();
    const counts = await this.store.apply({
      changes: batch.changes,
      ...(batch.deadLetters === undefined ? {} : { deadLetters: batch.deadLetters }),
      ...(batch.controlEvents === undefined ? {} : { controlEvents: batch.controlEvents }),
      ...(batch.sweeps === undefined ? {} : { sweeps: batch.sweeps }),
      checkpoint: next,
    });
    this.checkpoint = next;
    this.observer.committed?.({
      durationMs: performance.now() - started,
      appliedTick: next.appliedTick,
      changes: batch.changes.length,
      counts,
      events,
      revisions,
      committedAt: Date.now(),
      oldestPendingWriteMs,
    });
  }
}

function catalogOf(
  collections: readonly { name: string; globallyUniqueId: string; type: number }[],
): CollectionCatalog {
  return CollectionCatalog.fromEntries(
    collections.map((c) => ({
      cuid: c.globallyUniqueId,
      name: c.name,
      type: c.type === 3 ? ("edge" as const) : ("document" as const),
    })),
  );
}
