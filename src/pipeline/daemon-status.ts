/**
 * The running daemon's side of `/status` (observe/status.ts `StatusSource`): a view built from
 * the same events metrics and logs receive, so answering a request never touches the daemon's
 * loop or its connections. Counts are since this process started, except dead letters and parked
 * rows, which are recounted from PostgreSQL.
 */
import type { CompiledMapping } from "../mapping/compile-mapping.js";
import { NO_TABLE } from "../observe/metrics.js";
import type { CollectionStatus, StatusSource, SyncStatus } from "../observe/status.js";
import type { PipelinePhase, SyncEvents } from "../observe/sync-events.js";

interface CollectionProgress {
  state: "pending" | "dumping" | "done";
  documents: number;
  remaining: number;
  events: number;
}

export class DaemonStatus implements StatusSource {
  private phase: PipelinePhase = "starting";
  private sourceTick: bigint | undefined;
  private appliedTick: bigint | undefined;
  private snapshotTick: bigint | undefined;
  private walOldest: bigint | undefined;
  private readonly collections = new Map<string, CollectionProgress>();
  private readonly unmapped = new Map<string, number>();
  private deadLetters = new Map<
    string,
    { table: string | undefined; reason: string; count: number }
  >();
  private parked = new Map<string, number>();
  private lastCheck: SyncStatus["lastConsistencyCheck"];

  constructor(private readonly mapping: CompiledMapping) {
    for (const collection of mapping.collections) {
      this.collections.set(collection, { state: "pending", documents: 0, remaining: 0, events: 0 });
    }
  }

  /** Collections ArangoDB has that the mapping skips, listed before any of their changes arrive. */
  addUnmappedCollections(names: readonly string[]): void {
    for (const name of names) {
      if (!this.collections.has(name) && !this.unmapped.has(name)) this.unmapped.set(name, 0);
    }
  }

  status(): SyncStatus {
    const collections: CollectionStatus[] = [...this.collections].map(([collection, p]) => ({
      collection,
      table: this.mapping.forCollection(collection)?.table ?? collection,
      snapshot: { state: p.state, documents: p.documents, remaining: p.remaining },
      events: p.events,
    }));
    return {
      phase: this.phase,
      ticks: {
        source: this.sourceTick,
        applied: this.appliedTick,
        snapshot: this.snapshotTick,
        walOldest: this.walOldest,
      },
      collections,
      unmappedCollections: [...this.unmapped]
        .map(([collection, events]) => ({ collection, events }))
        .sort((a, b) => a.collection.localeCompare(b.collection)),
      deadLetters: [...this.deadLetters.values()].filter((d) => d.count > 0),
      parkedRows: [...this.parked]
        .filter(([, count]) => count > 0)
        .map(([table, count]) => ({ table, count })),
      lastConsistencyCheck: this.lastCheck,
    };
  }

  /** Subscribes to the events the status is made of; returns the function that unsubscribes. */
  attach(events: SyncEvents): () => void {
    const offs = [
      events.on("pipeline:phase", (e) => {
        this.phase = e.phase;
        if (e.phase === "streaming") {
          for (const progress of this.collections.values()) {
            progress.state = "done";
            progress.remaining = 0;
          }
        }
      }),
      events.on("source:polled", (e) => {
        this.sourceTick = e.lastTick;
      }),
      events.on("source:walRange", (e) => {
        this.walOldest = e.tickMin;
      }),
      events.on("snapshot:started", (e) => {
        this.snapshotTick = e.tick;
        const listed = new Map(e.collections.map((c) => [c.collection, c.documents]));
        for (const [collection, progress] of this.collections) {
          const documents = listed.get(collection);
          // A collection not listed was finished by an earlier run.
          if (documents === undefined) {
            progress.state = "done";
            progress.remaining = 0;
          } else {
            progress.state = "pending";
            progress.documents = 0;
            progress.remaining = documents;
          }
        }
      }),
      events.on("snapshot:progress", (e) => {
        const progress = this.collections.get(e.collection);
        if (progress === undefined) return;
        progress.documents += e.documents;
        progress.remaining = e.remaining;
        progress.state = e.remaining === 0 && e.documents === 0 ? "done" : "dumping";
      }),
      events.on("apply:batchCommitted", (e) => {
        if (e.appliedTick !== undefined) this.appliedTick = e.appliedTick;
        for (const { collection, count } of e.events) {
          const progress = this.collections.get(collection);
          if (progress !== undefined) progress.events += count;
          else this.unmapped.set(collection, (this.unmapped.get(collection) ?? 0) + count);
        }
      }),
      events.on("apply:deadLettered", (e) => {
        const key = `${e.table ?? ""}\u0000${e.reason}`;
        const entry = this.deadLetters.get(key) ?? { table: e.table, reason: e.reason, count: 0 };
        entry.count += 1;
        this.deadLetters.set(key, entry);
      }),
      events.on("deadLetters:counted", (e) => {
        this.deadLetters = new Map(
          e.counts.map((c) => {
            const table = c.table === NO_TABLE ? undefined : c.table;
            return [`${table ?? ""}\u0000${c.reason}`, { table, reason: c.reason, count: c.count }];
          }),
        );
      }),
      events.on("parked:counted", (e) => {
        this.parked = new Map(e.counts.map((c) => [c.table, c.count]));
      }),
      events.on("verify:checked", (e) => {
        this.lastCheck = {
          mode: e.mode,
          finishedAtMs: e.checkedAtMs,
          drift: e.tables.flatMap((t) =>
            t.drift.filter((d) => d.rows > 0).map((d) => ({ table: t.table, ...d })),
          ),
        };
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }
}
