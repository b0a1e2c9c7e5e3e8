import { describe, expect, it } from "vitest";
import { SyncError } from "../../src/errors.js";
import {
  type SyncEventMap,
  type SyncEventName,
  SyncEvents,
} from "../../src/observe/sync-events.js";
import { reportToEvents } from "../../src/pipeline/report-to-events.js";
import type { ApplyCounts } from "../../src/sink/apply-batch.js";
import { encodeRevision, revisionFromTime } from "../../src/source/revision.js";
import { atsproMapping } from "../support/sync-fixture.js";

type Recorded = { [E in SyncEventName]: { name: E; payload: SyncEventMap[E] } }[SyncEventName];

function recorder() {
  const events = new SyncEvents();
  const seen: Recorded[] = [];
  const names: SyncEventName[] = [
    "pipeline:phase",
    "pipeline:queue",
    "source:polled",
    "source:error",
    "source:walGap",
    "snapshot:started",
    "snapshot:progress",
    "snapshot:finished",
    "apply:batchCommitted",
    "apply:deadLettered",
    "apply:stagedProgress",
  ];
  for (const name of names) {
    events.on(name, (payload) => seen.push({ name, payload } as Recorded));
  }
  const of = <E extends SyncEventName>(name: E): SyncEventMap[E][] =>
    seen.filter((r) => r.name === name).map((r) => r.payload as SyncEventMap[E]);
  return { events, seen, of };
}

function counts(overrides: Partial<ApplyCounts> = {}): ApplyCounts {
  return { rows: new Map(), parked: 0, unparked: 0, deadLettered: [], swept: 0, ...overrides };
}

const mapping = atsproMapping();

describe("reportToEvents", () => {
  it("turns a snapshot into started, per-chunk progress down to 0, and finished", async () => {
    const { events, of } = recorder();
    let clock = 1_000;
    const observer = reportToEvents({
      events,
      mapping,
      clock: () => clock,
      countDocuments: (collection) => Promise.resolve(collection === "jobs" ? 5 : 3),
    });
    observer.phase?.("snapshotting");
    await observer.snapshotStarted?.({
      tick: 40n,
      resnapshot: false,
      collections: ["jobs", "resumes"],
    });
    observer.committed?.({
      durationMs: 3,
      appliedTick: null,
      changes: 2,
      counts: counts({ rows: new Map([["jobs", { upsert: 2, delete: 0, truncate: 0 }]]) }),
      events: new Map(),
      revisions: [],
      committedAt: 1_000,
      oldestPendingWriteMs: undefined,
    });
    observer.snapshotProgress?.({ collection: "jobs", documents: 2, done: false });
    observer.snapshotProgress?.({ collection: "jobs", documents: 5, done: false });
    observer.snapshotProgress?.({ collection: "jobs", documents: 5, done: true });
    clock = 4_000;
    observer.phase?.("streaming");

    expect(of("snapshot:started")).toEqual([
      {
        tick: 40n,
        resnapshot: false,
        collections: [
          { collection: "jobs", documents: 5 },
          { collection: "resumes", documents: 3 },
        ],
      },
    ]);
    expect(of("snapshot:progress")).toEqual([
      { collection: "jobs", documents: 2, remaining: 3 },
      { collection: "jobs", documents: 3, remaining: 0 },
      { collection: "jobs", documents: 0, remaining: 0 },
    ]);
    expect(of("apply:batchCommitted")).toMatchObject([
      {
        origin: "snapshot",
        appliedTick: undefined,
        rows: [{ table: "jobs", op: "upsert", count: 2 }],
      },
    ]);
    expect(of("snapshot:finished")).toEqual([{ tick: 40n, durationMs: 3_000 }]);
    expect(of("pipeline:phase").map((p) => [p.previous, p.phase])).toEqual([
      ["starting", "snapshotting"],
      ["snapshotting", "streaming"],
    ]);
  });

  it("reports stream commits with events, write times of upserts, dead letters, and asks for a recount after parking", () => {
    const { events, of } = recorder();
    let recounts = 0;
    const observer = reportToEvents({
      events,
      mapping,
      recount: () => {
        recounts += 1;
      },
    });
    observer.phase?.("streaming");
    const writtenAt = Date.UTC(2026, 0, 1);
    observer.polled?.({
      lastIncluded: 12n,
      lastTick: 12n,
      markers: 3,
      bytes: 300,
      from: 10n,
      lastScanned: 12n,
      checkMore: false,
      fromPresent: true,
      durationMs: 4,
      oldestChangeWriteMs: writtenAt,
      newestChangeWriteMs: writtenAt,
    });
    expect(of("pipeline:queue")).toEqual([{ events: 3, bytes: 300 }]);
    observer.committed?.({
      durationMs: 8,
      appliedTick: 12n,
      changes: 2,
      counts: counts({
        rows: new Map([["resumes", { upsert: 1, delete: 1, truncate: 0 }]]),
        parked: 1,
        deadLettered: [{ reason: "not-in-enum", detail: "x", table: "jobs", collection: "jobs" }],
      }),
      events: new Map([
        ["resumes", { upsert: 2, remove: 1 }],
        ["task_results", { upsert: 1, remove: 0 }],
        ["jobs", { upsert: 0, remove: 0, truncate: 1 }],
      ]),
      revisions: [encodeRevision(revisionFromTime(writtenAt)), "12345"],
      committedAt: writtenAt + 50,
      // A part of a large transaction, read in the same response and staged, still waits.
      oldestPendingWriteMs: writtenAt + 5,
    });
    const [batch] = of("apply:batchCommitted");
    expect(batch).toEqual({
      origin: "stream",
      durationMs: 8,
      committedAtMs: writtenAt + 50,
      appliedTick: 12n,
      rows: [
        { table: "resumes", op: "upsert", count: 1 },
        { table: "resumes", op: "delete", count: 1 },
      ],
      events: [
        { collection: "resumes", op: "upsert", count: 2 },
        { collection: "resumes", op: "remove", count: 1 },
        { collection: "task_results", op: "upsert", count: 1 },
        { collection: "jobs", op: "truncate", count: 1 },
      ],
      // A legacy decimal revision carries no time.
      writeTimesMs: [writtenAt],
      oldestPendingWriteMs: writtenAt + 5,
    });
    expect(of("apply:deadLettered")).toMatchObject([{ table: "jobs", reason: "not-in-enum" }]);
    expect(of("pipeline:queue").at(-1)).toEqual({ events: 0, bytes: 0 });
    expect(recounts).toBe(1);
  });

  it("reports a parked-row retry that wrote rows as a commit without events", () => {
    const { events, of } = recorder();
    let recounts = 0;
    const observer = reportToEvents({ events, mapping, recount: () => (recounts += 1) });
    observer.phase?.("streaming");
    observer.committed?.({
      durationMs: 1,
      appliedTick: 30n,
      changes: 0,
      counts: counts(),
      events: new Map(),
      revisions: [],
      committedAt: 1,
      oldestPendingWriteMs: undefined,
    });
    observer.parkedRetried?.({
      durationMs: 2,
      committedAt: 5,
      counts: counts({
        unparked: 1,
        rows: new Map([["resumes", { upsert: 1, delete: 0, truncate: 0 }]]),
      }),
      // Parts of a large transaction are staged meanwhile: the commit must not forget them.
      oldestPendingWriteMs: 3,
    });
    observer.parkedRetried?.({
      durationMs: 2,
      committedAt: 6,
      counts: counts(),
      oldestPendingWriteMs: 3,
    });
    expect(of("apply:batchCommitted").at(-1)).toEqual({
      origin: "stream",
      durationMs: 2,
      committedAtMs: 5,
      appliedTick: 30n,
      rows: [{ table: "resumes", op: "upsert", count: 1 }],
      events: [],
      writeTimesMs: [],
      oldestPendingWriteMs: 3,
    });
    expect(of("apply:batchCommitted")).toHaveLength(2);
    expect(recounts).toBe(1);
  });

  it("reports each chunk of a staged transaction being applied", () => {
    const { events, of } = recorder();
    const observer = reportToEvents({ events, mapping });
    observer.stagedApplying?.({ appliedChanges: 2_000, totalChanges: 5_000 });
    observer.stagedApplying?.({ appliedChanges: 4_000, totalChanges: 5_000 });
    expect(of("apply:stagedProgress")).toEqual([
      { appliedChanges: 2_000, totalChanges: 5_000 },
      { appliedChanges: 4_000, totalChanges: 5_000 },
    ]);
  });

  it("reports retried source failures and gaps", () => {
    const { events, of } = recorder();
    const observer = reportToEvents({ events, mapping });
    observer.sourceRetry?.(
      new SyncError("SOURCE_UNAVAILABLE", "wal/tail: 503", { retryable: true }),
      2,
      1000,
    );
    observer.gap?.({ from: 99n });
    expect(of("source:error")).toEqual([
      { kind: "unavailable", retryable: true, message: "wal/tail: 503", attempt: 2 },
    ]);
    expect(of("source:walGap")).toEqual([
      { from: 99n, collections: ["resumes", "jobs", "documents"] },
    ]);
  });
});
