/**
 * `lag_seconds` is the age of the oldest change read and not applied yet. A source transaction
 * larger than `maxOperationsPerUnit` is held, then staged part by part over several fetches
 * before it is applied, and the daemon commits in between (the changes read before it,
 * parked-row retries). Each of those commits must report the transaction's first change as still
 * waiting (`oldestPendingWriteMs`); reporting nothing would let the lag fall to the age of later
 * changes, or to 0, while the transaction waits.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { revisionTimeMs } from "../../src/source/revision.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  collectionOf,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const OPERATIONS = 2_500;
const database = useTestDatabase();
const mapping = atsproMapping();
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startAtsproSource();
});

afterAll(async () => {
  await emulator.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function writeTime(collection: string, key: string): number {
  const rev = collectionOf(emulator.state, collection).documents.get(key)?._rev;
  const ms = rev === undefined ? undefined : revisionTimeMs(rev);
  if (ms === undefined) throw new Error(`${collection}/${key} has no write time`);
  return ms;
}

interface Report {
  readonly what: "commit" | "parked-row retry";
  readonly pending: number | undefined;
  readonly transactionRows: number;
}

it("reports the staged transaction's first change as waiting until the transaction is applied", async () => {
  const data = generateAtspro(7, 10);
  await seedUsers(database.url, data.users);
  const { state } = emulator;
  const userId = data.users[0]?.id;
  const resume = (key: string) => ({
    _key: key,
    user_id: userId,
    status: "parsed",
    resume_data: {},
  });
  insertAll(state, "resumes", [resume("r1")]);
  insertAll(state, "jobs", [{ _key: "j1", user_id: userId, type: "job", status: "pending" }]);
  await syncUntilCaughtUp(emulator, database.url, mapping);

  // A change before the transaction, the transaction, a change after it; apart in time, so that
  // each write time names one of them.
  insertAll(state, "resumes", [resume("before")]);
  await pause(20);
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
  await pause(20);
  insertAll(state, "resumes", [resume("after")]);
  const transactionStart = writeTime("documents", "bulk-0");
  const after = writeTime("resumes", "after");
  expect(after).toBeGreaterThan(transactionStart);

  const reports: Report[] = [];
  await syncUntilCaughtUp(
    emulator,
    database.url,
    mapping,
    // Small fetches and parts: the transaction is held, then staged, over several turns of the
    // loop, each of which ends with a parked-row retry (interval 0).
    { maxOperationsPerUnit: 500, tailChunkSize: 32 * 1024, maxBatchChanges: 100 },
    {
      committed: ({ counts, oldestPendingWriteMs }) =>
        reports.push({
          what: "commit",
          pending: oldestPendingWriteMs,
          transactionRows: counts.rows.get("optimization_results")?.upsert ?? 0,
        }),
      parkedRetried: ({ oldestPendingWriteMs }) =>
        reports.push({
          what: "parked-row retry",
          pending: oldestPendingWriteMs,
          transactionRows: 0,
        }),
    },
  );

  const applied = reports.findIndex((r) => r.transactionRows === OPERATIONS);
  expect(applied).toBeGreaterThan(0);
  const firstWaiting = reports.findIndex((r) => r.pending === transactionStart);
  expect(firstWaiting).toBeGreaterThanOrEqual(0);
  const whileWaiting = reports.slice(firstWaiting, applied);
  // Staged over several turns of the loop, each one reporting it.
  expect(whileWaiting.length).toBeGreaterThanOrEqual(3);
  expect(whileWaiting.filter((r) => r.what === "parked-row retry").length).toBeGreaterThan(1);
  for (const report of whileWaiting) expect(report).toMatchObject({ pending: transactionStart });
  // Once applied, only what was read after it can wait; at the end nothing does.
  expect([after, undefined]).toContain(reports[applied]?.pending);
  expect(reports.at(-1)?.pending).toBeUndefined();
});
