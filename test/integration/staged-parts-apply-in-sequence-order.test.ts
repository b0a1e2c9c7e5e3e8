/**
 * Regression: the staged parts of a large transaction were read back ordered by a text alias of
 * their sequence number ("10" before "9"), so the chunked cursor skipped about half the rows.
 * A transaction of 20,000 operations staged in parts of 1,000 must arrive whole, in one commit
 * (results, whose table has no GIN index, keep the test quick).
 */
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { SyncDaemon } from "../../src/pipeline/sync-daemon.js";
import { TargetStore } from "../../src/sink/target-store.js";
import { ReplicationApi } from "../../src/source/replication-api.js";
import { useTestDatabase } from "../support/test-database.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  collectionOf,
  defaultDaemonOptions,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";

const OPERATIONS = 20_000;
const database = useTestDatabase();
const mapping = atsproMapping();
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startAtsproSource();
});

afterAll(async () => {
  await emulator.close();
});

it("applies every staged part of a large transaction, in one commit", async () => {
  const data = generateAtspro(5, 10);
  await seedUsers(database.url, data.users);
  const { state } = emulator;
  const userId = data.users[0]?.id;
  insertAll(state, "resumes", [{ _key: "r1", user_id: userId, status: "parsed", resume_data: {} }]);
  insertAll(state, "jobs", [{ _key: "j1", user_id: userId, type: "job", status: "pending" }]);
  await syncUntilCaughtUp(emulator, database.url, mapping);

  const results = collectionOf(state, "documents");
  const atspro = state.database(SOURCE_DATABASE);
  const trx = state.beginTransaction(atspro, { write: ["documents"] });
  state.write(results, trx, false, (writes) => {
    for (let i = 0; i < OPERATIONS; i++) {
      const result = {
        _key: `bulk-${i}`,
        type: "score",
        user_id: userId,
        resume_id: "r1",
        job_id: "j1",
        score_data: { n: i },
      };
      state.insert(writes, results, result, {});
    }
  });
  state.commitTransaction(atspro, trx.id);

  const api = new ReplicationApi(
    { url: emulator.url, database: SOURCE_DATABASE, username: "root", password: "" },
    { syncerId: "77", clientInfo: "test" },
  );
  const store = await TargetStore.open({ url: database.url, mapping, journal: false });
  const stagedParts: number[] = [];
  const commits: number[] = [];
  const progress: { appliedChanges: number; totalChanges: number }[] = [];
  const stage = store.stage.bind(store);
  store.stage = (groupKey, firstSeq, input) => {
    stagedParts.push(input.changes.length);
    return stage(groupKey, firstSeq, input);
  };
  try {
    const options = {
      ...defaultDaemonOptions(mapping),
      maxOperationsPerUnit: 1000,
      tailChunkSize: 200_000,
    };
    const daemon = new SyncDaemon(api, store, options, {
      committed: ({ counts }) => commits.push(counts.rows.get("optimization_results")?.upsert ?? 0),
      stagedApplying: (info) => progress.push(info),
    });
    await daemon.run(new AbortController().signal);
  } finally {
    await store.close();
    api.close();
  }

  expect(stagedParts).toHaveLength(OPERATIONS / 1000 - 1);
  expect(commits.filter((rows) => rows > 0)).toEqual([OPERATIONS]);
  // The one long commit reports its progress chunk by chunk (2,000 staged changes each), then
  // its last part, so /healthz sees it moving (observe/health.ts).
  expect(progress.map((p) => p.appliedChanges)).toEqual([
    ...Array.from({ length: 9 }, (_, i) => (i + 1) * 2_000),
    OPERATIONS - 1_000,
    OPERATIONS,
  ]);
  expect(progress.every((p) => p.totalChanges === OPERATIONS)).toBe(true);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<{ n: number; staged: number }>(
      `SELECT (SELECT count(*)::int FROM optimization_results WHERE legacy_id LIKE 'bulk-%') AS n,
              (SELECT count(*)::int FROM arango_sync.staged_changes) AS staged`,
    );
    expect(result.rows[0]).toEqual({ n: OPERATIONS, staged: 0 });
  } finally {
    await client.end();
  }
});
