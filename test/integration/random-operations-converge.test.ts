/**
 * Property (DESIGN.md §10, issue 3 acceptance 2): whatever an application writes to ArangoDB —
 * before the snapshot, between its dump chunks, between a WAL poll and its apply, after a commit,
 * while the daemon is stopped, with or without the WAL pruned meanwhile (a gap, healed by a
 * re-snapshot) — the daemon ends with PostgreSQL = map(ArangoDB), every document
 * that does not map is in arango_sync.dead_letters with its raw event, and every row waiting for
 * a parent waits with the document's current image.
 *
 * Each run gets a fresh emulator and a fresh PostgreSQL database. A failure prints fast-check's
 * seed and path; rerun one with CONVERGENCE_SEED=<seed> (and CONVERGENCE_PATH=<path>), and set
 * CONVERGENCE_SHRINK=1 to let fast-check shrink it to a minimal sequence (slow: one daemon run
 * per attempt). The operations of the failing run are printed with the error.
 */
import fc from "fast-check";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { AtsproUser } from "../../src/emulator/atspro-generator.js";
import type { EmulatedServer } from "../../src/emulator/emulated-server.js";
import type { DaemonObserver } from "../../src/pipeline/sync-daemon.js";
import {
  GHOST_USER,
  KNOWN_USERS,
  MAPPED,
  type Operation,
  SourceWriter,
  operation,
  parentPrelude,
} from "../support/random-source-operations.js";
import {
  atsproMapping,
  collectionOf,
  expectedMirror,
  readMirror,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { testDatabases } from "../support/test-database.js";

const databases = testDatabases();
const mapping = atsproMapping();

const RUNS = Number(process.env["CONVERGENCE_RUNS"] ?? 20);

/** Across the runs: how often the paths this property is about were really taken. */
const exercised = { writesBetweenDumpChunks: 0, gapsHealed: 0 };

interface Scenario {
  /** Written before the daemon starts: the snapshot's content. */
  readonly before: readonly Operation[];
  /** One group per daemon callback (dump chunk committed, WAL chunk polled, batch committed). */
  readonly during: readonly (readonly Operation[])[];
  /** Written while the daemon is stopped; a restart resumes from the checkpoint. */
  readonly after: readonly Operation[];
  /** The operator creates the missing user before the restart, so rows waiting for it apply. */
  readonly createGhostUser: boolean;
  /** The WAL is pruned while the daemon is stopped: the restart finds a gap and re-snapshots. */
  readonly pruneWhileStopped: boolean;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  before: fc
    .tuple(parentPrelude, fc.array(operation, { maxLength: 40 }))
    .map(([prelude, rest]) => [...prelude, ...rest]),
  during: fc.array(fc.array(operation, { minLength: 1, maxLength: 3 }), { maxLength: 14 }),
  after: fc.array(operation, { maxLength: 12 }),
  createGhostUser: fc.boolean(),
  pruneWhileStopped: fc.boolean(),
});

function userRow(id: string): AtsproUser {
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

/** A document's JSON as the wire carries it (-0 is 0, a lone surrogate is an escape). */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

interface DeadLetterRow {
  collection: string | null;
  legacy_id: string | null;
  reason: string;
  raw_event: Record<string, unknown> | null;
  raw_text: string | null;
}

interface ParkedRow {
  table_name: string;
  legacy_id: string;
  row: { collection: string; rev: string };
}

/** The document a dead letter holds: a dump line is the document, a WAL event carries it. */
function documentOf(letter: DeadLetterRow): Record<string, unknown> | undefined {
  const raw = letter.raw_event ?? (JSON.parse(letter.raw_text ?? "null") as unknown);
  if (typeof raw !== "object" || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  const inner = record["document"];
  return typeof inner === "object" && inner !== null ? (inner as Record<string, unknown>) : record;
}

async function sinkState(
  url: string,
): Promise<{ deadLetters: DeadLetterRow[]; parked: ParkedRow[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const dead = await client.query<DeadLetterRow>(
      "SELECT collection, legacy_id, reason, raw_event, raw_text FROM arango_sync.dead_letters",
    );
    const parked = await client.query<ParkedRow>(
      "SELECT table_name, legacy_id, row FROM arango_sync.parked_rows",
    );
    return { deadLetters: dead.rows, parked: parked.rows };
  } finally {
    await client.end();
  }
}

/** Documents of the mapped collections whose current image the mapping refuses. */
function unmappable(state: EmulatedServer): { collection: string; document: unknown }[] {
  const found: { collection: string; document: unknown }[] = [];
  for (const name of MAPPED) {
    const collection = collectionOf(state, name);
    const table = mapping.forCollection(name);
    for (const stored of collection.documents.values()) {
      const document = collection.present(stored);
      const built = table?.buildRow({
        key: document._key,
        rev: document._rev,
        tick: 0n,
        document: document as never,
      });
      if (built?.ok === false) found.push({ collection: name, document });
    }
  }
  return found;
}

async function converges(run: Scenario): Promise<void> {
  const database = await databases.fromTemplate();
  const emulator = await startAtsproSource();
  const writer = new SourceWriter(emulator.state, mapping);
  try {
    await seedUsers(database.url, KNOWN_USERS.map(userRow));
    for (const op of run.before) writer.run(op);

    const pending = [...run.during];
    const interleave = (): void => {
      const group = pending.shift();
      if (group === undefined) return;
      writer.log.push("-- while the daemon runs");
      for (const op of group) writer.run(op);
    };
    const observer: DaemonObserver = {
      snapshotProgress: ({ done }) => {
        if (!done && pending.length > 0) exercised.writesBetweenDumpChunks += 1;
        interleave();
      },
      polled: interleave,
      committed: interleave,
    };
    // Small dump chunks: writes land between the chunks of a collection's dump.
    await syncUntilCaughtUp(emulator, database.url, mapping, { dumpChunkSize: 1024 }, observer);

    writer.log.push("-- daemon stopped");
    for (const group of pending) for (const op of group) writer.run(op);
    for (const op of run.after) writer.run(op);
    const users = new Set<string>(KNOWN_USERS);
    if (run.createGhostUser) {
      await seedUsers(database.url, [userRow(GHOST_USER)]);
      users.add(GHOST_USER);
    }
    if (run.pruneWhileStopped) {
      const pruned = emulator.pruneWal({ force: true });
      writer.log.push(`-- WAL pruned: ${pruned.removed} write batches`);
    }
    await syncUntilCaughtUp(
      emulator,
      database.url,
      mapping,
      {},
      {
        gap: () => {
          exercised.gapsHealed += 1;
        },
      },
    );

    const { state } = emulator;
    expect(await readMirror(database.url, mapping)).toEqual(expectedMirror(state, mapping, users));

    const { deadLetters, parked } = await sinkState(database.url);
    for (const { collection, document } of unmappable(state)) {
      const key = (document as { _key: string })._key;
      const letters = deadLetters
        .filter((l) => l.collection === collection && l.legacy_id === key)
        .map(documentOf);
      expect(letters, `dead letter for ${collection}/${key}`).toContainEqual(wire(document));
    }
    // A waiting row waits with the document's current image, and only while ArangoDB has it.
    for (const row of parked) {
      const stored = collectionOf(state, row.row.collection).documents.get(row.legacy_id);
      expect(stored?._rev, `parked ${row.table_name}/${row.legacy_id}`).toBe(row.row.rev);
    }
  } catch (error) {
    const tail = writer.log.slice(-80).join("\n");
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n-- last operations:\n${tail}`,
      { cause: error },
    );
  } finally {
    await emulator.close();
  }
}

describe("random operation sequences", () => {
  it(
    "always converge to PostgreSQL = map(ArangoDB), with every refused document dead-lettered",
    async () => {
      const seed = process.env["CONVERGENCE_SEED"];
      const path = process.env["CONVERGENCE_PATH"];
      await fc.assert(fc.asyncProperty(scenario, converges), {
        numRuns: RUNS,
        endOnFailure: process.env["CONVERGENCE_SHRINK"] !== "1",
        ...(seed === undefined ? {} : { seed: Number(seed) }),
        ...(path === undefined ? {} : { path }),
      });
      if (RUNS >= 10 && seed === undefined) {
        expect(exercised.writesBetweenDumpChunks).toBeGreaterThan(0);
        expect(exercised.gapsHealed).toBeGreaterThan(0);
      }
    },
    Math.max(120_000, RUNS * 6_000),
  );
});
