/**
 * Regression: a document with U+0000 or a lone surrogate in any string stopped the daemon for
 * good. The mapping made the row's values storable, but the journal wrote the document itself
 * as jsonb ("unsupported Unicode escape sequence", SQLSTATE 22P05), and a dead letter only fell
 * back to raw text for \u0000, not for a lone surrogate; either way the whole batch was refused
 * and retrying could never succeed. Now the journal keeps the document as the mapping stored it
 * and the dead letter keeps the raw event as text.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import {
  atsproMapping,
  collectionOf,
  expectedMirror,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const database = useTestDatabase();
const mapping = atsproMapping();
const OWNER = "user-nul";
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startAtsproSource();
  await seedUsers(database.url, [
    {
      id: OWNER,
      name: OWNER,
      email: "nul@example.org",
      emailVerified: true,
      image: null,
      createdAt: "2024-01-01T00:00:00",
      updatedAt: "2024-01-01T00:00:00",
    },
  ]);
});

afterAll(async () => {
  await emulator.close();
});

/** A resume with both kinds of text PostgreSQL refuses. */
function resume(key: string): Record<string, unknown> {
  return {
    _key: key,
    user_id: OWNER,
    status: "parsed",
    resume_data: { summary: "extracted\u0000from a PDF", "key\u0000": ["lone \ud800 half"] },
    error_message: "another \udc00 half",
  };
}

/** A resume the mapping refuses (status outside the CHECK list), with a lone surrogate only. */
function refusedResume(key: string): Record<string, unknown> {
  return { _key: key, user_id: OWNER, status: "archived", resume_data: { note: "x \udfff y" } };
}

async function query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function expectApplied(mapped: string, refused: string): Promise<void> {
  const { state } = emulator;
  expect(await readMirror(database.url, mapping)).toEqual(
    expectedMirror(state, mapping, new Set([OWNER])),
  );
  const [journal] = await query<{ document: Record<string, unknown> }>(
    "SELECT document FROM arango_sync.journal WHERE legacy_id = $1",
    [mapped],
  );
  expect(journal?.document).toMatchObject({
    resume_data: { summary: "extractedfrom a PDF", key: ["lone \ufffd half"] },
    error_message: "another \ufffd half",
  });
  const letters = await query<{ raw_event: unknown; raw_text: string | null; reason: string }>(
    "SELECT raw_event, raw_text, reason FROM arango_sync.dead_letters WHERE legacy_id = $1",
    [refused],
  );
  expect(letters).toHaveLength(1);
  const [letter] = letters;
  expect(letter?.reason).toBe("not-in-enum");
  // jsonb cannot hold the raw event: it is kept whole as text.
  expect(letter?.raw_event).toBeNull();
  const raw = JSON.parse(letter?.raw_text ?? "null") as Record<string, unknown>;
  const stored = collectionOf(state, "resumes").documents.get(refused);
  expect(raw["document"] ?? raw).toEqual(JSON.parse(JSON.stringify(stored)));
}

describe("documents with U+0000 and lone surrogates", () => {
  it("are applied from the snapshot, journalled, and dead-lettered with their raw text", async () => {
    insertAll(emulator.state, "resumes", [
      resume("snapshot-ok"),
      refusedResume("snapshot-refused"),
    ]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    await expectApplied("snapshot-ok", "snapshot-refused");
  });

  it("are applied from the WAL, journalled, and dead-lettered with their raw text", async () => {
    insertAll(emulator.state, "resumes", [resume("stream-ok"), refusedResume("stream-refused")]);
    await syncUntilCaughtUp(emulator, database.url, mapping);
    await expectApplied("stream-ok", "stream-refused");
  });
});
