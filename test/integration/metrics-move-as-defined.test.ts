/**
 * Issue 4, acceptance 1: load driven through the emulator into the daemon as `run` composes it,
 * and every metric read from `/metrics` as Prometheus would: the snapshot gauges count down to
 * 0, counters match the events written, dead letters and parked rows follow the sink, lag rises
 * while apply is held and is back to 0 within 2 s of it resuming, and with heartbeats on an idle
 * source keeps the lag below twice the heartbeat interval while the heartbeats keep the latency
 * measured.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AtsproUser } from "../../src/emulator/atspro-generator.js";
import type { Emulator } from "../../src/emulator/emulator.js";
import type { Sample } from "../observe/exposition.js";
import { ComposedDaemon, sumOf } from "../support/composed-daemon.js";
import {
  SOURCE_DATABASE,
  collectionOf,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const M = "arango_pg_sync_";
const database = useTestDatabase();
let emulator: Emulator;
let users: AtsproUser[];
let daemon: ComposedDaemon | undefined;

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(4, 80);
  users = data.users;
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
  insertAll(
    emulator.state,
    "task_results",
    Array.from({ length: 5 }, (_, i) => ({ _key: `t${i}`, value: i })),
  );
});

afterAll(async () => {
  await daemon?.stop();
  await emulator.close();
});

function update(collection: string, key: string, patch: Record<string, unknown>): void {
  const target = collectionOf(emulator.state, collection);
  emulator.state.write(target, undefined, false, (writes) =>
    emulator.state.update(writes, target, key, patch, {}),
  );
}

function remove(collection: string, key: string): void {
  const target = collectionOf(emulator.state, collection);
  emulator.state.write(target, undefined, false, (writes) =>
    emulator.state.remove(writes, target, key, {}),
  );
}

function documentCount(collection: string): number {
  return collectionOf(emulator.state, collection).documents.size;
}

async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The change between two scrapes of every series of `name` whose labels include `labels`. */
function delta(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return sumOf(after, name, labels) - sumOf(before, name, labels);
}

function resume(key: string, userId: string): Record<string, unknown> {
  return { _key: key, user_id: userId, status: "parsed", resume_data: { summary: key } };
}

describe("metrics of a running daemon", () => {
  it("counts the snapshot down to 0 remaining, collection by collection", async () => {
    // The first dump chunk waits, so the snapshot is seen in progress.
    emulator.faults.add({
      pathPrefix: "/_api/replication/dump",
      action: { kind: "latency", ms: 2000 },
      times: 1,
    });
    daemon = await ComposedDaemon.start({
      arangoUrl: emulator.url,
      pgUrl: database.url,
      sync: { dumpChunkSize: 16384 },
    });
    const running = daemon;
    let during: Sample[] = [];
    await running.until("the snapshot reports what it has to dump", async () => {
      during = await running.samples();
      return sumOf(during, `${M}snapshot_remaining_documents`) > 0;
    });
    expect(sumOf(during, `${M}phase`, { phase: "snapshotting" })).toBe(1);
    expect(sumOf(during, `${M}snapshot_remaining_documents`)).toBeLessThanOrEqual(
      documentCount("resumes") + documentCount("jobs") + documentCount("documents"),
    );

    let after: Sample[] = [];
    await running.until("the daemon streams", async () => {
      after = await running.samples();
      return sumOf(after, `${M}phase`, { phase: "streaming" }) === 1;
    });
    for (const collection of ["resumes", "jobs", "documents"]) {
      expect(sumOf(after, `${M}snapshot_remaining_documents`, { collection }), collection).toBe(0);
      expect(sumOf(after, `${M}snapshot_documents_total`, { collection }), collection).toBe(
        documentCount(collection),
      );
    }
    expect(sumOf(after, `${M}phase`, { phase: "snapshotting" })).toBe(0);
    expect(sumOf(after, `${M}apply_rows_total`, { op: "upsert" })).toBeGreaterThan(0);
  });

  it("counts every event written, and the rows, dead letters and parked rows they lead to", async () => {
    const running = requireDaemon();
    await running.until("the WAL-retention headroom is known", async () => {
      const samples = await running.samples();
      return Number.isFinite(sumOf(samples, `${M}wal_retention_headroom_ticks`));
    });
    const jobs = await query<{ legacy_id: string }>(
      "SELECT legacy_id FROM jobs ORDER BY legacy_id LIMIT 4",
    );
    const results = await query<{ legacy_id: string }>(
      "SELECT legacy_id FROM optimization_results ORDER BY legacy_id LIMIT 3",
    );
    const before = await running.samples();
    const owner = users[0]?.id ?? "";

    insertAll(
      emulator.state,
      "resumes",
      Array.from({ length: 6 }, (_, i) => resume(`counted-${i}`, owner)),
    );
    for (const { legacy_id } of jobs) update("jobs", legacy_id, { status: "completed" });
    for (const { legacy_id } of results) remove("documents", legacy_id);
    insertAll(
      emulator.state,
      "task_results",
      Array.from({ length: 2 }, (_, i) => ({ _key: `counted-${i}`, value: i })),
    );
    // One the mapping refuses ("applied" is outside the jobs CHECK list), one whose owner
    // PostgreSQL does not know yet.
    insertAll(emulator.state, "jobs", [{ _key: "refused", user_id: owner, status: "applied" }]);
    insertAll(emulator.state, "resumes", [resume("waiting", "late_user")]);

    let after: Sample[] = [];
    await running.until("every event is counted", async () => {
      after = await running.samples();
      return delta(before, after, `${M}events_total`) === 6 + 4 + 3 + 2 + 1 + 1;
    });
    const events = (collection: string, op: string): number =>
      delta(before, after, `${M}events_total`, { collection, op });
    expect(events("resumes", "upsert")).toBe(6 + 1);
    expect(events("jobs", "upsert")).toBe(4 + 1);
    expect(events("documents", "remove")).toBe(3);
    expect(events("_unmapped", "upsert")).toBe(2);

    const rows = (table: string, op: string): number =>
      delta(before, after, `${M}apply_rows_total`, { table, op });
    expect(rows("resumes", "upsert")).toBe(6);
    expect(rows("jobs", "upsert")).toBe(4);
    expect(rows("optimization_results", "delete")).toBe(3);
    // Upserts of every collection carry their write time; removals carry the removed one's.
    expect(delta(before, after, `${M}replication_latency_seconds_count`)).toBe(6 + 4 + 2 + 1 + 1);
    expect(delta(before, after, `${M}dead_letters`, { table: "jobs", reason: "not_in_enum" })).toBe(
      1,
    );
    await running.until("the parked row is counted", async () => {
      after = await running.samples();
      return delta(before, after, `${M}parked_rows`, { table: "resumes" }) === 1;
    });

    const sourceTick = sumOf(after, `${M}source_tick`);
    const appliedTick = sumOf(after, `${M}applied_tick`);
    expect(appliedTick).toBeGreaterThan(sumOf(before, `${M}applied_tick`));
    expect(appliedTick).toBeLessThanOrEqual(sourceTick);
    expect(sumOf(after, `${M}wal_retention_headroom_ticks`)).toBeGreaterThanOrEqual(0);
    expect(sumOf(after, `${M}source_up`)).toBe(1);
    expect(sumOf(after, `${M}target_up`)).toBe(1);

    // The owner arrives: the parked row is written by the next retry and leaves the parking.
    await seedUsers(database.url, [
      { ...(users[0] as AtsproUser), id: "late_user", email: "late@example.org" },
    ]);
    await running.until("the parked row is written", async () => {
      after = await running.samples();
      return (
        delta(before, after, `${M}parked_rows`, { table: "resumes" }) === 0 &&
        rows("resumes", "upsert") === 7
      );
    });
  });

  it("shows lag rising while apply is held, and 0 within 2 s after it resumes", async () => {
    const running = requireDaemon();
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      // Reads go on, writes to resumes wait: the daemon's next batch blocks inside apply.
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE resumes IN EXCLUSIVE MODE");
      insertAll(emulator.state, "resumes", [resume("held", users[0]?.id ?? "")]);

      let first = 0;
      await running.until("lag is over a second", async () => {
        first = sumOf(await running.samples(), `${M}lag_seconds`);
        return first > 1;
      });
      let second = 0;
      await running.until("lag keeps rising", async () => {
        const samples = await running.samples();
        second = sumOf(samples, `${M}lag_seconds`);
        return second > first + 0.5 && sumOf(samples, `${M}pipeline_queue_events`) > 0;
      });
      expect(second).toBeGreaterThan(first);

      await blocker.query("COMMIT");
      const resumed = Date.now();
      let caughtUpAfterMs: number | undefined;
      await running.until("lag is back to 0", async () => {
        if (sumOf(await running.samples(), `${M}lag_seconds`) !== 0) return false;
        caughtUpAfterMs = Date.now() - resumed;
        return true;
      });
      expect(caughtUpAfterMs).toBeLessThanOrEqual(2000);
      expect(sumOf(await running.samples(), `${M}pipeline_queue_events`)).toBe(0);
    } finally {
      await blocker.end();
    }
  });

  it("keeps lag below twice the heartbeat interval while the application writes nothing", async () => {
    await requireDaemon().stop();
    daemon = await ComposedDaemon.start({
      arangoUrl: emulator.url,
      pgUrl: database.url,
      sync: { heartbeat: { collection: "sync_heartbeat", intervalSeconds: 1 } },
    });
    const running = daemon;
    let before: Sample[] = [];
    await running.until("the daemon streams", async () => {
      before = await running.samples();
      return sumOf(before, `${M}phase`, { phase: "streaming" }) === 1;
    });

    const lags: number[] = [];
    const watchUntil = Date.now() + 6000;
    while (Date.now() < watchUntil) {
      lags.push(sumOf(await running.samples(), `${M}lag_seconds`));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(Math.max(...lags)).toBeLessThan(2 * 1);

    const after = await running.samples();
    // The heartbeats went all the way through: read from the WAL, counted, applied.
    expect(
      delta(before, after, `${M}events_total`, { collection: "_unmapped", op: "upsert" }),
    ).toBeGreaterThanOrEqual(3);
    expect(delta(before, after, `${M}replication_latency_seconds_count`)).toBeGreaterThanOrEqual(3);
    const heartbeats = emulator.state.database(SOURCE_DATABASE).collection("sync_heartbeat");
    expect(heartbeats.documents.size).toBe(1);
  });

  it("counts failed heartbeats as source errors of their own kind, without marking ArangoDB down", async () => {
    const running = requireDaemon();
    const before = await running.samples();
    const linesBefore = running.lines.length;
    // Read-only mode refuses the heartbeat's write; reading the WAL goes on.
    emulator.state.readOnly = true;
    try {
      await running.until("two heartbeats failed", async () => {
        const failed = delta(before, await running.samples(), `${M}source_errors_total`, {
          kind: "heartbeat",
        });
        return failed >= 2;
      });
      const during = await running.samples();
      expect(sumOf(during, `${M}source_up`)).toBe(1);
      expect((await running.get("/readyz")).status).toBe(200);
      for (const kind of ["unavailable", "auth", "protocol", "batch_expired", "other"]) {
        expect(delta(before, during, `${M}source_errors_total`, { kind }), kind).toBe(0);
      }
    } finally {
      emulator.state.readOnly = false;
    }
    const logged = (): { level: string; msg: string }[] =>
      running.lines
        .slice(linesBefore)
        .map((line) => JSON.parse(line) as { level: string; msg: string })
        .filter((line) => line.msg.startsWith("heartbeat"));
    await running.until("a heartbeat is written again", () =>
      logged().some((line) => line.msg === "heartbeat written again"),
    );
    const lines = logged();
    expect(lines[0]).toMatchObject({
      level: "warn",
      msg: "heartbeat write failed; trying again every interval",
    });
    expect(lines.filter((line) => line.level === "warn")).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ level: "info", msg: "heartbeat written again" });
  });
});

function requireDaemon(): ComposedDaemon {
  if (daemon === undefined) throw new Error("the daemon was not started");
  return daemon;
}
