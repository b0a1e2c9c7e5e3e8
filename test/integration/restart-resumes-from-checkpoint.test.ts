/**
 * Acceptance item 4 of the sync pipeline, with the daemon as a child process (`arango-pg-sync
 * run` / `snapshot`):
 * - a clean stop (SIGTERM) finishes the batch in flight, commits and exits 0; the next start
 *   resumes from the checkpoint without a new snapshot and applies what was written meanwhile;
 * - a daemon killed during the dump, restarted after its snapshot batch has expired, dumps only
 *   the collections it had not finished, tails from the oldest collection's snapshot tick, and
 *   ends equal to the source.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Random, type AtsproUser } from "../../src/emulator/atspro-generator.js";
import type { Emulator } from "../../src/emulator/emulator.js";
import { DaemonProcess, writeDaemonConfig } from "../support/daemon-process.js";
import { ReplicationTap } from "../support/replication-tap.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  collectionOf,
  expectedMirror,
  generateAtspro,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
} from "../support/sync-fixture.js";
import { type TestDatabase, testDatabases } from "../support/test-database.js";

const databases = testDatabases();
const mapping = atsproMapping();
/** The stream's `sync.tailChunkSize`, which tells its tail calls apart from registrations. */
const STREAM_CHUNK_SIZE = 131072;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

interface ControlEvent {
  kind: string;
  detail: Record<string, unknown>;
}

function controlEvents(url: string): Promise<ControlEvent[]> {
  return withClient(url, async (client) => {
    const result = await client.query<ControlEvent>(
      "SELECT kind, detail FROM arango_sync.control_events ORDER BY id",
    );
    return result.rows;
  });
}

interface SnapshotProgress {
  state: string;
  documents: number;
  tick: string;
}

function checkpoint(url: string): Promise<{
  phase: string;
  appliedTick: string | null;
  snapshot: Record<string, SnapshotProgress>;
}> {
  return withClient(url, async (client) => {
    const result = await client.query<{
      phase: string;
      applied_tick: string | null;
      snapshot: Record<string, SnapshotProgress>;
    }>(
      "SELECT phase, applied_tick::text, snapshot FROM arango_sync.checkpoint WHERE source_database = $1",
      [SOURCE_DATABASE],
    );
    const row = result.rows[0];
    return row === undefined
      ? { phase: "none", appliedTick: null, snapshot: {} }
      : { phase: row.phase, appliedTick: row.applied_tick, snapshot: row.snapshot };
  });
}

/** Polls until `condition` holds; fails with `what` after `timeoutMs`. */
async function eventually(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

async function mirrorsSource(
  url: string,
  emulator: Emulator,
  users: readonly AtsproUser[],
): Promise<boolean> {
  const actual = await readMirror(url, mapping);
  const expected = expectedMirror(emulator.state, mapping, new Set(users.map((u) => u.id)));
  try {
    expect(actual).toEqual(expected);
    return true;
  } catch {
    return false;
  }
}

/** Patches, removes and inserts in every mapped collection, and a transaction. */
function writeWhileDown(emulator: Emulator, users: readonly AtsproUser[], seed: number): string[] {
  const { state } = emulator;
  const random = new Random(seed);
  const resumes = collectionOf(state, "resumes");
  const jobs = collectionOf(state, "jobs");
  const keys = [...resumes.documents.keys()].slice(0, 30);
  for (const key of keys.slice(0, 15)) {
    state.write(resumes, undefined, false, (w) =>
      state.update(w, resumes, key, { status: "manual", resume_data: { summary: `v${seed}` } }, {}),
    );
  }
  for (const key of keys.slice(15, 25)) {
    state.write(resumes, undefined, false, (w) => state.remove(w, resumes, key, {}));
  }
  for (const key of [...jobs.documents.keys()].slice(0, 10)) {
    state.write(jobs, undefined, false, (w) =>
      state.update(w, jobs, key, { status: "failed" }, {}),
    );
  }
  const fresh = generateAtspro(seed, 12).resumes.map((r): Record<string, unknown> => ({
    ...r,
    user_id: random.pick(users).id,
  }));
  insertAll(state, "resumes", fresh);
  const database = state.database(SOURCE_DATABASE);
  const documents = collectionOf(state, "documents");
  const trx = state.beginTransaction(database, { write: ["jobs", "documents"] });
  const job = state.insert(
    trx.writes,
    jobs,
    { user_id: random.pick(users).id, type: "job", status: "pending" },
    {},
  );
  state.insert(
    trx.writes,
    documents,
    {
      type: "score",
      user_id: random.pick(users).id,
      resume_id: String(fresh[0]?.["_key"]),
      job_id: job._key,
      score_data: { overall_score: seed },
    },
    {},
  );
  state.commitTransaction(database, trx.id);
  return [...fresh.map((r) => String(r["_key"])), job._key];
}

describe("a clean stop, then a restart", () => {
  let emulator: Emulator;
  let tap: ReplicationTap;
  let db: TestDatabase;
  let users: AtsproUser[];
  let config: Awaited<ReturnType<typeof writeDaemonConfig>>;
  const running: DaemonProcess[] = [];

  beforeAll(async () => {
    db = await databases.fromTemplate();
    emulator = await startAtsproSource();
    tap = await ReplicationTap.start(emulator.url, STREAM_CHUNK_SIZE);
    const data = generateAtspro(31, 300);
    users = data.users;
    await seedUsers(db.url, users);
    insertAll(emulator.state, "resumes", data.resumes);
    insertAll(emulator.state, "jobs", data.jobs);
    insertAll(emulator.state, "documents", data.results);
    config = await writeDaemonConfig({ parkedRetrySeconds: 1, tailChunkSize: STREAM_CHUNK_SIZE });
  });

  afterAll(async () => {
    for (const daemon of running) await daemon.kill();
    await tap.close();
    await emulator.close();
    await config.remove();
  });

  const start = async (): Promise<DaemonProcess> => {
    tap.reset();
    const daemon = await DaemonProcess.start("run", {
      arangoUrl: tap.url,
      pgUrl: db.url,
      configPath: config.path,
    });
    running.push(daemon);
    return daemon;
  };

  it("finishes the batch in flight on SIGTERM and resumes from the checkpoint without a new snapshot", async () => {
    const first = await start();
    await eventually("the first run mirrors the source", () =>
      mirrorsSource(db.url, emulator, users),
    );

    // Hold the checkpoint row, write, and wait until the daemon's next commit waits for it: a
    // batch is in flight, its rows written, when SIGTERM arrives.
    const before = await checkpoint(db.url);
    const inFlight = await withClient(db.url, async (lock) => {
      await lock.query("BEGIN");
      await lock.query(
        "SELECT 1 FROM arango_sync.checkpoint WHERE source_database = $1 FOR UPDATE",
        [SOURCE_DATABASE],
      );
      const written = writeWhileDown(emulator, users, 1);
      await eventually("the daemon waits for the checkpoint row", () =>
        withClient(db.url, async (client) => {
          const result = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'arango-pg-sync'
                AND wait_event_type = 'Lock'`,
          );
          return (result.rows[0]?.n ?? 0) > 0;
        }),
      );
      // The daemon's commit waits for this lock: SIGTERM arrives with the batch in flight.
      first.signal("SIGTERM");
      await lock.query("ROLLBACK");
      return written;
    });
    const stopped = await first.exit(60_000);
    expect(stopped, first.log).toEqual({ code: 0, signal: null });
    const after = await checkpoint(db.url);
    expect(BigInt(after.appliedTick ?? "0")).toBeGreaterThan(BigInt(before.appliedTick ?? "0"));
    // The batch that was in flight is committed: everything written before SIGTERM is there.
    expect(await mirrorsSource(db.url, emulator, users)).toBe(true);
    const rows = await readMirror(db.url, mapping);
    for (const key of inFlight.slice(0, -1)) expect(rows["resumes"]?.[key]).toBeDefined();

    // Written while no daemon runs; the next run must pick it up from the WAL.
    const whileDown = writeWhileDown(emulator, users, 2);
    const second = await start();
    await eventually("the second run mirrors the source", () =>
      mirrorsSource(db.url, emulator, users),
    );
    const resumedRows = await readMirror(db.url, mapping);
    for (const key of whileDown.slice(0, -1)) expect(resumedRows["resumes"]?.[key]).toBeDefined();
    expect(resumedRows["jobs"]?.[whileDown.at(-1) ?? ""]).toBeDefined();
    // No snapshot: nothing dumped, the stream resumed at the committed checkpoint.
    expect(tap.dumps).toBe(0);
    expect(tap.tails[0]?.from).toBe(BigInt(after.appliedTick ?? "-1"));
    second.signal("SIGTERM");
    expect(await second.exit(60_000), second.log).toEqual({ code: 0, signal: null });

    const events = await controlEvents(db.url);
    expect(events.filter((e) => e.kind === "snapshot:started")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "snapshot:finished")).toHaveLength(1);
    expect((await checkpoint(db.url)).phase).toBe("streaming");
  }, 300_000);
});

describe("a kill during the dump, then a restart after the batch expired", () => {
  /** Added to the emulator's clock: moving it on expires batches and registrations. */
  let skewMs = 0;
  let emulator: Emulator;
  let db: TestDatabase;
  let users: AtsproUser[];
  let config: Awaited<ReturnType<typeof writeDaemonConfig>>;
  const running: DaemonProcess[] = [];

  beforeAll(async () => {
    db = await databases.fromTemplate();
    // Retention as strict as it gets: WAL nobody has registered for is pruned at the next pass,
    // and passes are run by the test (pruneWal) rather than by a timer.
    emulator = await startAtsproSource({
      now: () => Date.now() + skewMs,
      replication: {
        walFileTimeoutInitialMs: 0,
        walFileTimeoutMs: 0,
        pruneIntervalMs: 3_600_000,
      },
    });
    const data = generateAtspro(41, 500);
    users = data.users;
    await seedUsers(db.url, users);
    insertAll(emulator.state, "resumes", data.resumes);
    insertAll(emulator.state, "jobs", data.jobs);
    insertAll(emulator.state, "documents", data.results);
    config = await writeDaemonConfig({
      batchTtlSeconds: 30,
      dumpChunkSize: 16384,
      parkedRetrySeconds: 1,
    });
  });

  afterAll(async () => {
    for (const daemon of running) await daemon.kill();
    await emulator.close();
    await config.remove();
  });

  const start = async (command: "run" | "snapshot"): Promise<DaemonProcess> => {
    const daemon = await DaemonProcess.start(command, {
      arangoUrl: emulator.url,
      pgUrl: db.url,
      configPath: config.path,
    });
    running.push(daemon);
    return daemon;
  };

  it("dumps only the collections it had not finished and ends equal to the source", async () => {
    // Slow dumps, so the kill lands after resumes and before the end of the snapshot.
    emulator.faults.add({
      pathPrefix: "/_api/replication/dump",
      action: { kind: "latency", ms: 25 },
    });
    const first = await start("run");
    await eventually(
      "resumes are dumped and the snapshot is not finished",
      async () => {
        const { snapshot } = await checkpoint(db.url);
        return snapshot["resumes"]?.state === "done" && snapshot["documents"]?.state !== "done";
      },
      120_000,
    );
    await first.kill();
    emulator.faults.clear();
    const killed = await checkpoint(db.url);
    expect(killed.phase).toBe("snapshotting");
    const resumesTick = killed.snapshot["resumes"]?.tick;
    expect(resumesTick).toBeDefined();

    // Changes to the finished collection after its snapshot tick: only the WAL has them now.
    writeWhileDown(emulator, users, 3);

    // The batch outlives the daemon by its ttl (30 s); let that pass, then run a retention pass.
    const batchesBefore = emulator.replication.batches.size;
    expect(batchesBefore).toBeGreaterThan(0);
    skewMs += 31_000;
    expect(emulator.replication.batches.size).toBe(0);
    emulator.pruneWal();

    const second = await start("snapshot");
    // Retention keeps running while the restarted daemon dumps (every pass prunes what no
    // registered client needs).
    const pruning = setInterval(() => emulator.pruneWal(), 50);
    const exit = await second.exit(180_000).finally(() => clearInterval(pruning));
    expect(exit, second.log).toEqual({ code: 0, signal: null });

    expect(await mirrorsSource(db.url, emulator, users)).toBe(true);
    const events = await controlEvents(db.url);
    const done = (collection: string): ControlEvent[] =>
      events.filter(
        (e) => e.kind === "snapshot:collectionDone" && e.detail["collection"] === collection,
      );
    // resumes was dumped once, before the kill, at its own tick; the others after the restart.
    expect(done("resumes").map((e) => e.detail["tick"])).toEqual([resumesTick]);
    expect(done("jobs")).toHaveLength(1);
    expect(done("documents")).toHaveLength(1);
    const started = events.filter((e) => e.kind === "snapshot:started");
    expect(started).toHaveLength(2);
    expect(started[1]?.detail["collections"]).not.toContain("resumes");
    // The stream started at the oldest snapshot tick, and the WAL from there was still there.
    expect(events.filter((e) => e.kind === "source:walGap")).toEqual([]);
    const finished = events.filter((e) => e.kind === "snapshot:finished");
    expect(finished).toHaveLength(1);
    expect(finished[0]?.detail["from"]).toBe(resumesTick);
    const final = await checkpoint(db.url);
    expect(final.phase).toBe("streaming");
    expect(final.snapshot["resumes"]?.tick).toBe(resumesTick);
    expect(BigInt(final.snapshot["jobs"]?.tick ?? "0")).toBeGreaterThan(BigInt(resumesTick ?? "0"));
  }, 300_000);
});
