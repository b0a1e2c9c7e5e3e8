import { beforeEach, describe, expect, it } from "vitest";
import { HealthState } from "../../src/observe/health.js";
import { SyncEvents } from "../../src/observe/sync-events.js";
import { FakeClock, committed, polled } from "./event-builders.js";

let clock: FakeClock;
let events: SyncEvents;
let health: HealthState;

beforeEach(() => {
  clock = new FakeClock();
  events = new SyncEvents();
  health = new HealthState({ clock: clock.now, staleAfterMs: 30_000 });
  health.attach(events);
});

function streamingAndConnected(): void {
  events.emit("pipeline:phase", { phase: "streaming", previous: "snapshotting" });
  events.emit("source:polled", polled());
  events.emit("target:connected", {});
}

describe("liveness", () => {
  it("is alive from start-up for one interval, then only while the loop reports in", () => {
    expect(health.liveness().alive).toBe(true);
    clock.advance(30_000);
    expect(health.liveness().alive).toBe(true);
    clock.advance(1);
    expect(health.liveness()).toMatchObject({ alive: false, heartbeatAgeSeconds: 30.001 });
    events.emit("pipeline:alive", {});
    expect(health.liveness()).toMatchObject({ alive: true, heartbeatAgeSeconds: 0 });
  });

  it("stays alive through a staged commit longer than the threshold while its chunks are applied", () => {
    events.emit("pipeline:alive", {});
    // One turn of the loop applies a staged transaction for 80 s: longer than staleAfter (30 s),
    // with a chunk applied every 20 s.
    for (const applied of [2_000, 4_000, 6_000, 8_000]) {
      clock.advance(20_000);
      events.emit("apply:stagedProgress", { appliedChanges: applied, totalChanges: 10_000 });
      expect(health.liveness()).toMatchObject({ alive: true, heartbeatAgeSeconds: 0 });
    }
    expect(health.liveness().activity).toBe("applying a staged transaction: 8000 of 10000 changes");
    events.emit("apply:batchCommitted", committed());
    events.emit("pipeline:alive", {});
    expect(health.liveness()).toEqual({
      alive: true,
      heartbeatAgeSeconds: 0,
      staleAfterSeconds: 30,
    });
  });

  it("reports a staged commit that stops progressing as stuck; a repeated report is no progress", () => {
    events.emit("apply:stagedProgress", { appliedChanges: 2_000, totalChanges: 10_000 });
    clock.advance(30_001);
    expect(health.liveness()).toMatchObject({
      alive: false,
      activity: "applying a staged transaction: 2000 of 10000 changes",
    });
    events.emit("apply:stagedProgress", { appliedChanges: 2_000, totalChanges: 10_000 });
    expect(health.liveness().alive).toBe(false);
    // It moves again: alive.
    events.emit("apply:stagedProgress", { appliedChanges: 4_000, totalChanges: 10_000 });
    expect(health.liveness().alive).toBe(true);
  });

  it("does not depend on the databases: a failing source does not make the process unhealthy", () => {
    events.emit("source:error", { kind: "unavailable", retryable: true, message: "down" });
    events.emit("target:error", { kind: "unavailable", retryable: true, message: "down" });
    expect(health.liveness().alive).toBe(true);
  });
});

describe("readiness", () => {
  it("is not ready before the snapshot is done, saying why", () => {
    events.emit("pipeline:phase", { phase: "snapshotting", previous: "starting" });
    events.emit("snapshot:progress", { collection: "jobs", documents: 1, remaining: 1 });
    events.emit("apply:batchCommitted", committed({ origin: "snapshot" }));
    const readiness = health.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.checks.snapshot).toEqual({
      ok: false,
      detail: "phase snapshotting: the mirror is not complete yet",
    });
    expect(readiness.checks.source.ok).toBe(true);
    expect(readiness.checks.target.ok).toBe(true);
  });

  it("is ready while streaming with both databases reachable", () => {
    streamingAndConnected();
    expect(health.readiness().ready).toBe(true);
  });

  it("needs both databases to have been reached at least once", () => {
    events.emit("pipeline:phase", { phase: "streaming", previous: "starting" });
    events.emit("source:connected", {});
    expect(health.readiness()).toMatchObject({
      ready: false,
      checks: { target: { ok: false, detail: "PostgreSQL not reached yet" } },
    });
  });

  it("is not ready while the last call to either database failed, and recovers", () => {
    streamingAndConnected();
    events.emit("source:error", { kind: "unavailable", retryable: true, message: "ECONNRESET" });
    expect(health.readiness()).toMatchObject({
      ready: false,
      checks: { source: { ok: false, detail: "ArangoDB unreachable (unavailable)" } },
    });
    events.emit("source:polled", polled());
    expect(health.readiness().ready).toBe(true);
    events.emit("target:error", { kind: "unavailable", retryable: true, message: "57P01" });
    expect(health.readiness().ready).toBe(false);
    events.emit("apply:batchCommitted", committed());
    expect(health.readiness().ready).toBe(true);
  });

  it("is not ready while re-snapshotting after a gap, nor once shutdown began", () => {
    streamingAndConnected();
    events.emit("pipeline:phase", { phase: "resnapshotting", previous: "streaming" });
    expect(health.readiness().ready).toBe(false);
    events.emit("pipeline:phase", { phase: "streaming", previous: "resnapshotting" });
    expect(health.readiness().ready).toBe(true);
    events.emit("pipeline:stopping", { reason: "SIGTERM" });
    expect(health.readiness()).toMatchObject({
      ready: false,
      checks: { shutdown: { ok: false, detail: "stopping: SIGTERM" } },
    });
  });
});
