/**
 * Invariant 5 (DESIGN.md §2, issue 3 acceptance 6): when the tick to resume from is no longer in
 * the WAL (`x-arango-replication-frompresent: false` after forced pruning), the daemon says so —
 * `gap` and `phase` to its observer, a `source:walGap` control event — and heals by
 * re-snapshotting with mark-and-sweep: rows ArangoDB no longer has are deleted, changed rows are
 * current, and nothing left over from before the gap (a parked image of a removed document)
 * comes back later.
 */
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { type DaemonObserver, SyncDaemon } from "../../src/pipeline/sync-daemon.js";
import type { Phase } from "../../src/sink/changes.js";
import { TargetStore } from "../../src/sink/target-store.js";
import { ReplicationApi } from "../../src/source/replication-api.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  collectionOf,
  defaultDaemonOptions,
  expectedMirror,
  generateAtspro,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { type TestDatabase, testDatabases } from "../support/test-database.js";

const databases = testDatabases();
const mapping = atsproMapping();

let emulator: Emulator;
let database: TestDatabase;
let userIds: Set<string>;

beforeEach(async () => {
  database = await databases.fromTemplate();
  emulator = await startAtsproSource();
  const data = generateAtspro(61, 150);
  // Every owner exists, so a row is absent from PostgreSQL only for the reasons under test.
  const owners = new Set([...data.resumes, ...data.jobs, ...data.results].map(userOf));
  const users = [
    ...data.users,
    ...[...owners]
      .filter((id) => !data.users.some((u) => u.id === id))
      .map(
        (id) => ({ ...data.users[0], id, email: `${id}@example.org` }) as (typeof data.users)[0],
      ),
  ];
  userIds = new Set(users.map((u) => u.id));
  await seedUsers(database.url, users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
});

afterEach(async () => {
  await emulator.close();
});

function userOf(document: Record<string, unknown>): string {
  return String(document["user_id"]);
}

async function query<R extends pg.QueryResultRow>(
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function appliedTick(): Promise<bigint> {
  const [row] = await query<{ tick: string }>(
    "SELECT applied_tick::text AS tick FROM arango_sync.checkpoint WHERE source_database = $1",
    [SOURCE_DATABASE],
  );
  if (row === undefined) throw new Error("no checkpoint");
  return BigInt(row.tick);
}

/** Records what the daemon reports about phases and gaps. */
function recorder(): { phases: Phase[]; gaps: bigint[]; observer: DaemonObserver } {
  const phases: Phase[] = [];
  const gaps: bigint[] = [];
  return {
    phases,
    gaps,
    observer: {
      phase: (phase) => phases.push(phase),
      gap: ({ from }) => gaps.push(from),
    },
  };
}

/** A result document waiting for a resume that does not exist yet. */
function orphanResult(key: string, resumeKey: string): Record<string, unknown> {
  const documents = collectionOf(emulator.state, "documents");
  const [sample] = documents.documents.values();
  if (sample === undefined) throw new Error("no documents");
  const { _id: _, _rev: __, ...body } = sample;
  return { ...body, _key: key, resume_id: resumeKey };
}

/**
 * Writes made while the daemon cannot see them: removes (resumes with their results, results on
 * their own, the parked orphan if there is one), updates, inserts. Returns the removed keys per collection.
 */
function writeBehindTheDaemonsBack(): Record<"resumes" | "documents", string[]> {
  const { state } = emulator;
  const resumes = collectionOf(state, "resumes");
  const jobs = collectionOf(state, "jobs");
  const documents = collectionOf(state, "documents");
  const removed: Record<"resumes" | "documents", string[]> = { resumes: [], documents: [] };
  for (const key of [...resumes.documents.keys()].slice(0, 12)) {
    state.write(resumes, undefined, false, (w) => state.remove(w, resumes, key, {}));
    removed.resumes.push(key);
  }
  for (const key of [...documents.documents.keys()].slice(0, 8)) {
    state.write(documents, undefined, false, (w) => state.remove(w, documents, key, {}));
    removed.documents.push(key);
  }
  if (documents.documents.has("orphan")) {
    state.write(documents, undefined, false, (w) => state.remove(w, documents, "orphan", {}));
    removed.documents.push("orphan");
  }
  for (const key of [...jobs.documents.keys()].slice(0, 10)) {
    state.write(jobs, undefined, false, (w) =>
      state.update(w, jobs, key, { status: "failed", error_message: "changed in the gap" }, {}),
    );
  }
  const owner = userOf(resumes.documents.values().next().value ?? {});
  insertAll(state, "resumes", [
    { _key: "new-in-gap", user_id: owner, status: "parsed", resume_data: { summary: "new" } },
  ]);
  return removed;
}

/** The forced prune must leave the daemon's resume tick outside the retained WAL. */
async function pruneBelowTheCheckpoint(): Promise<bigint> {
  const from = await appliedTick();
  const pruned = emulator.pruneWal({ force: true });
  expect(pruned.removed).toBeGreaterThan(0);
  expect(pruned.tickMin).toBeGreaterThan(from + 1n);
  return from;
}

async function expectHealed(removed: Record<"resumes" | "documents", string[]>): Promise<void> {
  const mirror = await readMirror(database.url, mapping);
  expect(mirror).toEqual(expectedMirror(emulator.state, mapping, userIds));
  for (const key of removed.resumes) expect(mirror["resumes"]).not.toHaveProperty(key);
  for (const key of removed.documents)
    expect(mirror["optimization_results"]).not.toHaveProperty(key);
  expect(mirror["resumes"]).toHaveProperty("new-in-gap");
  const changed = Object.values(mirror["jobs"] ?? {}).filter(
    (row) => row["error_message"] === "changed in the gap",
  );
  expect(changed).toHaveLength(10);
  // The parked image of the removed orphan is gone with it.
  expect(
    await query("SELECT legacy_id FROM arango_sync.parked_rows WHERE legacy_id = 'orphan'"),
  ).toEqual([]);
}

describe("a WAL gap", () => {
  it("found at restart is reported and healed by a re-snapshot that sweeps what ArangoDB lost", async () => {
    const { state } = emulator;
    insertAll(state, "documents", [orphanResult("orphan", "late-resume")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(
      await query("SELECT legacy_id FROM arango_sync.parked_rows WHERE legacy_id = 'orphan'"),
    ).toHaveLength(1);

    const removed = writeBehindTheDaemonsBack();
    const from = await pruneBelowTheCheckpoint();

    const seen = recorder();
    await syncUntilCaughtUp(emulator, database.url, mapping, {}, seen.observer);

    expect(seen.gaps).toEqual([from]);
    expect(seen.phases).toEqual(["streaming", "resnapshotting", "streaming", "stopped"]);
    const events = await query<{ kind: string; detail: Record<string, unknown> }>(
      `SELECT kind, detail FROM arango_sync.control_events
        WHERE kind IN ('source:walGap', 'snapshot:started', 'snapshot:finished') ORDER BY id`,
    );
    expect(events.map((e) => e.kind)).toEqual([
      "snapshot:started",
      "snapshot:finished",
      "source:walGap",
      "snapshot:started",
      "snapshot:finished",
    ]);
    expect(events[2]?.detail).toEqual({ from: from.toString() });
    expect(events[3]?.detail).toMatchObject({ phase: "resnapshotting" });
    expect(await query<{ phase: string }>("SELECT phase FROM arango_sync.checkpoint")).toEqual([
      { phase: "streaming" },
    ]);
    await expectHealed(removed);

    // The resume the removed orphan waited for arrives after the re-snapshot: the orphan's
    // pre-gap image must not come back with it.
    const owner = userOf(collectionOf(state, "resumes").documents.values().next().value ?? {});
    insertAll(state, "resumes", [
      { _key: "late-resume", user_id: owner, status: "parsed", resume_data: {} },
    ]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    const mirror = await readMirror(database.url, mapping);
    expect(mirror["resumes"]).toHaveProperty("late-resume");
    expect(mirror["optimization_results"]).not.toHaveProperty("orphan");
    expect(mirror).toEqual(expectedMirror(state, mapping, userIds));
  });

  it("found by a running daemon is reported and healed without a restart", async () => {
    const { state } = emulator;
    insertAll(state, "documents", [orphanResult("orphan", "late-resume")]);
    const api = new ReplicationApi(
      { url: emulator.url, database: SOURCE_DATABASE, username: "root", password: "" },
      { syncerId: "4243", clientInfo: "arango-pg-sync test" },
    );
    const store = await TargetStore.open({ url: database.url, mapping, journal: true });
    const seen = recorder();
    let resnapshotted: () => void = () => undefined;
    const healed = new Promise<void>((resolve) => {
      resnapshotted = resolve;
    });
    const daemon = new SyncDaemon(
      api,
      store,
      { ...defaultDaemonOptions(mapping), stopWhenCaughtUp: false },
      {
        ...seen.observer,
        phase: (phase) => {
          seen.phases.push(phase);
          if (phase === "streaming" && seen.phases.includes("resnapshotting")) resnapshotted();
        },
      },
    );
    const stop = new AbortController();
    const running = daemon.run(stop.signal);
    try {
      await until(
        async () =>
          daemon.phase === "streaming" &&
          isDeepStrictEqual(
            await readMirror(database.url, mapping),
            expectedMirror(state, mapping, userIds),
          ),
      );
      // Writes and the prune in one turn of the event loop: the daemon's next poll finds the gap.
      const removed = writeBehindTheDaemonsBack();
      const from = daemon.appliedTick ?? 0n;
      const pruned = emulator.pruneWal({ force: true });
      expect(pruned.tickMin).toBeGreaterThan(from + 1n);
      await Promise.race([healed, running.then(() => Promise.reject(new Error("daemon ended")))]);

      expect(seen.gaps).toEqual([from]);
      expect(seen.phases).toEqual(["snapshotting", "streaming", "resnapshotting", "streaming"]);
      expect(
        await query("SELECT kind FROM arango_sync.control_events WHERE kind = 'source:walGap'"),
      ).toHaveLength(1);
      await expectHealed(removed);
    } finally {
      stop.abort();
      await running;
      await store.close();
      api.close();
    }
    expect(seen.phases.at(-1)).toBe("stopped");
  });
});

describe("regressions", () => {
  it("re-dumps collections the last snapshot marked done (a gap used to loop on the lost tick)", async () => {
    await syncUntilCaughtUp(emulator, database.url, mapping);
    writeBehindTheDaemonsBack();
    await pruneBelowTheCheckpoint();

    // The broken re-snapshot skipped every collection and tailed from the lost tick again,
    // finding the same gap forever: stop at the second one instead of hanging.
    const seen = recorder();
    const stop = new AbortController();
    await syncUntilCaughtUp(
      emulator,
      database.url,
      mapping,
      {},
      {
        ...seen.observer,
        gap: ({ from }) => {
          seen.gaps.push(from);
          if (seen.gaps.length > 1) stop.abort();
        },
      },
      stop.signal,
    );
    expect(seen.gaps).toHaveLength(1);
    const [started] = await query<{ detail: { collections: string[] } }>(
      `SELECT detail FROM arango_sync.control_events
        WHERE kind = 'snapshot:started' AND detail->>'phase' = 'resnapshotting'`,
    );
    expect(started?.detail.collections).toEqual([...mapping.collections]);
  });

  it("drops parked images older than the re-snapshot (a removed document came back with its parent)", async () => {
    const { state } = emulator;
    insertAll(state, "documents", [orphanResult("orphan", "late-resume")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(writeBehindTheDaemonsBack().documents).toContain("orphan");
    await pruneBelowTheCheckpoint();
    await syncUntilCaughtUp(emulator, database.url, mapping);

    const owner = userOf(collectionOf(state, "resumes").documents.values().next().value ?? {});
    insertAll(state, "resumes", [
      { _key: "late-resume", user_id: owner, status: "parsed", resume_data: {} },
    ]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    const mirror = await readMirror(database.url, mapping);
    expect(mirror["resumes"]).toHaveProperty("late-resume");
    expect(mirror["optimization_results"]).not.toHaveProperty("orphan");
  });
});

/** Polls `condition` until it holds; fails after `timeoutMs` (a bound, not a measured time). */
async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
