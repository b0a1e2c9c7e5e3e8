/**
 * The Prometheus metrics of DESIGN.md §4: one private registry per daemon (no global state, so
 * tests build as many as they like), every series defined in `METRICS` below, updated only by
 * pipeline events (`attachMetrics`). This is the only file that imports prom-client.
 *
 * Rules the definitions keep (anchors-style.md §2.1):
 * - prefix `arango_pg_sync_`, base units (`_seconds`, `_bytes`), counters end in `_total`;
 * - label values come from bounded sets: collection and table names from the mapping config, and
 *   fixed enums (sync-events.ts). A name the config does not list is folded into `_unmapped`
 *   (collections) or `_other` (tables), so document data can never create a series;
 * - every known label combination starts at 0, so `rate()` and `increase()` see the first event;
 * - a value not known yet is NaN rather than a misleading 0 (a tick of 0, a headroom of 0 would
 *   read as "at the very start" or "WAL exhausted").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { LagTracker } from "./lag-tracker.js";
import {
  DEAD_LETTER_REASONS,
  DRIFT_KINDS,
  EVENT_OPS,
  PIPELINE_PHASES,
  ROW_OPS,
  SOURCE_ERROR_KINDS,
  TARGET_ERROR_KINDS,
  deadLetterReasonLabel,
  type PipelinePhase,
  type SyncEventMap,
  type SyncEvents,
} from "./sync-events.js";

export const METRIC_PREFIX = "arango_pg_sync_";

/** Label value for events of collections the mapping does not list (counted, then skipped). */
export const UNMAPPED_COLLECTION = "_unmapped";
/** Label value for a table name the config does not list (a bug upstream, still counted). */
export const OTHER_TABLE = "_other";
/** Label value for a dead letter that never got as far as a table (an undecodable marker). */
export const NO_TABLE = "_none";

export type MetricType = "counter" | "gauge" | "histogram";

export interface MetricDefinition<L extends string = string> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets?: readonly number[];
  /** Left out of the dashboard on purpose, and why. Absent: the dashboard must show it. */
  readonly notShownBecause?: string;
}

function define<const L extends string>(definition: MetricDefinition<L>): MetricDefinition<L> {
  return definition;
}

/** 10 ms (a small batch on an idle system) to 60 s (far behind); beyond that `lag_seconds` says it. */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
export const BATCH_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

const TICK_AS_FLOAT = "A float: exact up to 2^53, approximate above; /status has the exact value.";

/** Every series this daemon defines (prom-client's defaults come on top: DEFAULT_METRICS). */
export const METRICS = {
  buildInfo: define({
    name: `${METRIC_PREFIX}build_info`,
    type: "gauge",
    help: "Always 1; the version label names the running build.",
    labelNames: ["version"],
  }),
  phase: define({
    name: `${METRIC_PREFIX}phase`,
    type: "gauge",
    help: `1 for the daemon's current phase, 0 for the others (${PIPELINE_PHASES.join(", ")}).`,
    labelNames: ["phase"],
  }),
  sourceTick: define({
    name: `${METRIC_PREFIX}source_tick`,
    type: "gauge",
    help: `The source server's newest WAL tick, from the latest wal/tail response; NaN until the first. ${TICK_AS_FLOAT}`,
    labelNames: [],
  }),
  appliedTick: define({
    name: `${METRIC_PREFIX}applied_tick`,
    type: "gauge",
    help: `The WAL tick of the last checkpoint committed to PostgreSQL with the rows it covers; NaN until the first commit. ${TICK_AS_FLOAT}`,
    labelNames: [],
  }),
  lagSeconds: define({
    name: `${METRIC_PREFIX}lag_seconds`,
    type: "gauge",
    help:
      "Age of the oldest change not yet applied to PostgreSQL (its _rev write time to now); 0 when caught up. " +
      "Computed at scrape time: it keeps rising while changes wait and falls to 0 when the source goes idle.",
    labelNames: [],
  }),
  replicationLatency: define({
    name: `${METRIC_PREFIX}replication_latency_seconds`,
    type: "histogram",
    help: "Time from a change's write in ArangoDB (decoded from its _rev) to the commit of the PostgreSQL transaction that applied it.",
    labelNames: [],
    buckets: LATENCY_BUCKETS,
  }),
  events: define({
    name: `${METRIC_PREFIX}events_total`,
    type: "counter",
    help: `Change events from the WAL covered by committed batches (applied, parked or dead-lettered), by collection (${UNMAPPED_COLLECTION} for collections the mapping skips) and operation.`,
    labelNames: ["collection", "op"],
  }),
  applyBatchDuration: define({
    name: `${METRIC_PREFIX}apply_batch_duration_seconds`,
    type: "histogram",
    help: "Time to apply one batch in its PostgreSQL transaction, commit included.",
    labelNames: [],
    buckets: BATCH_DURATION_BUCKETS,
  }),
  applyRows: define({
    name: `${METRIC_PREFIX}apply_rows_total`,
    type: "counter",
    help: "Rows written to PostgreSQL by table and operation; an upsert counts only rows that won their tick guard.",
    labelNames: ["table", "op"],
  }),
  applyLastCommit: define({
    name: `${METRIC_PREFIX}apply_last_commit_timestamp_seconds`,
    type: "gauge",
    help: "When the last batch committed (Unix time); NaN until the first commit.",
    labelNames: [],
  }),
  deadLetters: define({
    name: `${METRIC_PREFIX}dead_letters`,
    type: "gauge",
    help: `Dead letters currently held (neither retried nor discarded), by table (${NO_TABLE} when the event never reached one) and reason.`,
    labelNames: ["table", "reason"],
  }),
  parkedRows: define({
    name: `${METRIC_PREFIX}parked_rows`,
    type: "gauge",
    help: "Rows waiting for their parent row, by table.",
    labelNames: ["table"],
  }),
  snapshotDocuments: define({
    name: `${METRIC_PREFIX}snapshot_documents_total`,
    type: "counter",
    help: "Documents dumped and applied by snapshots (initial and after a gap), by collection.",
    labelNames: ["collection"],
  }),
  snapshotRemaining: define({
    name: `${METRIC_PREFIX}snapshot_remaining_documents`,
    type: "gauge",
    help: "Documents the running snapshot still has to dump, by collection (from the collection's count when it started); 0 when done.",
    labelNames: ["collection"],
  }),
  walGaps: define({
    name: `${METRIC_PREFIX}wal_gaps_total`,
    type: "counter",
    help: "Times the resume tick was no longer in the source's WAL (frompresent false); each one starts a re-snapshot.",
    labelNames: [],
  }),
  walHeadroom: define({
    name: `${METRIC_PREFIX}wal_retention_headroom_ticks`,
    type: "gauge",
    help: "Our resume tick minus the oldest tick the server still holds (wal/range tickMin); at or below 0 the server has dropped WAL we need. NaN until the first wal/range.",
    labelNames: [],
  }),
  walRetentionRefreshed: define({
    name: `${METRIC_PREFIX}wal_retention_refreshed_timestamp_seconds`,
    type: "gauge",
    help: "When the daemon last made a call that renews its replication client on the server (wal/tail, or a dump chunk while snapshotting); its start time until then. ArangoDB stops keeping WAL for a client about 2 h (its default) after that.",
    labelNames: [],
  }),
  sourceUp: define({
    name: `${METRIC_PREFIX}source_up`,
    type: "gauge",
    help: "1 when the last call to ArangoDB succeeded, 0 after a failed one or before the first.",
    labelNames: [],
  }),
  targetUp: define({
    name: `${METRIC_PREFIX}target_up`,
    type: "gauge",
    help: "1 when the last use of PostgreSQL succeeded, 0 after a failure or before the first.",
    labelNames: [],
  }),
  sourceErrors: define({
    name: `${METRIC_PREFIX}source_errors_total`,
    type: "counter",
    help: `Failed calls to ArangoDB, by kind (${SOURCE_ERROR_KINDS.join(", ")}): heartbeat counts failed heartbeat writes, whatever their cause; the others classify the pipeline's own calls.`,
    labelNames: ["kind"],
  }),
  targetErrors: define({
    name: `${METRIC_PREFIX}target_errors_total`,
    type: "counter",
    help: `Failed PostgreSQL operations, by kind (${TARGET_ERROR_KINDS.join(", ")}): change_stream counts failures to read PostgreSQL's change stream (a lost or refused replication connection, a slot that cannot be looked up); the others classify the pipeline's own operations.`,
    labelNames: ["kind"],
  }),
  sourceBytes: define({
    name: `${METRIC_PREFIX}source_received_bytes_total`,
    type: "counter",
    help: "Bytes of wal/tail response bodies received.",
    labelNames: [],
  }),
  sourceMarkers: define({
    name: `${METRIC_PREFIX}source_markers_total`,
    type: "counter",
    help: "WAL markers received, of every type, before filtering.",
    labelNames: [],
  }),
  queueEvents: define({
    name: `${METRIC_PREFIX}pipeline_queue_events`,
    type: "gauge",
    help: "Change events fetched from the WAL and waiting to be applied.",
    labelNames: [],
  }),
  queueBytes: define({
    name: `${METRIC_PREFIX}pipeline_queue_bytes`,
    type: "gauge",
    help: "Bytes of change events fetched from the WAL and waiting to be applied.",
    labelNames: [],
  }),
  queueCapacityBytes: define({
    name: `${METRIC_PREFIX}pipeline_queue_capacity_bytes`,
    type: "gauge",
    help: "The bound on pipeline_queue_bytes: at it, the tailer stops fetching (back-pressure). A full queue means the target is the bottleneck. NaN until reported.",
    labelNames: [],
  }),
  driftRows: define({
    name: `${METRIC_PREFIX}consistency_drift_rows`,
    type: "gauge",
    help: `Rows that differ between ArangoDB and PostgreSQL in the last check of each table, by kind (${DRIFT_KINDS.join(", ")}); rows still in flight are not drift.`,
    labelNames: ["table", "kind"],
  }),
  lastCheck: define({
    name: `${METRIC_PREFIX}consistency_last_check_timestamp_seconds`,
    type: "gauge",
    help: "When the last consistency check of each mode (sample, full) finished (Unix time); absent until one has.",
    labelNames: ["mode"],
  }),
  foreignWrites: define({
    name: `${METRIC_PREFIX}foreign_writes_total`,
    type: "counter",
    help: "Transactions seen in PostgreSQL's change stream that changed a mirrored table without touching the daemon's checkpoint: writes that are not ours. Counted only while change_stream_up is 1.",
    labelNames: ["table"],
  }),
  changeStreamUp: define({
    name: `${METRIC_PREFIX}change_stream_up`,
    type: "gauge",
    help: "1 while the daemon reads PostgreSQL's change stream, 0 while it is meant to and cannot (the connection is lost or refused, the slot cannot be looked up), NaN while the change stream is off (no replication slot in the daemon's database, or the snapshot command): foreign writes and visible latency are measured only at 1.",
    labelNames: [],
  }),
  visibleLatency: define({
    name: `${METRIC_PREFIX}visible_latency_seconds`,
    type: "histogram",
    help: "Time from a change's write in ArangoDB (decoded from its _rev) to its row arriving on PostgreSQL's logical replication stream, per row the daemon wrote while streaming: replication_latency_seconds plus the delay until logical consumers see the commit.",
    labelNames: [],
    buckets: LATENCY_BUCKETS,
  }),
} as const;

export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);

/**
 * prom-client's default metric families, unprefixed so community Node.js dashboards work. The
 * dashboard shows a few of them (true); for the others, the reason they are left off.
 */
export const DEFAULT_METRICS: Readonly<Record<string, true | string>> = {
  process_cpu_seconds_total: true,
  process_resident_memory_bytes: true,
  nodejs_eventloop_lag_p99_seconds: true,
  nodejs_heap_size_used_bytes: true,
  nodejs_gc_duration_seconds: true,
  ...Object.fromEntries(
    [
      "process_cpu_user_seconds_total",
      "process_cpu_system_seconds_total",
      "process_start_time_seconds",
      "process_virtual_memory_bytes",
      "process_heap_bytes",
      "process_open_fds",
      "process_max_fds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_min_seconds",
      "nodejs_eventloop_lag_max_seconds",
      "nodejs_eventloop_lag_mean_seconds",
      "nodejs_eventloop_lag_stddev_seconds",
      "nodejs_eventloop_lag_p50_seconds",
      "nodejs_eventloop_lag_p90_seconds",
      "nodejs_active_resources",
      "nodejs_active_resources_total",
      "nodejs_active_handles",
      "nodejs_active_handles_total",
      "nodejs_active_requests",
      "nodejs_active_requests_total",
      "nodejs_heap_size_total_bytes",
      "nodejs_external_memory_bytes",
      "nodejs_heap_space_size_total_bytes",
      "nodejs_heap_space_size_used_bytes",
      "nodejs_heap_space_size_available_bytes",
      "nodejs_version_info",
    ].map((name) => [name, "generic Node.js process detail, for Node.js dashboards"]),
  ),
};

export interface MetricsOptions {
  /** The mapped collections (config): the only `collection` label values besides `_unmapped`. */
  readonly collections: readonly string[];
  /** The mapped tables (config): the only `table` label values besides `_other`/`_none`. */
  readonly tables: readonly string[];
  /** Milliseconds since 1970; tests pass a fake clock. */
  readonly clock?: () => number;
  /** prom-client's process and Node.js metrics (default on). */
  readonly defaultMetrics?: boolean;
  readonly version?: string;
  /**
   * How long one complete `wal/tail` poll vouches for "caught up" (lag-tracker.ts). Default 15 s:
   * well above the tailer's longest idle wait (1 s), well below the lag alert's threshold.
   */
  readonly lagGraceMs?: number;
}

export const DEFAULT_LAG_GRACE_MS = 15_000;

function counter<L extends string>(registry: Registry, d: MetricDefinition<L>): Counter<L> {
  return new Counter<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    registers: [registry],
  });
}

function gauge<L extends string>(
  registry: Registry,
  d: MetricDefinition<L>,
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  return new Gauge<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    registers: [registry],
    ...(collect === undefined ? {} : { collect }),
  });
}

function histogram<L extends string>(registry: Registry, d: MetricDefinition<L>): Histogram<L> {
  return new Histogram<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    buckets: [...(d.buckets ?? [])],
    registers: [registry],
  });
}

function createInstruments(r: Registry, lag: LagTracker, clock: () => number) {
  return {
    buildInfo: gauge(r, METRICS.buildInfo),
    phase: gauge(r, METRICS.phase),
    sourceTick: gauge(r, METRICS.sourceTick),
    appliedTick: gauge(r, METRICS.appliedTick),
    // Computed on every scrape from "now": never a value left over from the last event.
    lagSeconds: gauge(r, METRICS.lagSeconds, function collect() {
      this.set(lag.lagSeconds(clock()));
    }),
    replicationLatency: histogram(r, METRICS.replicationLatency),
    events: counter(r, METRICS.events),
    applyBatchDuration: histogram(r, METRICS.applyBatchDuration),
    applyRows: counter(r, METRICS.applyRows),
    applyLastCommit: gauge(r, METRICS.applyLastCommit),
    deadLetters: gauge(r, METRICS.deadLetters),
    parkedRows: gauge(r, METRICS.parkedRows),
    snapshotDocuments: counter(r, METRICS.snapshotDocuments),
    snapshotRemaining: gauge(r, METRICS.snapshotRemaining),
    walGaps: counter(r, METRICS.walGaps),
    walHeadroom: gauge(r, METRICS.walHeadroom),
    walRetentionRefreshed: gauge(r, METRICS.walRetentionRefreshed),
    sourceUp: gauge(r, METRICS.sourceUp),
    targetUp: gauge(r, METRICS.targetUp),
    sourceErrors: counter(r, METRICS.sourceErrors),
    targetErrors: counter(r, METRICS.targetErrors),
    sourceBytes: counter(r, METRICS.sourceBytes),
    sourceMarkers: counter(r, METRICS.sourceMarkers),
    queueEvents: gauge(r, METRICS.queueEvents),
    queueBytes: gauge(r, METRICS.queueBytes),
    queueCapacityBytes: gauge(r, METRICS.queueCapacityBytes),
    driftRows: gauge(r, METRICS.driftRows),
    lastCheck: gauge(r, METRICS.lastCheck),
    foreignWrites: counter(r, METRICS.foreignWrites),
    changeStreamUp: gauge(r, METRICS.changeStreamUp),
    visibleLatency: histogram(r, METRICS.visibleLatency),
  };
}

type Instruments = ReturnType<typeof createInstruments>;

/** The registry and every series; `attachMetrics` feeds it from pipeline events. */
export class SyncMetrics {
  // Private: other modules get the exposition text, never prom-client objects.
  private readonly registry = new Registry();
  private readonly clock: () => number;
  private readonly collections: ReadonlySet<string>;
  private readonly tables: ReadonlySet<string>;
  private readonly lag: LagTracker;
  /** What the gauges that are also changed by deltas hold, so a recount can replace them. */
  private readonly deadLetterCounts = new Map<
    string,
    { table: string; reason: string; n: number }
  >();
  private readonly parkedCounts = new Map<string, number>();
  private snapshotCollections: readonly string[] = [];

  private readonly m: Instruments;

  constructor(options: MetricsOptions) {
    this.clock = options.clock ?? Date.now;
    this.collections = new Set(options.collections);
    this.tables = new Set(options.tables);
    const startMs = this.clock();
    this.lag = new LagTracker({ graceMs: options.lagGraceMs ?? DEFAULT_LAG_GRACE_MS, startMs });
    this.m = createInstruments(this.registry, this.lag, this.clock);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.initialize(options.version ?? "unknown", startMs);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every series. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The same value `lag_seconds` reports, for `/status`. */
  lagSeconds(): number {
    return this.lag.lagSeconds(this.clock());
  }

  /** Subscribes to every event that moves a series; returns the function that unsubscribes. */
  attach(events: SyncEvents): () => void {
    // Every event has an entry, so a new event cannot be added without deciding what it moves.
    const handlers: { [E in keyof SyncEventMap]: (payload: SyncEventMap[E]) => void } = {
      "pipeline:phase": (e) => {
        this.setPhase(e.phase);
      },
      // Liveness and shutdown are health's business (/healthz, /readyz), not series.
      "pipeline:alive": () => undefined,
      "pipeline:stopping": () => undefined,
      "pipeline:queue": (e) => {
        this.m.queueEvents.set(e.events);
        this.m.queueBytes.set(e.bytes);
        if (e.capacityBytes !== undefined) this.m.queueCapacityBytes.set(e.capacityBytes);
      },
      "source:connected": () => {
        this.m.sourceUp.set(1);
      },
      "source:polled": (e) => {
        const now = this.clock();
        this.m.sourceUp.set(1);
        this.m.sourceTick.set(Number(e.lastTick));
        this.m.sourceBytes.inc(e.bytes);
        this.m.sourceMarkers.inc(e.markers);
        this.m.walRetentionRefreshed.set(now / 1000);
        this.lag.polled(e, now);
      },
      "source:error": (e) => {
        this.m.sourceUp.set(0);
        this.m.sourceErrors.inc({ kind: e.kind });
      },
      "source:walGap": () => {
        this.m.walGaps.inc();
        this.lag.readingSuspended();
      },
      "source:walRange": (e) => {
        this.m.sourceUp.set(1);
        this.m.walHeadroom.set(Number(e.from - e.tickMin));
      },
      // The heartbeat's outcome says nothing about the pipeline's calls: source_up stays.
      "source:heartbeatWritten": () => undefined,
      "source:heartbeatFailed": () => {
        this.m.sourceErrors.inc({ kind: "heartbeat" });
      },
      "target:connected": () => {
        this.m.targetUp.set(1);
      },
      "target:error": (e) => {
        this.m.targetUp.set(0);
        this.m.targetErrors.inc({ kind: e.kind });
      },
      "target:foreignWrite": (e) => {
        this.m.foreignWrites.inc({ table: this.tableLabel(e.table) });
      },
      "target:visible": (e) => {
        for (const writtenMs of e.writeTimesMs) {
          this.m.visibleLatency.observe(Math.max(0, e.visibleAtMs - writtenMs) / 1000);
        }
      },
      "target:changeStream": (e) => {
        this.m.changeStreamUp.set(e.up ? 1 : 0);
      },
      // The mirror is still written: target_up stays.
      "target:changeStreamFailed": () => {
        this.m.targetErrors.inc({ kind: "change_stream" });
      },
      "snapshot:started": (e) => {
        this.m.sourceUp.set(1);
        this.m.walRetentionRefreshed.set(this.clock() / 1000);
        this.snapshotCollections = e.collections.map((c) => this.collectionLabel(c.collection));
        for (const c of e.collections) {
          this.m.snapshotRemaining.set(
            { collection: this.collectionLabel(c.collection) },
            c.documents,
          );
        }
        this.lag.readingSuspended();
      },
      "snapshot:progress": (e) => {
        const collection = this.collectionLabel(e.collection);
        this.m.sourceUp.set(1);
        this.m.walRetentionRefreshed.set(this.clock() / 1000);
        this.m.snapshotDocuments.inc({ collection }, e.documents);
        this.m.snapshotRemaining.set({ collection }, Math.max(0, e.remaining));
      },
      "snapshot:finished": () => {
        for (const collection of this.snapshotCollections) {
          this.m.snapshotRemaining.set({ collection }, 0);
        }
      },
      "apply:batchCommitted": (e) => {
        this.m.targetUp.set(1);
        this.m.applyBatchDuration.observe(e.durationMs / 1000);
        if (e.appliedTick !== undefined) this.m.appliedTick.set(Number(e.appliedTick));
        this.m.applyLastCommit.set(e.committedAtMs / 1000);
        for (const row of e.rows) {
          this.m.applyRows.inc({ table: this.tableLabel(row.table), op: row.op }, row.count);
        }
        if (e.origin === "snapshot") return;
        for (const event of e.events) {
          this.m.events.inc(
            { collection: this.collectionLabel(event.collection), op: event.op },
            event.count,
          );
        }
        for (const writtenMs of e.writeTimesMs) {
          this.m.replicationLatency.observe(Math.max(0, e.committedAtMs - writtenMs) / 1000);
        }
        this.lag.committed(e);
      },
      // Liveness during a long commit: health's business; the commit itself is counted when it ends.
      "apply:stagedProgress": () => undefined,
      "apply:deadLettered": (e) => {
        const table = e.table === undefined ? NO_TABLE : this.tableLabel(e.table);
        const reason = deadLetterReasonLabel(e.reason);
        const key = `${table}\u0000${reason}`;
        const entry = this.deadLetterCounts.get(key) ?? { table, reason, n: 0 };
        entry.n += 1;
        this.deadLetterCounts.set(key, entry);
        this.m.deadLetters.set({ table, reason }, entry.n);
      },
      "apply:parked": (e) => {
        const table = this.tableLabel(e.table);
        const n = Math.max(0, (this.parkedCounts.get(table) ?? 0) + e.parked - e.unparked);
        this.parkedCounts.set(table, n);
        this.m.parkedRows.set({ table }, n);
      },
      "deadLetters:counted": (e) => {
        for (const entry of this.deadLetterCounts.values()) entry.n = 0;
        for (const c of e.counts) {
          const table = c.table === NO_TABLE ? NO_TABLE : this.tableLabel(c.table);
          const reason = deadLetterReasonLabel(c.reason);
          const key = `${table}\u0000${reason}`;
          const entry = this.deadLetterCounts.get(key) ?? { table, reason, n: 0 };
          entry.n += c.count;
          this.deadLetterCounts.set(key, entry);
        }
        for (const entry of this.deadLetterCounts.values()) {
          this.m.deadLetters.set({ table: entry.table, reason: entry.reason }, entry.n);
        }
      },
      "parked:counted": (e) => {
        for (const table of this.parkedCounts.keys()) this.parkedCounts.set(table, 0);
        for (const c of e.counts) {
          const table = this.tableLabel(c.table);
          this.parkedCounts.set(table, (this.parkedCounts.get(table) ?? 0) + c.count);
        }
        for (const [table, n] of this.parkedCounts) this.m.parkedRows.set({ table }, n);
      },
      "verify:checked": (e) => {
        for (const checked of e.tables) {
          const table = this.tableLabel(checked.table);
          for (const kind of DRIFT_KINDS) {
            const rows = checked.drift
              .filter((d) => d.kind === kind)
              .reduce((sum, d) => sum + d.rows, 0);
            this.m.driftRows.set({ table, kind }, rows);
          }
        }
        this.m.lastCheck.set({ mode: e.mode }, e.checkedAtMs / 1000);
      },
    };
    const unsubscribe = (Object.keys(handlers) as (keyof SyncEventMap)[]).map((name) =>
      events.on(name, handlers[name] as (payload: SyncEventMap[typeof name]) => void),
    );
    return () => {
      for (const off of unsubscribe) off();
    };
  }

  private initialize(version: string, startMs: number): void {
    const m = this.m;
    m.buildInfo.set({ version }, 1);
    this.setPhase("starting");
    for (const g of [m.sourceTick, m.appliedTick, m.applyLastCommit, m.walHeadroom]) g.set(NaN);
    m.queueCapacityBytes.set(NaN);
    // Off until the daemon finds the slot and starts reading it (target:changeStream).
    m.changeStreamUp.set(NaN);
    m.walRetentionRefreshed.set(startMs / 1000);
    const collections = [...this.collections, UNMAPPED_COLLECTION];
    for (const collection of collections) {
      for (const op of EVENT_OPS) m.events.inc({ collection, op }, 0);
    }
    for (const collection of this.collections) {
      m.snapshotDocuments.inc({ collection }, 0);
      m.snapshotRemaining.set({ collection }, 0);
    }
    for (const table of this.tables) {
      for (const op of ROW_OPS) m.applyRows.inc({ table, op }, 0);
      for (const reason of DEAD_LETTER_REASONS) {
        this.deadLetterCounts.set(`${table}\u0000${reason}`, { table, reason, n: 0 });
        m.deadLetters.set({ table, reason }, 0);
      }
      this.parkedCounts.set(table, 0);
      m.parkedRows.set({ table }, 0);
      for (const kind of DRIFT_KINDS) m.driftRows.set({ table, kind }, 0);
      m.foreignWrites.inc({ table }, 0);
    }
    for (const kind of SOURCE_ERROR_KINDS) m.sourceErrors.inc({ kind }, 0);
    for (const kind of TARGET_ERROR_KINDS) m.targetErrors.inc({ kind }, 0);
  }

  private setPhase(current: PipelinePhase): void {
    for (const phase of PIPELINE_PHASES) {
      this.m.phase.set({ phase }, phase === current ? 1 : 0);
    }
  }

  private collectionLabel(collection: string): string {
    return this.collections.has(collection) ? collection : UNMAPPED_COLLECTION;
  }

  private tableLabel(table: string): string {
    return this.tables.has(table) ? table : OTHER_TABLE;
  }
}

export function createMetrics(options: MetricsOptions): SyncMetrics {
  return new SyncMetrics(options);
}

/** Feeds `metrics` from `events`; returns the function that unsubscribes. */
export function attachMetrics(events: SyncEvents, metrics: SyncMetrics): () => void {
  return metrics.attach(events);
}
