/**
 * Snapshot chunks commit on two connections side by side. Each follows the one before it
 * (`ApplyInput.follows`): it waits for that commit, lands after it, and rolls back when that one
 * did not commit, so no chunk's rows or progress land after a gap.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import type { Change, Checkpoint } from "../../src/sink/changes.js";
import { TargetStore } from "../../src/sink/target-store.js";
import { withClient } from "../support/databases.js";
import { useTestDatabase } from "../support/test-database.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  expectedMirror,
  generateAtspro,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";

const database = useTestDatabase();
const mapping = atsproMapping();
const USER = "user-lanes";

function progressCheckpoint(documents: number): Checkpoint {
  return {
    sourceDatabase: SOURCE_DATABASE,
    phase: "snapshotting",
    appliedTick: null,
    lastScanned: null,
    snapshotTick: null,
    snapshot: { resumes: { state: "dumping", documents, tick: "100" } },
  };
}

function resume(key: string): Change {
  const table = mapping.forCollection("resumes");
  const built = table?.buildRow({
    key,
    rev: "_kZ0Qx1a---",
    tick: 100n,
    document: { _key: key, user_id: USER, status: "parsed", resume_data: { name: key } },
  });
  if (built?.ok !== true) throw new Error("the test resume does not map");
  return { kind: "upsert", collection: "resumes", row: built.row, rev: "_kZ0Qx1a---" };
}

/** Resolves once a backend of this database waits for a lock (the guarded checkpoint write). */
async function someoneWaitsForALock(observer: pg.Client): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const waiting = await observer.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (waiting.rowCount !== null && waiting.rowCount > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("no backend ever waited for the checkpoint row");
}

describe("a commit that follows another one in flight", () => {
  let store: TargetStore;

  beforeAll(async () => {
    await seedUsers(database.url, [
      {
        id: USER,
        name: "Lanes",
        email: "lanes@example.test",
        emailVerified: true,
        image: null,
        createdAt: "2026-01-01T00:00:00",
        updatedAt: "2026-01-01T00:00:00",
      },
    ]);
    store = await TargetStore.open({ url: database.url, mapping, journal: true });
    await store.apply({ changes: [], checkpoint: progressCheckpoint(0) });
  });

  afterAll(async () => {
    await store.close();
  });

  /**
   * The commit before is played by a plain transaction that moves the checkpoint to
   * `progressCheckpoint(first)` and then ends with `end`; the follower, on lane 1, carries one
   * resume and `progressCheckpoint(first + 1)`.
   */
  async function follow(first: number, end: "COMMIT" | "ROLLBACK") {
    return withClient(database.url, async (before) => {
      await before.query("BEGIN");
      await before.query(
        "UPDATE arango_sync.checkpoint SET snapshot = $1::jsonb WHERE source_database = $2",
        [JSON.stringify(progressCheckpoint(first).snapshot), SOURCE_DATABASE],
      );
      const follower = store.apply(
        {
          changes: [resume(`r-${first}`)],
          checkpoint: progressCheckpoint(first + 1),
          // The transaction before has written its checkpoint already.
          follows: { checkpoint: progressCheckpoint(first), checkpointWritten: Promise.resolve() },
        },
        1,
      );
      const outcome = follower.then(
        () => "committed",
        (error: unknown) => error,
      );
      await withClient(database.url, someoneWaitsForALock);
      await before.query(end);
      return outcome;
    });
  }

  async function state(key: string) {
    return withClient(database.url, async (client) => {
      const row = await client.query("SELECT 1 FROM resumes WHERE legacy_id = $1", [key]);
      const checkpoint = await store.readCheckpoint(SOURCE_DATABASE);
      return {
        rowStored: row.rowCount === 1,
        documents: checkpoint?.snapshot["resumes"]?.documents,
      };
    });
  }

  it("waits for it and lands after it when it commits", async () => {
    expect(await follow(10, "COMMIT")).toBe("committed");
    expect(await state("r-10")).toEqual({ rowStored: true, documents: 11 });
  });

  it("rolls back, rows and progress alike, when it does not commit", async () => {
    const outcome = await follow(20, "ROLLBACK");
    expect(outcome).toMatchObject({ code: "TARGET_UNAVAILABLE", retryable: true });
    expect(String(outcome)).toMatch(/batch before it did not commit/);
    // The checkpoint is still the one the first test left, and the follower's row is not there.
    expect(await state("r-20")).toEqual({ rowStored: false, documents: 11 });
  });
});

describe("a snapshot on two connections", () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startAtsproSource();
  });

  afterAll(async () => {
    await emulator.close();
  });

  it("mirrors every document and records the progress of every chunk in dump order", async () => {
    const data = generateAtspro(11, 400);
    await seedUsers(database.url, data.users);
    insertAll(emulator.state, "resumes", data.resumes);
    insertAll(emulator.state, "jobs", data.jobs);
    insertAll(emulator.state, "documents", data.results);
    const progress: number[] = [];
    // How many connections the daemon holds, sampled at every chunk it reports committed.
    const observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
    const connections: Promise<number>[] = [];
    try {
      await syncUntilCaughtUp(
        emulator,
        database.url,
        mapping,
        // Small chunks, so every collection is dumped in many.
        { dumpChunkSize: 16384, snapshotConnections: 2 },
        {
          snapshotProgress: (info) => {
            if (info.collection === "resumes" && !info.done) progress.push(info.documents);
            connections.push(
              observer
                .query<{ n: number }>(
                  `SELECT count(*)::int AS n FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'arango-pg-sync'`,
                )
                .then((r) => r.rows[0]?.n ?? 0),
            );
          },
        },
      );
      expect(Math.max(...(await Promise.all(connections)))).toBe(2);
    } finally {
      await observer.end();
    }
    expect(progress.length).toBeGreaterThan(5);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(data.resumes.length);
    const userIds = new Set(data.users.map((u) => u.id));
    expect(await readMirror(database.url, mapping)).toEqual(
      expectedMirror(emulator.state, mapping, userIds),
    );
  });
});
