import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { useTestDatabase } from "../support/test-database.js";
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

const database = useTestDatabase();
const mapping = atsproMapping();
let emulator: Emulator;
let userIds: Set<string>;

beforeAll(async () => {
  emulator = await startAtsproSource();
  // 5,000 resumes, 2,500 jobs and 2,500 results: the 10,000-document snapshot of the acceptance list.
  const data = generateAtspro(11, 5000);
  userIds = new Set(data.users.map((u) => u.id));
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
});

afterAll(async () => {
  await emulator.close();
});

async function count(sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<Record<string, unknown>>(sql);
    const row = result.rows[0];
    if (row === undefined) throw new Error(`no row from ${sql}`);
    return Number(Object.values(row)[0]);
  } finally {
    await client.end();
  }
}

describe("snapshot, then stream", () => {
  it("mirrors the snapshot row for row", async () => {
    await syncUntilCaughtUp(emulator, database.url, mapping);
    const actual = await readMirror(database.url, mapping);
    const expected = expectedMirror(emulator.state, mapping, userIds);
    expect(Object.keys(actual["resumes"] ?? {}).length).toBeGreaterThan(4000);
    expect(emulator.state.database("atspro").collection("documents").documents.size).toBe(2500);
    expect(actual).toEqual(expected);
  });

  it("applies inserts, patches, replaces, removes, transactions and truncates from the WAL", async () => {
    const { state } = emulator;
    const resumes = collectionOf(state, "resumes");
    const keys = [...resumes.documents.keys()];
    const data = generateAtspro(12, 40);
    insertAll(
      state,
      "resumes",
      data.resumes.map((r, i) => ({ ...r, user_id: [...userIds][i % userIds.size] })),
    );
    for (const key of keys.slice(0, 20)) {
      state.write(resumes, undefined, false, (w) =>
        state.update(w, resumes, key, { status: "manual", resume_data: { summary: "edited" } }, {}),
      );
    }
    for (const key of keys.slice(20, 30)) {
      state.write(resumes, undefined, false, (w) =>
        state.replace(
          w,
          resumes,
          key,
          { user_id: [...userIds][0], status: "parsed", resume_data: {} },
          {},
        ),
      );
    }
    for (const key of keys.slice(30, 45)) {
      state.write(resumes, undefined, false, (w) => state.remove(w, resumes, key, {}));
    }
    // A multi-document transaction: a job and a result referring to it arrive together.
    const jobs = collectionOf(state, "jobs");
    const documents = collectionOf(state, "documents");
    const atspro = state.database("atspro");
    const trx = state.beginTransaction(atspro, { write: ["jobs", "documents"] });
    state.write(jobs, trx, false, (w) =>
      state.insert(
        w,
        jobs,
        { _key: "trx-job", user_id: [...userIds][0], type: "job", status: "pending" },
        {},
      ),
    );
    state.write(documents, trx, false, (w) =>
      state.insert(
        w,
        documents,
        {
          type: "score",
          user_id: [...userIds][0],
          resume_id: keys[50],
          job_id: "trx-job",
          score_data: { overall_score: 5 },
        },
        {},
      ),
    );
    state.commitTransaction(atspro, trx.id);
    state.truncateCollection(collectionOf(state, "task_results"));

    await syncUntilCaughtUp(emulator, database.url, mapping);
    const actual = await readMirror(database.url, mapping);
    expect(actual).toEqual(expectedMirror(state, mapping, userIds));
    expect(actual["jobs"]?.["trx-job"]).toBeDefined();
    expect(
      await count("SELECT count(*) FROM arango_sync.tombstones WHERE table_name = 'resumes'"),
    ).toBeGreaterThanOrEqual(15);
  });

  it("empties a table when its collection is truncated", async () => {
    const { state } = emulator;
    state.truncateCollection(collectionOf(state, "jobs"));
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(await count("SELECT count(*) FROM jobs")).toBe(0);
    expect(await count("SELECT count(*) FROM resumes")).toBeGreaterThan(4000);
    expect(await readMirror(database.url, mapping)).toEqual(
      expectedMirror(state, mapping, userIds),
    );
  });
});
