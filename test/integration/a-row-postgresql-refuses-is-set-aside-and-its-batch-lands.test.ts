/**
 * A batch runs without savepoints; when PostgreSQL refuses one of its rows (here a CHECK the
 * mapping does not know of), the batch rolls back and runs again with its upserts under
 * savepoints. What must hold: the refused row is dead-lettered once with PostgreSQL's message,
 * every other row of the batch lands once (journalled once), and a row it parked is parked and
 * counted once.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import {
  atsproMapping,
  insertAll,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const database = useTestDatabase();
const mapping = atsproMapping();
const OWNER = "user-refused";
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startAtsproSource();
  await seedUsers(database.url, [
    {
      id: OWNER,
      name: OWNER,
      email: "refused@example.org",
      emailVerified: true,
      image: null,
      createdAt: "2024-01-01T00:00:00",
      updatedAt: "2024-01-01T00:00:00",
    },
  ]);
  await query(
    "ALTER TABLE resumes ADD CONSTRAINT resumes_not_forbidden CHECK (legacy_id NOT LIKE 'forbidden%')",
  );
  insertAll(emulator.state, "jobs", [
    { _key: "job-1", user_id: OWNER, type: "job", status: "completed", parsed_data: {} },
  ]);
});

afterAll(async () => {
  await emulator.close();
});

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

function resume(key: string): Record<string, unknown> {
  return { _key: key, user_id: OWNER, status: "parsed", resume_data: { note: key } };
}

/** A result whose resume never arrives: it parks. */
function waitingResult(key: string): Record<string, unknown> {
  return {
    _key: key,
    type: "optimization",
    user_id: OWNER,
    resume_id: `missing-${key}`,
    job_id: "job-1",
    content: key,
    optimized_data: {},
  };
}

/** Syncs, then checks one round: `ok` landed, `forbidden` dead-lettered once, `waiting` parked once. */
async function syncAndCheck(ok: string, forbidden: string, waiting: string): Promise<void> {
  let parked = 0;
  await syncUntilCaughtUp(
    emulator,
    database.url,
    mapping,
    {},
    {
      committed: (info) => {
        parked += info.counts.parked;
      },
    },
  );
  const resumes = await query<{ legacy_id: string }>(
    "SELECT legacy_id FROM resumes WHERE legacy_id = ANY($1) ORDER BY 1",
    [[ok, forbidden]],
  );
  expect(resumes.map((r) => r.legacy_id)).toEqual([ok]);
  const letters = await query<{ reason: string; error_detail: string; table_name: string }>(
    "SELECT reason, error_detail, table_name FROM arango_sync.dead_letters WHERE legacy_id = $1",
    [forbidden],
  );
  expect(letters).toEqual([
    {
      reason: "constraint_violation",
      table_name: "resumes",
      error_detail: expect.stringMatching(/^23514: .*resumes_not_forbidden/) as string,
    },
  ]);
  const waitingRows = await query<{ parent_legacy_id: string }>(
    "SELECT parent_legacy_id FROM arango_sync.parked_rows WHERE legacy_id = $1",
    [waiting],
  );
  expect(waitingRows).toEqual([{ parent_legacy_id: `missing-${waiting}` }]);
  expect(parked).toBe(1);
  const journal = await query<{ n: number }>(
    "SELECT count(*)::int AS n FROM arango_sync.journal WHERE legacy_id = $1",
    [ok],
  );
  expect(journal).toEqual([{ n: 1 }]);
}

describe("a row PostgreSQL refuses", () => {
  it("is dead-lettered from a snapshot chunk, and the rest of the chunk lands once", async () => {
    insertAll(emulator.state, "resumes", [resume("snapshot-ok"), resume("forbidden-snapshot")]);
    insertAll(emulator.state, "documents", [waitingResult("snapshot-waiting")]);
    await syncAndCheck("snapshot-ok", "forbidden-snapshot", "snapshot-waiting");
  });

  it("is dead-lettered from a streamed batch, and the rest of the batch lands once", async () => {
    insertAll(emulator.state, "resumes", [resume("stream-ok"), resume("forbidden-stream")]);
    insertAll(emulator.state, "documents", [waitingResult("stream-waiting")]);
    await syncAndCheck("stream-ok", "forbidden-stream", "stream-waiting");
  });
});
