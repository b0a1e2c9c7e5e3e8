/**
 * The pieces an end-to-end sync test needs: an emulated ArangoDB holding ATSPro-shaped data, a
 * PostgreSQL test database with better-auth users, the daemon wired between them, and the two
 * views to compare — what PostgreSQL holds, and what the mapping says it should hold given what
 * ArangoDB holds now. Values are normalised (jsonb parsed, timestamps as UTC ISO) so that the
 * comparison is about content, never about PostgreSQL's text formatting.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { parse } from "yaml";
import {
  Random,
  generateJob,
  generateResult,
  generateResume,
  generateUsers,
  type AtsproUser,
} from "../../src/emulator/atspro-generator.js";
import type { CollectionState, StoredDocument } from "../../src/emulator/catalog.js";
import { type Emulator, type StartOptions, startEmulator } from "../../src/emulator/emulator.js";
import type { EmulatedServer } from "../../src/emulator/emulated-server.js";
import { type CompiledMapping, loadMapping } from "../../src/mapping/compile-mapping.js";
import {
  type DaemonObserver,
  type DaemonOptions,
  SyncDaemon,
} from "../../src/pipeline/sync-daemon.js";
import { TargetStore } from "../../src/sink/target-store.js";
import { ReplicationApi } from "../../src/source/replication-api.js";

export const SOURCE_DATABASE = "atspro";
export const COLLECTIONS = ["resumes", "jobs", "documents", "task_results"] as const;

export function atsproMapping(): CompiledMapping {
  const config = parse(
    readFileSync(new URL("../../config/atspro.yaml", import.meta.url), "utf8"),
  ) as {
    mapping: unknown;
  };
  const loaded = loadMapping(config.mapping);
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  return loaded.mapping;
}

/** An emulator holding the ATSPro database and collections; `options` as for startEmulator. */
export async function startAtsproSource(options: StartOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ port: 0, ...options });
  const database = emulator.state.createDatabase(SOURCE_DATABASE);
  for (const name of COLLECTIONS) emulator.state.createCollection(database, { name });
  return emulator;
}

export function collectionOf(state: EmulatedServer, name: string): CollectionState {
  return state.database(SOURCE_DATABASE).collection(name);
}

/** Inserts documents through the engine, one single-document write each (tid "0"). */
export function insertAll(
  state: EmulatedServer,
  collection: string,
  documents: readonly Record<string, unknown>[],
): void {
  const target = collectionOf(state, collection);
  for (const document of documents) {
    state.write(target, undefined, false, (writes) => state.insert(writes, target, document, {}));
  }
}

export interface AtsproData {
  users: AtsproUser[];
  resumes: Record<string, unknown>[];
  jobs: Record<string, unknown>[];
  results: Record<string, unknown>[];
}

/** `size` resumes, half as many jobs, and results linking random pairs (plus a few dangling). */
export function generateAtspro(seed: number, size: number): AtsproData {
  const random = new Random(seed);
  const users = generateUsers(random, Math.max(5, Math.ceil(size / 50)));
  const resumes = Array.from({ length: size }, (_, i) => generateResume(random, users, i));
  const jobs = Array.from({ length: Math.ceil(size / 2) }, (_, i) => generateJob(random, users, i));
  const results = Array.from({ length: Math.ceil(size / 2) }, (_, i) => {
    const resume = random.pick(resumes);
    const job = random.pick(jobs);
    return generateResult(
      random,
      String(resume["user_id"]),
      String(resume["_key"]),
      String(job["_key"]),
      i,
    );
  });
  return { users, resumes, jobs, results };
}

export async function seedUsers(pgUrl: string, users: readonly AtsproUser[]): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", "updatedAt")
       SELECT * FROM jsonb_to_recordset($1::jsonb)
         AS u(id text, name text, email text, "emailVerified" boolean, image text, "createdAt" timestamp, "updatedAt" timestamp)
       ON CONFLICT (id) DO NOTHING`,
      [JSON.stringify(users)],
    );
  } finally {
    await client.end();
  }
}

export const defaultDaemonOptions = (mapping: CompiledMapping): DaemonOptions => ({
  sourceDatabase: SOURCE_DATABASE,
  mapping,
  journal: true,
  tailChunkSize: 1024 * 1024,
  dumpChunkSize: 512 * 1024,
  batchTtlSeconds: 300,
  maxBatchChanges: 2000,
  maxOperationsPerUnit: 100_000,
  retryBudget: 5,
  parkedRetryIntervalMs: 0,
  stopWhenCaughtUp: true,
});

/**
 * Runs the daemon in this process until it is caught up with the source (or `signal` aborts),
 * then closes it. The observer sees what the daemon reports; its callbacks run inside the loop,
 * so a test can write to the emulator at exact points (between dump chunks, after a commit).
 */
export async function syncUntilCaughtUp(
  emulator: Emulator,
  pgUrl: string,
  mapping: CompiledMapping,
  overrides: Partial<DaemonOptions> = {},
  observer: DaemonObserver = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<void> {
  const api = new ReplicationApi(
    { url: emulator.url, database: SOURCE_DATABASE, username: "root", password: "" },
    { syncerId: "4242", clientInfo: "arango-pg-sync test" },
  );
  const store = await TargetStore.open({ url: pgUrl, mapping, journal: overrides.journal ?? true });
  try {
    const daemon = new SyncDaemon(
      api,
      store,
      { ...defaultDaemonOptions(mapping), ...overrides },
      observer,
    );
    await daemon.run(signal);
  } finally {
    await store.close();
    api.close();
  }
}

/** table → key → column → normalised value (legacy_tick and generated ids left out). */
export type MirrorState = Record<string, Record<string, Record<string, unknown>>>;

/** Both sides deliver text (the mapping's values, PostgreSQL's `::text`): parse jsonb, align timestamps. */
function normalise(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new Error(`expected a text value, got ${typeof value}`);
  if (type === "jsonb") return JSON.parse(value) as unknown;
  if (type === "timestamptz") return value.replace(/\+00(:00)?$/, "Z").replace(" ", "T");
  return value;
}

/** Timestamps with microseconds: Date would truncate them, so read them as UTC text. */
export async function readMirror(pgUrl: string, mapping: CompiledMapping): Promise<MirrorState> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    const state: MirrorState = {};
    for (const table of mapping.tables) {
      const translated = new Map(
        table.references
          .filter((r) => r.lookupColumn !== r.valueColumn)
          .map((r) => [r.column, r] as const),
      );
      const columns = table.columns.filter((c) => c.source !== "tick");
      const select = columns.map((c) => {
        const ref = translated.get(c.name);
        if (ref !== undefined) {
          return `(SELECT p."${ref.lookupColumn}" FROM "${ref.table}" p WHERE p."${ref.valueColumn}" = t."${c.name}") AS "${c.name}"`;
        }
        const expression =
          c.type === "timestamptz"
            ? `to_char(t."${c.name}" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.USZ')`
            : `t."${c.name}"::text`;
        return `${expression} AS "${c.name}"`;
      });
      const result = await client.query<Record<string, unknown>>(
        `SELECT ${select.join(", ")} FROM "${table.table}" t`,
      );
      const rows: Record<string, Record<string, unknown>> = {};
      for (const row of result.rows) {
        const normalised: Record<string, unknown> = {};
        for (const column of columns)
          normalised[column.name] = normaliseTimestamp(
            column.type,
            normalise(column.type, row[column.name]),
          );
        rows[String(row[table.keyColumn])] = normalised;
      }
      state[table.table] = rows;
    }
    return state;
  } finally {
    await client.end();
  }
}

/** `…12.5Z`, `…12.500000Z` and `…12Z` are one instant: compare with six fraction digits. */
function normaliseTimestamp(type: string, value: unknown): unknown {
  if (type !== "timestamptz" || typeof value !== "string") return value;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(value);
  if (match === null) return value;
  return `${match[1] ?? ""}.${(match[2] ?? "").padEnd(6, "0").slice(0, 6)}Z`;
}

/**
 * What PostgreSQL should hold: every document of a mapped collection that maps to a row and
 * whose parents exist (users in `"user"`, parents by legacy_id among the expected rows, in
 * dependency order). Rows that cannot exist there (parked, dead-lettered) are left out.
 */
export function expectedMirror(
  state: EmulatedServer,
  mapping: CompiledMapping,
  userIds: ReadonlySet<string>,
): MirrorState {
  const expected: MirrorState = {};
  const pending = [...mapping.tables];
  while (pending.length > 0) {
    const index = pending.findIndex((t) =>
      t.parentTables.every((p) => p === t.table || !pending.some((q) => q.table === p)),
    );
    const [table] = pending.splice(index < 0 ? 0 : index, 1);
    if (table === undefined) break;
    const collection = state.findDatabase(SOURCE_DATABASE)?.findCollection(table.collection);
    const rows: Record<string, Record<string, unknown>> = {};
    for (const document of collection?.documents.values() ?? []) {
      const built = table.buildRow({
        key: document._key,
        rev: document._rev,
        tick: 0n,
        document: (collection?.present(document) ?? document) as never,
      });
      if (!built.ok) continue;
      const values = [...built.row.values];
      let present = true;
      for (const ref of built.row.parents) {
        const exists =
          ref.table === "user"
            ? userIds.has(ref.value)
            : ref.table in expected
              ? ref.value in (expected[ref.table] ?? {})
              : ref.onMissingParent === "null"
                ? false
                : true;
        if (exists) continue;
        if (ref.onMissingParent === "null") values[ref.columnIndex] = null;
        else present = false;
      }
      if (!present) continue;
      const normalised: Record<string, unknown> = {};
      table.columns.forEach((column, i) => {
        if (column.source === "tick") return;
        normalised[column.name] = normaliseTimestamp(
          column.type,
          normalise(column.type, values[i]),
        );
      });
      rows[document._key] = normalised;
    }
    expected[table.table] = rows;
  }
  return expected;
}

export type { StoredDocument };
