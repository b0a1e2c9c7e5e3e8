/**
 * The daemon reports through `DaemonObserver` callbacks, in its own terms (a sink phase, the
 * sink's apply counts, cumulative dump progress); metrics, logs, health and `/status` listen to
 * `SyncEvents` (observe/sync-events.ts). This adapter translates one into the other, keeping the
 * little state the translation needs (the phase a commit belongs to, each collection's count when
 * its dump began, what was fetched and not applied yet).
 *
 * It runs inside the daemon's loop, so it adds no round trip per batch: write times are decoded
 * from revisions the daemon already holds; the only calls it makes are once per snapshot (the
 * collections' counts), and recounts of dead letters and parked rows are handed to `recount`,
 * which runs them off the loop on its own connection.
 */
import { type SyncError, messageOf } from "../errors.js";
import type { CompiledMapping } from "../mapping/compile-mapping.js";
import type {
  CollectionOpCount,
  PipelinePhase,
  SyncEvents,
  TableOpCount,
} from "../observe/sync-events.js";
import { sourceErrorKind } from "../observe/sync-events.js";
import type { ApplyCounts } from "../sink/apply-batch.js";
import type { Phase } from "../sink/changes.js";
import { writeTimesOf } from "./change-write-times.js";
import type { DaemonObserver } from "./sync-daemon.js";

export interface ReportToEventsOptions {
  readonly events: SyncEvents;
  readonly mapping: CompiledMapping;
  readonly clock?: () => number;
  /**
   * The document count of a collection, asked once per collection when a snapshot begins (the
   * starting value of `snapshot_remaining_documents`). Without it, or when it fails, the count
   * reads as 0.
   */
  readonly countDocuments?: (collection: string) => Promise<number>;
  /**
   * Called when rows were parked or left the parking, or parked rows expired into dead letters:
   * the caller recounts both from PostgreSQL (`deadLetters:counted`, `parked:counted`). The sink
   * reports these as totals without their table, so the gauges are set from a recount.
   */
  readonly recount?: () => void;
}

interface SnapshotRun {
  readonly tick: bigint;
  readonly startedMs: number;
  readonly counts: Map<string, number>;
  readonly dumped: Map<string, number>;
}

const SNAPSHOT_PHASES: ReadonlySet<PipelinePhase> = new Set(["snapshotting", "resnapshotting"]);

export function reportToEvents(options: ReportToEventsOptions): DaemonObserver {
  const { events, mapping } = options;
  const clock = options.clock ?? Date.now;
  let phase: PipelinePhase = "starting";
  let snapshot: SnapshotRun | undefined;
  let appliedTick: bigint | undefined;
  const queued = { events: 0, bytes: 0 };

  const alive = (): void => {
    events.emit("pipeline:alive", {});
  };
  const setQueue = (eventCount: number, bytes: number): void => {
    if (queued.events === eventCount && queued.bytes === bytes) return;
    queued.events = eventCount;
    queued.bytes = bytes;
    events.emit("pipeline:queue", { events: eventCount, bytes });
  };
  const deadLettered = (counts: ApplyCounts): void => {
    for (const letter of counts.deadLettered) {
      events.emit("apply:deadLettered", {
        table: letter.table,
        collection: letter.collection,
        reason: letter.reason,
        key: letter.key,
        tick: letter.tick,
      });
    }
  };

  return {
    phase(next: Phase) {
      const previous = phase;
      if (SNAPSHOT_PHASES.has(previous) && next === "streaming" && snapshot !== undefined) {
        events.emit("snapshot:finished", {
          tick: snapshot.tick,
          durationMs: clock() - snapshot.startedMs,
        });
      }
      phase = next;
      events.emit("pipeline:phase", { phase: next, previous });
      alive();
    },

    polled(info) {
      events.emit("source:polled", {
        from: info.from,
        lastIncluded: info.lastIncluded,
        lastScanned: info.lastScanned,
        lastTick: info.lastTick,
        checkMore: info.checkMore,
        fromPresent: info.fromPresent,
        bytes: info.bytes,
        markers: info.markers,
        oldestChangeWriteMs: info.oldestChangeWriteMs,
        newestChangeWriteMs: info.newestChangeWriteMs,
        durationMs: info.durationMs,
      });
      if (info.markers > 0) setQueue(queued.events + info.markers, queued.bytes + info.bytes);
      alive();
    },

    committed(info) {
      const origin = SNAPSHOT_PHASES.has(phase) ? "snapshot" : "stream";
      if (info.appliedTick !== null) appliedTick = info.appliedTick;
      const collectionEvents: CollectionOpCount[] = [];
      if (origin === "stream") {
        for (const [collection, counts] of info.events) {
          if (counts.upsert > 0)
            collectionEvents.push({ collection, op: "upsert", count: counts.upsert });
          if (counts.remove > 0)
            collectionEvents.push({ collection, op: "remove", count: counts.remove });
          const truncates = counts.truncate ?? 0;
          if (truncates > 0)
            collectionEvents.push({ collection, op: "truncate", count: truncates });
        }
      }
      events.emit("apply:batchCommitted", {
        origin,
        durationMs: info.durationMs,
        committedAtMs: info.committedAt,
        appliedTick: info.appliedTick ?? undefined,
        rows: rowCounts(info.counts),
        events: collectionEvents,
        writeTimesMs: origin === "stream" ? writeTimesOf(info.revisions) : [],
        oldestPendingWriteMs: info.oldestPendingWriteMs,
      });
      deadLettered(info.counts);
      if (info.counts.parked > 0 || info.counts.unparked > 0) options.recount?.();
      if (origin === "stream") setQueue(0, 0);
      alive();
    },

    async snapshotStarted(info) {
      const counts = new Map<string, number>();
      await Promise.all(
        info.collections.map(async (collection) => {
          counts.set(collection, await countOf(collection));
        }),
      );
      snapshot = { tick: info.tick, startedMs: clock(), counts, dumped: new Map() };
      events.emit("snapshot:started", {
        tick: info.tick,
        resnapshot: info.resnapshot,
        collections: info.collections.map((collection) => ({
          collection,
          documents: counts.get(collection) ?? 0,
        })),
      });
      alive();
    },

    snapshotProgress({ collection, documents, done }) {
      const run = snapshot;
      const before = run?.dumped.get(collection) ?? 0;
      run?.dumped.set(collection, documents);
      const count = run?.counts.get(collection) ?? 0;
      events.emit("snapshot:progress", {
        collection,
        documents: Math.max(0, documents - before),
        remaining: done ? 0 : Math.max(0, count - documents),
      });
      alive();
    },

    stagedApplying({ appliedChanges, totalChanges }) {
      events.emit("apply:stagedProgress", { appliedChanges, totalChanges });
    },

    gap({ from }) {
      events.emit("source:walGap", { from, collections: mapping.collections });
      alive();
    },

    sourceRetry(error: SyncError, attempt: number) {
      events.emit("source:error", {
        kind: sourceErrorKind(error.code),
        retryable: true,
        message: messageOf(error),
        attempt,
      });
      alive();
    },

    parkedRetried({ durationMs, counts, committedAt, oldestPendingWriteMs }) {
      const rows = rowCounts(counts);
      if (rows.length > 0 && appliedTick !== undefined) {
        events.emit("apply:batchCommitted", {
          origin: "stream",
          durationMs,
          committedAtMs: committedAt,
          appliedTick,
          rows,
          // Parked rows are changes counted when they arrived; their write times are old.
          events: [],
          writeTimesMs: [],
          oldestPendingWriteMs,
        });
      }
      deadLettered(counts);
      if (counts.unparked > 0 || counts.deadLettered.length > 0) options.recount?.();
      alive();
    },
  };

  async function countOf(collection: string): Promise<number> {
    if (options.countDocuments === undefined) return 0;
    try {
      return await options.countDocuments(collection);
    } catch (error) {
      const code = (error as Partial<SyncError>).code;
      events.emit("source:error", {
        kind: sourceErrorKind(code),
        retryable: true,
        message: `counting ${collection} for snapshot progress: ${messageOf(error)}`,
      });
      return 0;
    }
  }
}

function rowCounts(counts: ApplyCounts): TableOpCount[] {
  const rows: TableOpCount[] = [];
  for (const [table, byOp] of counts.rows) {
    if (byOp.upsert > 0) rows.push({ table, op: "upsert", count: byOp.upsert });
    if (byOp.delete > 0) rows.push({ table, op: "delete", count: byOp.delete });
    if (byOp.truncate > 0) rows.push({ table, op: "truncate", count: byOp.truncate });
  }
  return rows;
}
