/**
 * Regression: the daemon created its replication batches with its syncerId, and a batch
 * registers its client at the batch's tick (its dumps refresh that with the batch's short ttl).
 * A snapshot resumed after a restart tails from an earlier batch's tick, the tick of the
 * collections finished before the restart; its new batch moved the registration past that
 * tick, and the old registration expired with the old batch. A retention pass in between pruned
 * that WAL: a gap, and a full re-snapshot of collections that were already done. Batches now go
 * without the syncerId, and the snapshot registers with a tail call at the tick it will stream
 * from.
 *
 * The emulator prunes as strictly as a server can: WAL no registered client needs goes at the
 * next retention pass.
 */
import pg from "pg";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { AtsproUser } from "../../src/emulator/atspro-generator.js";
import type { Emulator } from "../../src/emulator/emulator.js";
import {
  atsproMapping,
  collectionOf,
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
let db: TestDatabase;
let emulator: Emulator;
let users: AtsproUser[];
/** Added to the emulator's clock: moving it on expires batches and registrations. */
let skewMs = 0;

beforeEach(async () => {
  db = await databases.fromTemplate();
  skewMs = 0;
  emulator = await startAtsproSource({
    now: () => Date.now() + skewMs,
    replication: { walFileTimeoutInitialMs: 0, walFileTimeoutMs: 0, pruneIntervalMs: 20 },
  });
  const data = generateAtspro(51, 200);
  users = data.users;
  await seedUsers(db.url, users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
});

afterEach(async () => {
  await emulator.close();
});

async function controlEventKinds(): Promise<string[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const result = await client.query<{ kind: string; collection: string | null }>(
      "SELECT kind, detail->>'collection' AS collection FROM arango_sync.control_events ORDER BY id",
    );
    return result.rows.map((r) => (r.collection === null ? r.kind : `${r.kind} ${r.collection}`));
  } finally {
    await client.end();
  }
}

function patchResumes(summary: string): void {
  const { state } = emulator;
  const resumes = collectionOf(state, "resumes");
  for (const key of [...resumes.documents.keys()].slice(0, 20)) {
    state.write(resumes, undefined, false, (w) =>
      state.update(w, resumes, key, { resume_data: { summary } }, {}),
    );
  }
}

async function expectMirrorOfSource(): Promise<void> {
  expect(await readMirror(db.url, mapping)).toEqual(
    expectedMirror(emulator.state, mapping, new Set(users.map((u) => u.id))),
  );
}

it("a snapshot resumed after its batch expired tails from the finished collection's tick without a gap", async () => {
  // Stop once resumes is done: jobs and documents are left for the next run.
  const stop = new AbortController();
  await syncUntilCaughtUp(
    emulator,
    db.url,
    mapping,
    { batchTtlSeconds: 30, dumpChunkSize: 16384 },
    {
      snapshotProgress: ({ collection, done }) => {
        if (collection === "resumes" && done) stop.abort();
      },
    },
    stop.signal,
  );
  patchResumes("after the resumes snapshot");
  // The first run's batch and everything it registered expire; retention runs.
  skewMs += 31_000;
  emulator.pruneWal();

  await syncUntilCaughtUp(emulator, db.url, mapping, { batchTtlSeconds: 30 });

  const kinds = await controlEventKinds();
  expect(kinds).not.toContain("source:walGap");
  expect(kinds.filter((k) => k === "snapshot:collectionDone resumes")).toHaveLength(1);
  await expectMirrorOfSource();
});
