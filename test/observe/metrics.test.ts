import { beforeEach, describe, expect, it } from "vitest";
import {
  METRIC_DEFINITIONS,
  attachMetrics,
  createMetrics,
  type SyncMetrics,
} from "../../src/observe/metrics.js";
import { DEAD_LETTER_REASONS, SyncEvents } from "../../src/observe/sync-events.js";
import { FakeClock, committed, polled } from "./event-builders.js";
import { familyNames, parseExposition, valueOf, type Sample } from "./exposition.js";

const COLLECTIONS = ["resumes", "jobs", "documents"];
const TABLES = ["resumes", "jobs", "optimization_results"];
const P = "arango_pg_sync_";

let clock: FakeClock;
let events: SyncEvents;
let metrics: SyncMetrics;

beforeEach(() => {
  clock = new FakeClock();
  events = new SyncEvents();
  metrics = createMetrics({
    collections: COLLECTIONS,
    tables: TABLES,
    clock: clock.now,
    defaultMetrics: false,
    version: "1.2.3",
  });
  attachMetrics(events, metrics);
});

async function scrape(): Promise<Sample[]> {
  return parseExposition(await metrics.render());
}

async function lag(): Promise<number> {
  return valueOf(await scrape(), `${P}lag_seconds`);
}

describe("at start-up", () => {
  it("exports every defined family, each known label combination at 0", async () => {
    const text = await metrics.render();
    expect(familyNames(text).sort()).toEqual(METRIC_DEFINITIONS.map((d) => d.name).sort());
    const samples = parseExposition(text);
    for (const collection of [...COLLECTIONS, "_unmapped"]) {
      for (const op of ["upsert", "remove", "truncate"]) {
        expect(valueOf(samples, `${P}events_total`, { collection, op })).toBe(0);
      }
    }
    for (const table of TABLES) {
      for (const op of ["upsert", "delete", "truncate"]) {
        expect(valueOf(samples, `${P}apply_rows_total`, { table, op })).toBe(0);
      }
      for (const reason of DEAD_LETTER_REASONS) {
        expect(valueOf(samples, `${P}dead_letters`, { table, reason })).toBe(0);
      }
      expect(valueOf(samples, `${P}parked_rows`, { table })).toBe(0);
      expect(valueOf(samples, `${P}foreign_writes_total`, { table })).toBe(0);
      expect(valueOf(samples, `${P}consistency_drift_rows`, { table, kind: "content" })).toBe(0);
    }
    expect(valueOf(samples, `${P}source_errors_total`, { kind: "unavailable" })).toBe(0);
    expect(valueOf(samples, `${P}wal_gaps_total`)).toBe(0);
    expect(valueOf(samples, `${P}build_info`, { version: "1.2.3" })).toBe(1);
  });

  it("reports the starting phase and leaves unknown values NaN instead of a misleading 0", async () => {
    const samples = await scrape();
    expect(valueOf(samples, `${P}phase`, { phase: "starting" })).toBe(1);
    expect(valueOf(samples, `${P}phase`, { phase: "streaming" })).toBe(0);
    for (const name of ["source_tick", "applied_tick", "wal_retention_headroom_ticks"]) {
      expect(valueOf(samples, `${P}${name}`)).toBeNaN();
    }
    expect(valueOf(samples, `${P}source_up`)).toBe(0);
    // Off (no slot found yet) is not down: the alert on change_stream_up == 0 stays quiet.
    expect(valueOf(samples, `${P}change_stream_up`)).toBeNaN();
    expect(valueOf(samples, `${P}wal_retention_refreshed_timestamp_seconds`)).toBe(
      clock.nowMs / 1000,
    );
    expect(samples.some((s) => s.name === `${P}consistency_last_check_timestamp_seconds`)).toBe(
      false,
    );
  });

  it("starts the default Node.js and process metrics unless told not to", async () => {
    const withDefaults = createMetrics({ collections: [], tables: [] });
    const names = familyNames(await withDefaults.render());
    expect(names).toContain("process_cpu_seconds_total");
    expect(names).toContain("nodejs_eventloop_lag_p99_seconds");
    expect(familyNames(await metrics.render()).some((n) => n.startsWith("nodejs_"))).toBe(false);
  });
});

describe("counters follow the events", () => {
  it("counts change events, rows and batches exactly as committed batches report them", async () => {
    events.emit(
      "apply:batchCommitted",
      committed({
        committedAtMs: clock.nowMs,
        rows: [
          { table: "resumes", op: "upsert", count: 3 },
          { table: "jobs", op: "delete", count: 1 },
        ],
        events: [
          { collection: "resumes", op: "upsert", count: 4 },
          { collection: "jobs", op: "remove", count: 1 },
        ],
      }),
    );
    events.emit(
      "apply:batchCommitted",
      committed({
        committedAtMs: clock.nowMs,
        durationMs: 300,
        rows: [{ table: "resumes", op: "upsert", count: 2 }],
        events: [{ collection: "resumes", op: "upsert", count: 2 }],
      }),
    );
    const samples = await scrape();
    expect(valueOf(samples, `${P}events_total`, { collection: "resumes", op: "upsert" })).toBe(6);
    expect(valueOf(samples, `${P}events_total`, { collection: "jobs", op: "remove" })).toBe(1);
    expect(valueOf(samples, `${P}apply_rows_total`, { table: "resumes", op: "upsert" })).toBe(5);
    expect(valueOf(samples, `${P}apply_rows_total`, { table: "jobs", op: "delete" })).toBe(1);
    expect(valueOf(samples, `${P}apply_batch_duration_seconds_count`)).toBe(2);
    expect(valueOf(samples, `${P}apply_batch_duration_seconds_sum`)).toBeCloseTo(0.32);
    expect(valueOf(samples, `${P}apply_batch_duration_seconds_bucket`, { le: "0.025" })).toBe(1);
    expect(valueOf(samples, `${P}applied_tick`)).toBe(120);
    expect(valueOf(samples, `${P}apply_last_commit_timestamp_seconds`)).toBe(clock.nowMs / 1000);
    expect(valueOf(samples, `${P}target_up`)).toBe(1);
  });

  it("observes one latency per applied change: its _rev write time to the commit", async () => {
    const commit = clock.nowMs;
    events.emit(
      "apply:batchCommitted",
      committed({
        committedAtMs: commit,
        writeTimesMs: [commit - 20, commit - 400, commit - 2_000],
      }),
    );
    const samples = await scrape();
    const latency = `${P}replication_latency_seconds`;
    expect(valueOf(samples, `${latency}_count`)).toBe(3);
    expect(valueOf(samples, `${latency}_sum`)).toBeCloseTo(2.42);
    expect(valueOf(samples, `${latency}_bucket`, { le: "0.025" })).toBe(1);
    expect(valueOf(samples, `${latency}_bucket`, { le: "0.5" })).toBe(2);
    expect(valueOf(samples, `${latency}_bucket`, { le: "2.5" })).toBe(3);
    expect(valueOf(samples, `${latency}_bucket`, { le: "60" })).toBe(3);
  });

  it("keeps snapshot batches out of the change events and the latency", async () => {
    events.emit(
      "apply:batchCommitted",
      committed({
        origin: "snapshot",
        rows: [{ table: "jobs", op: "upsert", count: 50 }],
        events: [{ collection: "jobs", op: "upsert", count: 50 }],
        writeTimesMs: [0],
      }),
    );
    const samples = await scrape();
    expect(valueOf(samples, `${P}apply_rows_total`, { table: "jobs", op: "upsert" })).toBe(50);
    expect(valueOf(samples, `${P}events_total`, { collection: "jobs", op: "upsert" })).toBe(0);
    expect(valueOf(samples, `${P}replication_latency_seconds_count`)).toBe(0);
  });

  it("folds collections and tables the config does not list into fixed label values", async () => {
    events.emit(
      "apply:batchCommitted",
      committed({
        rows: [{ table: "not_configured", op: "upsert", count: 2 }],
        events: [
          { collection: "task_results", op: "upsert", count: 2 },
          { collection: "job_research", op: "remove", count: 1 },
        ],
      }),
    );
    events.emit("target:foreignWrite", { table: "user" });
    const samples = await scrape();
    expect(valueOf(samples, `${P}events_total`, { collection: "_unmapped", op: "upsert" })).toBe(2);
    expect(valueOf(samples, `${P}events_total`, { collection: "_unmapped", op: "remove" })).toBe(1);
    expect(valueOf(samples, `${P}apply_rows_total`, { table: "_other", op: "upsert" })).toBe(2);
    expect(valueOf(samples, `${P}foreign_writes_total`, { table: "_other" })).toBe(1);
    const labelValues = samples.flatMap((s) => Object.values(s.labels));
    for (const name of ["task_results", "job_research", "not_configured", "user"]) {
      expect(labelValues).not.toContain(name);
    }
  });

  it("counts wal/tail traffic, source errors and WAL gaps", async () => {
    events.emit("source:polled", polled({ bytes: 1_000, markers: 7, lastTick: 9_000n }));
    events.emit("source:polled", polled({ bytes: 500, markers: 3, lastTick: 9_500n }));
    let samples = await scrape();
    expect(valueOf(samples, `${P}source_received_bytes_total`)).toBe(1_500);
    expect(valueOf(samples, `${P}source_markers_total`)).toBe(10);
    expect(valueOf(samples, `${P}source_tick`)).toBe(9_500);
    expect(valueOf(samples, `${P}source_up`)).toBe(1);

    events.emit("source:error", { kind: "unavailable", retryable: true, message: "ECONNRESET" });
    events.emit("source:error", { kind: "unavailable", retryable: true, message: "ECONNRESET" });
    events.emit("source:error", { kind: "auth", retryable: false, message: "401" });
    events.emit("source:walGap", { from: 100n, tickMin: 500n, collections: ["jobs"] });
    events.emit("target:error", { kind: "conflict", retryable: true, message: "40001" });
    samples = await scrape();
    expect(valueOf(samples, `${P}source_errors_total`, { kind: "unavailable" })).toBe(2);
    expect(valueOf(samples, `${P}source_errors_total`, { kind: "auth" })).toBe(1);
    expect(valueOf(samples, `${P}source_up`)).toBe(0);
    expect(valueOf(samples, `${P}wal_gaps_total`)).toBe(1);
    expect(valueOf(samples, `${P}target_errors_total`, { kind: "conflict" })).toBe(1);
    expect(valueOf(samples, `${P}target_up`)).toBe(0);
  });

  it("counts failed heartbeats under kind heartbeat, leaving source_up and its classes alone", async () => {
    events.emit("source:polled", polled());
    events.emit("source:heartbeatFailed", { kind: "auth", message: "403 read-only", attempt: 1 });
    events.emit("source:heartbeatFailed", { kind: "auth", message: "403 read-only", attempt: 2 });
    events.emit("source:heartbeatWritten", {});
    const samples = await scrape();
    expect(valueOf(samples, `${P}source_errors_total`, { kind: "heartbeat" })).toBe(2);
    expect(valueOf(samples, `${P}source_errors_total`, { kind: "auth" })).toBe(0);
    expect(valueOf(samples, `${P}source_up`)).toBe(1);
  });

  it("counts change-stream failures under kind change_stream, leaving target_up alone", async () => {
    events.emit("target:connected", {});
    let samples = await scrape();
    expect(valueOf(samples, `${P}target_errors_total`, { kind: "change_stream" })).toBe(0);
    events.emit("target:changeStreamFailed", { message: "connection refused", attempt: 1 });
    events.emit("target:changeStream", { up: false, reason: "connection refused" });
    events.emit("target:changeStreamFailed", { message: "connection refused", attempt: 2 });
    samples = await scrape();
    expect(valueOf(samples, `${P}target_errors_total`, { kind: "change_stream" })).toBe(2);
    expect(valueOf(samples, `${P}target_errors_total`, { kind: "unavailable" })).toBe(0);
    expect(valueOf(samples, `${P}change_stream_up`)).toBe(0);
    expect(valueOf(samples, `${P}target_up`)).toBe(1);
    events.emit("target:changeStream", { up: true });
    expect(valueOf(await scrape(), `${P}change_stream_up`)).toBe(1);
  });

  it("stops moving once detached", async () => {
    const detached = createMetrics({
      collections: ["jobs"],
      tables: ["jobs"],
      defaultMetrics: false,
    });
    const detach = attachMetrics(events, detached);
    detach();
    events.emit("target:foreignWrite", { table: "jobs" });
    const samples = parseExposition(await detached.render());
    expect(valueOf(samples, `${P}foreign_writes_total`, { table: "jobs" })).toBe(0);
  });
});

describe("lag_seconds", () => {
  it("rises while a change is pending and returns to 0 once it is applied", async () => {
    const written = clock.nowMs - 100;
    events.emit(
      "source:polled",
      polled({ checkMore: false, oldestChangeWriteMs: written, newestChangeWriteMs: written }),
    );
    expect(await lag()).toBeCloseTo(0.1);
    clock.advance(30_000);
    expect(await lag()).toBeCloseTo(30.1);
    clock.advance(30_000);
    expect(await lag()).toBeCloseTo(60.1);

    events.emit(
      "apply:batchCommitted",
      committed({
        committedAtMs: clock.nowMs,
        writeTimesMs: [written],
        oldestPendingWriteMs: undefined,
      }),
    );
    // Applied, but the last poll that vouched for "nothing else" is 60 s old: not 0 yet.
    expect(await lag()).toBeCloseTo(60);
    events.emit("source:polled", polled({ checkMore: false }));
    expect(await lag()).toBe(0);
  });

  it("does not stay stale while the source is idle: each scrape is computed from now", async () => {
    for (let minute = 0; minute < 10; minute++) {
      for (let poll = 0; poll < 30; poll++) {
        clock.advance(2_000);
        events.emit("source:polled", polled({ checkMore: false }));
      }
      expect(await lag()).toBe(0);
    }
  });

  it("rises when no poll confirms the caught-up state any more (a stuck tailer)", async () => {
    events.emit("source:polled", polled({ checkMore: false }));
    clock.advance(10_000);
    expect(await lag()).toBe(0);
    clock.advance(110_000);
    expect(await lag()).toBe(120);
  });

  it("keeps counting from the last change read while ArangoDB reports more (checkmore)", async () => {
    const oldest = clock.nowMs - 10_000;
    const newest = clock.nowMs - 5_000;
    events.emit(
      "source:polled",
      polled({ checkMore: true, oldestChangeWriteMs: oldest, newestChangeWriteMs: newest }),
    );
    expect(await lag()).toBe(10);
    events.emit(
      "apply:batchCommitted",
      committed({ committedAtMs: clock.nowMs, writeTimesMs: [oldest, newest] }),
    );
    clock.advance(1_000);
    expect(await lag()).toBe(6);
  });

  it("is what /status reports", async () => {
    events.emit("source:polled", polled({ oldestChangeWriteMs: clock.nowMs - 4_000 }));
    expect(metrics.lagSeconds()).toBe(4);
    expect(await lag()).toBe(4);
  });
});

describe("gauges", () => {
  it("marks exactly one phase", async () => {
    events.emit("pipeline:phase", { phase: "snapshotting", previous: "starting" });
    events.emit("pipeline:phase", { phase: "streaming", previous: "snapshotting" });
    const samples = await scrape();
    const current = samples.filter((s) => s.name === `${P}phase` && s.value === 1);
    expect(current.map((s) => s.labels["phase"])).toEqual(["streaming"]);
  });

  it("follows snapshot progress to 0 remaining, counting dumped documents", async () => {
    events.emit("snapshot:started", {
      tick: 500n,
      resnapshot: false,
      collections: [
        { collection: "resumes", documents: 250 },
        { collection: "jobs", documents: 100 },
      ],
    });
    let samples = await scrape();
    expect(valueOf(samples, `${P}snapshot_remaining_documents`, { collection: "resumes" })).toBe(
      250,
    );
    events.emit("snapshot:progress", { collection: "resumes", documents: 200, remaining: 50 });
    events.emit("snapshot:progress", { collection: "resumes", documents: 60, remaining: -10 });
    events.emit("snapshot:progress", { collection: "jobs", documents: 90, remaining: 10 });
    samples = await scrape();
    expect(valueOf(samples, `${P}snapshot_documents_total`, { collection: "resumes" })).toBe(260);
    expect(valueOf(samples, `${P}snapshot_remaining_documents`, { collection: "resumes" })).toBe(0);
    expect(valueOf(samples, `${P}snapshot_remaining_documents`, { collection: "jobs" })).toBe(10);
    events.emit("snapshot:finished", { tick: 500n, durationMs: 1_000 });
    samples = await scrape();
    expect(valueOf(samples, `${P}snapshot_remaining_documents`, { collection: "jobs" })).toBe(0);
    expect(valueOf(samples, `${P}snapshot_documents_total`, { collection: "jobs" })).toBe(90);
  });

  it("adds dead letters and parked rows as they happen, and a recount replaces them", async () => {
    for (let i = 0; i < 3; i++) {
      events.emit("apply:deadLettered", {
        table: "resumes",
        collection: "resumes",
        reason: "missing_parent",
      });
    }
    events.emit("apply:deadLettered", { table: "jobs", collection: "jobs", reason: "not-in-enum" });
    events.emit("apply:deadLettered", {
      table: undefined,
      collection: undefined,
      reason: "undecodable",
    });
    events.emit("apply:parked", { table: "optimization_results", parked: 5, unparked: 1 });
    let samples = await scrape();
    const deadLetters = `${P}dead_letters`;
    expect(valueOf(samples, deadLetters, { table: "resumes", reason: "missing_parent" })).toBe(3);
    expect(valueOf(samples, deadLetters, { table: "jobs", reason: "not_in_enum" })).toBe(1);
    expect(valueOf(samples, deadLetters, { table: "_none", reason: "undecodable" })).toBe(1);
    expect(valueOf(samples, `${P}parked_rows`, { table: "optimization_results" })).toBe(4);

    events.emit("deadLetters:counted", {
      counts: [{ table: "resumes", reason: "missing_parent", count: 1 }],
    });
    events.emit("parked:counted", { counts: [] });
    samples = await scrape();
    expect(valueOf(samples, deadLetters, { table: "resumes", reason: "missing_parent" })).toBe(1);
    expect(valueOf(samples, deadLetters, { table: "jobs", reason: "not_in_enum" })).toBe(0);
    expect(valueOf(samples, deadLetters, { table: "_none", reason: "undecodable" })).toBe(0);
    expect(valueOf(samples, `${P}parked_rows`, { table: "optimization_results" })).toBe(0);
  });

  it("keeps each table's last consistency result, with unreported kinds at 0", async () => {
    events.emit("verify:checked", {
      mode: "sample",
      checkedAtMs: clock.nowMs,
      tables: [
        { table: "jobs", checked: 100, inFlight: 2, drift: [{ kind: "content", rows: 3 }] },
        { table: "resumes", checked: 100, inFlight: 0, drift: [] },
      ],
    });
    events.emit("verify:checked", {
      mode: "full",
      checkedAtMs: clock.nowMs + 5_000,
      tables: [{ table: "jobs", checked: 900, inFlight: 0, drift: [{ kind: "missing", rows: 1 }] }],
    });
    const samples = await scrape();
    const drift = `${P}consistency_drift_rows`;
    expect(valueOf(samples, drift, { table: "jobs", kind: "content" })).toBe(0);
    expect(valueOf(samples, drift, { table: "jobs", kind: "missing" })).toBe(1);
    expect(valueOf(samples, drift, { table: "resumes", kind: "missing" })).toBe(0);
    const lastCheck = `${P}consistency_last_check_timestamp_seconds`;
    expect(valueOf(samples, lastCheck, { mode: "sample" })).toBe(clock.nowMs / 1000);
    expect(valueOf(samples, lastCheck, { mode: "full" })).toBe(clock.nowMs / 1000 + 5);
  });

  it("reports WAL headroom, when retention was last renewed, and the queue", async () => {
    events.emit("source:walRange", { tickMin: 1_000n, tickMax: 9_000n, from: 4_000n });
    clock.advance(60_000);
    events.emit("source:polled", polled());
    events.emit("pipeline:queue", { events: 12, bytes: 4_096, capacityBytes: 65_536 });
    const samples = await scrape();
    expect(valueOf(samples, `${P}wal_retention_headroom_ticks`)).toBe(3_000);
    expect(valueOf(samples, `${P}wal_retention_refreshed_timestamp_seconds`)).toBe(
      clock.nowMs / 1000,
    );
    expect(valueOf(samples, `${P}pipeline_queue_events`)).toBe(12);
    expect(valueOf(samples, `${P}pipeline_queue_bytes`)).toBe(4_096);
    expect(valueOf(samples, `${P}pipeline_queue_capacity_bytes`)).toBe(65_536);
  });

  it("reports a server that dropped our resume tick as negative headroom", async () => {
    events.emit("source:walRange", { tickMin: 5_000n, tickMax: 9_000n, from: 4_000n });
    expect(valueOf(await scrape(), `${P}wal_retention_headroom_ticks`)).toBe(-1_000);
  });
});
