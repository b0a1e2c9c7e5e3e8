/**
 * Foreign keys resolved by legacy_id (DESIGN.md §6, issue 3 acceptance 5), with the policies of
 * config/atspro.yaml: a child whose parent is missing waits (`park`) and is written, linked to
 * the parent's uuid, once the parent arrives; a child whose parent never comes is dead-lettered
 * after the park timeout with its raw event and the reason; a resume whose owner has no "user"
 * row waits until the operator creates the user; and a resume removed in ArangoDB takes its
 * results with it in PostgreSQL (ON DELETE CASCADE) while ArangoDB keeps them.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Emulator } from "../../src/emulator/emulator.js";
import { type CompiledMapping, loadMapping } from "../../src/mapping/compile-mapping.js";
import { SyncDaemon } from "../../src/pipeline/sync-daemon.js";
import { TargetStore } from "../../src/sink/target-store.js";
import { ReplicationApi } from "../../src/source/replication-api.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  collectionOf,
  defaultDaemonOptions,
  expectedMirror,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { type TestDatabase, testDatabases } from "../support/test-database.js";

const databases = testDatabases();
const mapping = atsproMapping();

const OWNER = "user-ana";
/** The owner the real data has no "user" row for (atspro/shapes.md). */
const MISSING_OWNER = "test_user";

let emulator: Emulator;
let database: TestDatabase;

beforeEach(async () => {
  database = await databases.fromTemplate();
  emulator = await startAtsproSource();
  await seedUsers(database.url, [userRow(OWNER)]);
  insertAll(emulator.state, "jobs", [job("job-1")]);
});

afterEach(async () => {
  await emulator.close();
});

function userRow(id: string): {
  id: string;
  name: string;
  email: string;
  emailVerified: boolean;
  image: null;
  createdAt: string;
  updatedAt: string;
} {
  return {
    id,
    name: id,
    email: `${id}@example.org`,
    emailVerified: true,
    image: null,
    createdAt: "2024-01-01T00:00:00",
    updatedAt: "2024-01-01T00:00:00",
  };
}

function resume(key: string, owner = OWNER): Record<string, unknown> {
  return {
    _key: key,
    user_id: owner,
    status: "parsed",
    resume_data: { contact_info: { full_name: `Owner of ${key}` } },
    created_at: "2024-05-01T10:00:00.123456",
  };
}

function job(key: string): Record<string, unknown> {
  return { _key: key, user_id: OWNER, type: "job", status: "completed", parsed_data: {} };
}

function result(key: string, resumeKey: string, jobKey = "job-1"): Record<string, unknown> {
  return {
    _key: key,
    type: "optimization",
    user_id: OWNER,
    resume_id: resumeKey,
    job_id: jobKey,
    content: `optimized ${key}`,
    optimized_data: { summary: "shorter" },
    created_at: "2024-05-01T11:00:00+00:00",
  };
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

/** The uuid a result row links to, and the uuid of the resume it should link to. */
async function link(resultKey: string, resumeKey: string): Promise<{ has: string; want: string }> {
  const rows = await query<{ has: string; want: string }>(
    `SELECT o.resume_id::text AS has, r.id::text AS want
       FROM optimization_results o, resumes r
      WHERE o.legacy_id = $1 AND r.legacy_id = $2`,
    [resultKey, resumeKey],
  );
  const [row] = rows;
  if (row === undefined) throw new Error(`no row for ${resultKey} or ${resumeKey}`);
  return row;
}

async function parked(): Promise<{ legacy_id: string; parent_table: string; parent: string }[]> {
  return query(
    `SELECT legacy_id, parent_table, parent_legacy_id AS parent
       FROM arango_sync.parked_rows ORDER BY legacy_id`,
  );
}

function expected(users: readonly string[] = [OWNER]) {
  return expectedMirror(emulator.state, mapping, new Set(users));
}

/** The same mapping with every park timeout of the results cut to one second. */
function mappingWithShortParkTimeout(): CompiledMapping {
  const config = parse(
    readFileSync(new URL("../../config/atspro.yaml", import.meta.url), "utf8"),
  ) as { mapping: { collections: Record<string, { columns: Record<string, unknown> }> } };
  const columns = config.mapping.collections["documents"]?.columns ?? {};
  for (const name of ["resume_id", "job_id"]) {
    const column = columns[name] as { references: { parkTimeoutSeconds: number } };
    column.references.parkTimeoutSeconds = 1;
  }
  const loaded = loadMapping(config.mapping);
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  return loaded.mapping;
}

/**
 * Runs the daemon as a service (it does not stop when caught up) until `done` holds, retrying
 * parked rows on every turn of its loop, then stops it cleanly.
 */
async function runUntil(
  daemonMapping: CompiledMapping,
  done: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const api = new ReplicationApi(
    { url: emulator.url, database: SOURCE_DATABASE, username: "root", password: "" },
    { syncerId: "4244", clientInfo: "arango-pg-sync test" },
  );
  const store = await TargetStore.open({
    url: database.url,
    mapping: daemonMapping,
    journal: true,
  });
  const stop = new AbortController();
  const daemon = new SyncDaemon(api, store, {
    ...defaultDaemonOptions(daemonMapping),
    stopWhenCaughtUp: false,
    parkedRetryIntervalMs: 0,
  });
  const running = daemon.run(stop.signal);
  try {
    const deadline = Date.now() + timeoutMs;
    const daemonState = { ended: false };
    void running.finally(() => {
      daemonState.ended = true;
    });
    while (!(await done())) {
      if (daemonState.ended) throw new Error("the daemon stopped on its own");
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    stop.abort();
    await running;
    await store.close();
    api.close();
  }
}

describe("a result that arrives before its resume", () => {
  it("waits, then is linked to the resume's uuid when the resume arrives in a later batch", async () => {
    await syncUntilCaughtUp(emulator, database.url, mapping);
    insertAll(emulator.state, "documents", [result("result-1", "resume-1")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);

    expect(await query("SELECT legacy_id FROM optimization_results")).toEqual([]);
    expect(await parked()).toEqual([
      { legacy_id: "result-1", parent_table: "resumes", parent: "resume-1" },
    ]);

    insertAll(emulator.state, "resumes", [resume("resume-1")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);

    const { has, want } = await link("result-1", "resume-1");
    expect(has).toBe(want);
    expect(await parked()).toEqual([]);
    expect(await readMirror(database.url, mapping)).toEqual(expected());
  });

  it("is linked without waiting when the resume comes later in the same batch", async () => {
    await syncUntilCaughtUp(emulator, database.url, mapping);
    insertAll(emulator.state, "documents", [result("result-1", "resume-1")]);
    insertAll(emulator.state, "resumes", [resume("resume-1")]);
    // And inside one stream transaction, child first.
    const { state } = emulator;
    const atspro = state.database(SOURCE_DATABASE);
    const trx = state.beginTransaction(atspro, { write: ["documents", "resumes"] });
    const documents = collectionOf(state, "documents");
    const resumes = collectionOf(state, "resumes");
    state.write(documents, trx, false, (w) =>
      state.insert(w, documents, result("result-2", "resume-2"), {}),
    );
    state.write(resumes, trx, false, (w) => state.insert(w, resumes, resume("resume-2"), {}));
    state.commitTransaction(atspro, trx.id);

    let parkedRows = 0;
    let batches = 0;
    await syncUntilCaughtUp(
      emulator,
      database.url,
      mapping,
      {},
      {
        committed: ({ counts, changes }) => {
          parkedRows += counts.parked;
          if (changes > 0) batches += 1;
        },
      },
    );

    // One batch carried the children and their parents, so nothing had to wait.
    expect(batches).toBe(1);
    expect(parkedRows).toBe(0);
    for (const key of ["1", "2"]) {
      const { has, want } = await link(`result-${key}`, `resume-${key}`);
      expect(has).toBe(want);
    }
    expect(await parked()).toEqual([]);
    expect(await readMirror(database.url, mapping)).toEqual(expected());
  });
});

describe("a result whose parent never comes", () => {
  it("is dead-lettered after the park timeout, with its raw event and the reason", async () => {
    const short = mappingWithShortParkTimeout();
    insertAll(emulator.state, "documents", [result("result-1", "resume-never")]);
    const stored = collectionOf(emulator.state, "documents").documents.get("result-1");

    await runUntil(
      short,
      async () =>
        (await query("SELECT 1 FROM arango_sync.dead_letters WHERE legacy_id = 'result-1'"))
          .length > 0,
    );

    const letters = await query<{
      table_name: string;
      collection: string;
      reason: string;
      error_detail: string;
      raw_event: unknown;
    }>(
      `SELECT table_name, collection, reason, error_detail, raw_event
         FROM arango_sync.dead_letters WHERE legacy_id = 'result-1'`,
    );
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter).toMatchObject({
      table_name: "optimization_results",
      collection: "documents",
      reason: "missing_parent",
    });
    // The reason the mapping gives for this column, and which parent it waited for.
    expect(letter?.error_detail).toContain("resume not found");
    expect(letter?.error_detail).toContain("resume-never");
    expect(letter?.raw_event).toEqual(JSON.parse(JSON.stringify(stored)));
    expect(await parked()).toEqual([]);
    expect(await query("SELECT legacy_id FROM optimization_results")).toEqual([]);
  });

  it("keeps its raw event when it waited for one parent that came and another that never does", async () => {
    const short = mappingWithShortParkTimeout();
    await syncUntilCaughtUp(emulator, database.url, short);
    insertAll(emulator.state, "documents", [result("result-1", "resume-1", "job-never")]);
    await syncUntilCaughtUp(emulator, database.url, short);
    expect(await parked()).toEqual([
      { legacy_id: "result-1", parent_table: "resumes", parent: "resume-1" },
    ]);

    // The resume arrives: the result leaves the queue, finds its job missing, and waits again.
    insertAll(emulator.state, "resumes", [resume("resume-1")]);
    const stored = collectionOf(emulator.state, "documents").documents.get("result-1");
    await runUntil(
      short,
      async () =>
        (await query("SELECT 1 FROM arango_sync.dead_letters WHERE legacy_id = 'result-1'"))
          .length > 0,
    );

    const letters = await query<{ error_detail: string; raw_event: unknown }>(
      "SELECT error_detail, raw_event FROM arango_sync.dead_letters WHERE legacy_id = 'result-1'",
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]?.error_detail).toContain("job not found");
    expect(letters[0]?.raw_event).toEqual(JSON.parse(JSON.stringify(stored)));
  });
});

describe("a resume owned by a user PostgreSQL does not have", () => {
  it("waits with its results, and both apply once the operator creates the user", async () => {
    insertAll(emulator.state, "resumes", [resume("resume-1", MISSING_OWNER)]);
    insertAll(emulator.state, "documents", [result("result-1", "resume-1")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);

    expect(await parked()).toEqual([
      { legacy_id: "result-1", parent_table: "resumes", parent: "resume-1" },
      { legacy_id: "resume-1", parent_table: "user", parent: MISSING_OWNER },
    ]);
    expect(await readMirror(database.url, mapping)).toEqual(expected());

    await seedUsers(database.url, [userRow(MISSING_OWNER)]);
    // Nothing new in ArangoDB: the daemon's retry of parked rows is what applies them.
    await syncUntilCaughtUp(emulator, database.url, mapping);

    expect(await parked()).toEqual([]);
    const { has, want } = await link("result-1", "resume-1");
    expect(has).toBe(want);
    expect(await readMirror(database.url, mapping)).toEqual(expected([OWNER, MISSING_OWNER]));
    expect(await query("SELECT id FROM arango_sync.dead_letters")).toEqual([]);
  });
});

describe("a waiting image superseded by a newer one that was written", () => {
  it("is dropped (it used to come back once the newer row was cascaded away)", async () => {
    insertAll(emulator.state, "resumes", [resume("resume-1"), resume("resume-2")]);
    // The first image waits for its owner.
    insertAll(emulator.state, "documents", [
      { ...result("result-1", "resume-2"), user_id: MISSING_OWNER },
    ]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(await parked()).toEqual([
      { legacy_id: "result-1", parent_table: "user", parent: MISSING_OWNER },
    ]);

    // Removed and written again, with other parents that exist, in one batch: the removal folds
    // into the newer image, so only the write can retire the waiting one.
    const { state } = emulator;
    const documents = collectionOf(state, "documents");
    state.write(documents, undefined, false, (w) => state.remove(w, documents, "result-1", {}));
    insertAll(state, "documents", [result("result-1", "resume-1")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(await parked()).toEqual([]);
    const { has, want } = await link("result-1", "resume-1");
    expect(has).toBe(want);

    // The newer row goes with its resume; the old image's owner and resume exist now, and the
    // old image must still not be written.
    const resumes = collectionOf(state, "resumes");
    state.write(resumes, undefined, false, (w) => state.remove(w, resumes, "resume-1", {}));
    await seedUsers(database.url, [userRow(MISSING_OWNER)]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    const mirror = await readMirror(database.url, mapping);
    expect(mirror["optimization_results"]).not.toHaveProperty("result-1");
    expect(mirror).toEqual(expected([OWNER, MISSING_OWNER]));
  });
});

describe("a resume removed in ArangoDB", () => {
  it("cascades to its results in PostgreSQL, while ArangoDB keeps them", async () => {
    insertAll(emulator.state, "resumes", [resume("resume-1"), resume("resume-2")]);
    insertAll(emulator.state, "documents", [
      result("result-1", "resume-1"),
      result("result-2", "resume-1"),
      result("result-3", "resume-2"),
    ]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(
      (await query<{ legacy_id: string }>("SELECT legacy_id FROM optimization_results")).length,
    ).toBe(3);

    const { state } = emulator;
    const resumes = collectionOf(state, "resumes");
    state.write(resumes, undefined, false, (w) => state.remove(w, resumes, "resume-1", {}));
    await syncUntilCaughtUp(emulator, database.url, mapping);

    // What the mirror looks like now. ArangoDB: resume-2 and all three results (it has no
    // foreign keys; result-1 and result-2 point at a resume that is gone). PostgreSQL: resume-2
    // and result-3 only; the other two went with their resume (ON DELETE CASCADE). DESIGN.md §6
    // calls this expected, not drift: map(ArangoDB) has no row for a child whose parent is gone.
    const documents = collectionOf(state, "documents");
    expect([...documents.documents.keys()].sort()).toEqual(["result-1", "result-2", "result-3"]);
    const mirror = await readMirror(database.url, mapping);
    expect(Object.keys(mirror["resumes"] ?? {})).toEqual(["resume-2"]);
    expect(Object.keys(mirror["optimization_results"] ?? {})).toEqual(["result-3"]);
    expect(mirror).toEqual(expected());
    expect(
      await query("SELECT legacy_id FROM arango_sync.tombstones WHERE table_name = 'resumes'"),
    ).toEqual([{ legacy_id: "resume-1" }]);
    // The orphans had no event of their own: nothing waits, nothing is dead-lettered.
    expect(await parked()).toEqual([]);
    expect(await query("SELECT id FROM arango_sync.dead_letters")).toEqual([]);

    // An orphan changed later has no parent to link to: it waits (and would be dead-lettered
    // after the timeout), and the mirror still leaves it out.
    state.write(documents, undefined, false, (w) =>
      state.update(w, documents, "result-1", { metadata: { reviewed: true } }, {}),
    );
    await syncUntilCaughtUp(emulator, database.url, mapping);
    expect(await parked()).toEqual([
      { legacy_id: "result-1", parent_table: "resumes", parent: "resume-1" },
    ]);
    expect(await readMirror(database.url, mapping)).toEqual(expected());
  });
});
