import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import type { ConsistencyChecked } from "../../src/observe/sync-events.js";
import { SyncEvents } from "../../src/observe/sync-events.js";
import { DocumentLookup } from "../../src/source/document-lookup.js";
import { ReplicationApi } from "../../src/source/replication-api.js";
import {
  type MirrorVerification,
  type TableVerification,
  type VerifyMirrorOptions,
  verifyMirror,
} from "../../src/verify/verify-mirror.js";
import { useTestDatabase } from "../support/test-database.js";
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

/**
 * `verify --full` against a real PostgreSQL and the emulator: a caught-up mirror is consistent;
 * changes written to ArangoDB that PostgreSQL has not applied yet, or applied after the
 * snapshot the check reads, are in flight rather than drift; and each kind of drift written to
 * PostgreSQL behind the daemon's back is found, with its key. Chunks are small so that the
 * bounds on what one step holds are visible with a few hundred documents.
 */

const database = useTestDatabase();
const mapping = atsproMapping();
const CHUNK = 25;
let emulator: Emulator;
let userIds: string[];

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(31, 100);
  userIds = data.users.map((u) => u.id);
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
  await syncUntilCaughtUp(emulator, database.url, mapping);
});

afterAll(async () => {
  await emulator.close();
});

interface Lookup {
  table: string;
  pass: string;
  keys: number;
  rows: number;
}

async function verify(
  overrides: Partial<VerifyMirrorOptions> = {},
): Promise<{ result: MirrorVerification; lookups: Lookup[]; checked: ConsistencyChecked[] }> {
  const connection = {
    url: emulator.url,
    database: SOURCE_DATABASE,
    username: "root",
    password: "",
  };
  const api = new ReplicationApi(connection, { syncerId: "777", clientInfo: "verify test" });
  const documents = new DocumentLookup(connection);
  const events = new SyncEvents();
  const checked: ConsistencyChecked[] = [];
  events.on("verify:checked", (e) => checked.push(e));
  const lookups: Lookup[] = [];
  try {
    const result = await verifyMirror({
      api,
      documents,
      pgUrl: database.url,
      mapping,
      sourceDatabase: SOURCE_DATABASE,
      dumpChunkSize: 16_384,
      chunkDocuments: CHUNK,
      events,
      ...overrides,
      observer: {
        lookedUp: (lookup) => lookups.push(lookup),
        ...overrides.observer,
      },
    });
    return { result, lookups, checked };
  } finally {
    api.close();
    documents.close();
  }
}

async function sql<R extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Keys of mirrored rows; with `childless`, resumes no optimization result refers to. */
async function rowKeys(
  table: string,
  count: number,
  offset = 0,
  childless = false,
): Promise<string[]> {
  const filter = childless
    ? "AND NOT EXISTS (SELECT 1 FROM optimization_results o WHERE o.resume_id = t.id)"
    : "";
  const rows = await sql<{ legacy_id: string }>(
    `SELECT legacy_id FROM ${table} t WHERE legacy_id IS NOT NULL ${filter}
      ORDER BY legacy_id LIMIT $1 OFFSET $2`,
    [count, offset],
  );
  return rows.map((r) => r.legacy_id);
}

function table(result: MirrorVerification, name: string): TableVerification {
  const found = result.tables.find((t) => t.table === name);
  if (found === undefined) throw new Error(`no ${name} in the result`);
  return found;
}

const noDrift = { missing: 0, extra: 0, revision: 0, content: 0 };

function patchResume(key: string, resumeData: Record<string, unknown>): void {
  const { state } = emulator;
  const resumes = collectionOf(state, "resumes");
  state.write(resumes, undefined, false, (w) =>
    state.update(w, resumes, key, { resume_data: resumeData }, {}),
  );
}

function remove(collection: string, key: string): void {
  const { state } = emulator;
  const target = collectionOf(state, collection);
  state.write(target, undefined, false, (w) => state.remove(w, target, key, {}));
}

function newResume(key: string): Record<string, unknown> {
  return {
    _key: key,
    user_id: userIds[0],
    status: "parsed",
    resume_data: { summary: key },
    created_at: "2025-08-16T09:00:00",
  };
}

describe("verify --full", () => {
  it("finds a mirror the daemon caught up with consistent, one bounded chunk at a time", async () => {
    const { result, lookups, checked } = await verify();
    expect(result.verdict).toBe("consistent");
    expect(result.appliedTick).toBeGreaterThanOrEqual(0n);
    for (const t of result.tables) {
      expect(t.drift).toEqual(noDrift);
      expect(t.inFlight).toBe(0);
      const explained = Object.values(t.explained).reduce((a, b) => a + b, 0);
      expect(t.equal + explained).toBe(t.documents);
    }
    expect(table(result, "resumes").documents).toBe(100);
    expect(table(result, "resumes").equal).toBe(table(result, "resumes").rows);
    expect(table(result, "jobs").documents).toBe(50);
    expect(table(result, "optimization_results").documents).toBe(50);
    expect(result.stats.extraRowPasses).toEqual([]);
    expect(result.stats.rowsVerified).toBe(200);
    expect(result.stats.rowsPerSecond).toBeGreaterThan(0);

    // Bounded: no lookup asks for more than a chunk of keys or returns more rows than asked.
    const resumeLookups = lookups.filter((l) => l.table === "resumes");
    expect(resumeLookups.length).toBeGreaterThanOrEqual(100 / CHUNK);
    expect(Math.max(...lookups.map((l) => l.keys))).toBeLessThanOrEqual(CHUNK);
    expect(lookups.every((l) => l.rows <= l.keys)).toBe(true);
    expect(result.stats.largestLookup).toBeLessThanOrEqual(CHUNK);

    expect(checked).toHaveLength(1);
    expect(checked[0]?.mode).toBe("full");
    expect(checked[0]?.tables.map((t) => t.table).sort()).toEqual(
      ["jobs", "optimization_results", "resumes"].sort(),
    );
    expect(checked[0]?.tables.every((t) => t.drift.every((d) => d.rows === 0))).toBe(true);
  });

  it("counts changes written to ArangoDB and not applied yet as in flight, not drift", async () => {
    const [updated1, updated2, updated3, removedResume] = await rowKeys("resumes", 4);
    const removedJobs = await rowKeys("jobs", 2);
    for (const key of [updated1, updated2, updated3])
      patchResume(String(key), { summary: "edited" });
    insertAll(emulator.state, "resumes", [newResume("fresh-1"), newResume("fresh-2")]);
    remove("resumes", String(removedResume));
    for (const key of removedJobs) remove("jobs", key);

    // At most two keys wait for the WAL at a time: the window is read several times.
    const { result } = await verify({ maxPendingKeys: 2 });
    expect(result.verdict).toBe("consistent");
    expect(result.appliedTick).toBeLessThan(result.sourceTick);
    expect(table(result, "resumes").inFlight).toBe(3 + 2 + 1);
    expect(table(result, "jobs").inFlight).toBe(2);
    expect(table(result, "optimization_results").inFlight).toBe(0);
    for (const t of result.tables) expect(t.drift).toEqual(noDrift);
    expect(result.stats.pendingPeak).toBeLessThanOrEqual(2);
    expect(result.stats.walCalls).toBeGreaterThanOrEqual(2);
    expect([...result.stats.extraRowPasses].sort()).toEqual(["jobs", "resumes"]);
  });

  it("counts rows PostgreSQL applied after the snapshot it compares as in flight", async () => {
    const [changed] = await rowKeys("resumes", 1, 10);
    const [removed] = await rowKeys("resumes", 1, 0, true);
    const { result } = await verify({
      observer: {
        // ArangoDB is pinned; these writes and their application come after that tick.
        sourcePinned: async () => {
          patchResume(String(changed), { summary: "after the snapshot" });
          insertAll(emulator.state, "resumes", [newResume("fresh-after")]);
          remove("resumes", String(removed));
          await syncUntilCaughtUp(emulator, database.url, mapping);
        },
      },
    });
    expect(result.verdict).toBe("consistent");
    expect(result.appliedTick).toBeGreaterThan(result.sourceTick);
    // The changed row, the row inserted after T, and the row removed after T.
    expect(table(result, "resumes").inFlight).toBe(3);
    expect(table(result, "jobs").inFlight).toBe(0);
    for (const t of result.tables) expect(t.drift).toEqual(noDrift);
    expect(result.stats.walCalls).toBe(0);
  });

  it("finds each kind of drift written to PostgreSQL directly, with its key", async () => {
    const [missing] = await rowKeys("optimization_results", 1, 3);
    const [stale] = await rowKeys("jobs", 1, 5);
    const [edited, copied] = await rowKeys("resumes", 2, 20);
    await sql("DELETE FROM optimization_results WHERE legacy_id = $1", [missing]);
    await sql("UPDATE jobs SET legacy_rev = '_stale_rev_' WHERE legacy_id = $1", [stale]);
    await sql(
      `UPDATE resumes SET status = CASE WHEN status = 'failed' THEN 'parsed' ELSE 'failed' END
        WHERE legacy_id = $1`,
      [edited],
    );
    await sql(
      `INSERT INTO resumes (user_id, legacy_id, legacy_rev, legacy_tick, status, resume_data)
       SELECT user_id, 'ghost-resume', legacy_rev, legacy_tick, status, resume_data
         FROM resumes WHERE legacy_id = $1`,
      [copied],
    );

    const { result, lookups, checked } = await verify();
    expect(result.verdict).toBe("drift");
    expect(table(result, "optimization_results").drift).toEqual({ ...noDrift, missing: 1 });
    expect(table(result, "jobs").drift).toEqual({ ...noDrift, revision: 1 });
    expect(table(result, "resumes").drift).toEqual({ ...noDrift, extra: 1, content: 1 });
    const examples = result.tables.flatMap((t) =>
      t.examples.map((e) => ({ table: t.table, key: e.key, kind: e.kind })),
    );
    expect(examples).toEqual(
      expect.arrayContaining([
        { table: "optimization_results", key: missing, kind: "missing" },
        { table: "jobs", key: stale, kind: "revision" },
        { table: "resumes", key: edited, kind: "content" },
        { table: "resumes", key: "ghost-resume", kind: "extra" },
      ]),
    );
    expect(result.tables.flatMap((t) => t.examples)).toHaveLength(4);
    expect(table(result, "resumes").examples.find((e) => e.kind === "content")?.detail).toContain(
      "status",
    );

    // Only the table whose counts disagree is listed again, a bounded page at a time, and only
    // the buckets that hold the difference.
    expect(result.stats.extraRowPasses).toEqual(["resumes"]);
    const pages = lookups.filter((l) => l.pass === "extra-rows");
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.every((l) => l.table === "resumes" && l.keys <= CHUNK)).toBe(true);
    expect(pages.reduce((sum, l) => sum + l.keys, 0)).toBeLessThan(table(result, "resumes").rows);

    const published = checked[0]?.tables.find((t) => t.table === "resumes");
    expect(published?.drift).toEqual(
      expect.arrayContaining([
        { kind: "extra", rows: 1 },
        { kind: "content", rows: 1 },
      ]),
    );
  });
});
