/**
 * Issue 4, acceptance 5: with the change stream on (publication and slot created as
 * `change-stream create` does), a write to a mirrored table that does not come from the daemon
 * raises `foreign_writes_total{table}` and is logged with its table and key, while the daemon's
 * own writes (snapshot, stream batches, parked rows written when their parent arrives) never
 * count. The daemon's rows reaching the stream are measured as `visible_latency_seconds`.
 *
 * The slot is dropped after the file, whatever happened: a slot left behind would keep WAL on
 * the test server and keep its database from being dropped.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AtsproUser } from "../../src/emulator/atspro-generator.js";
import type { Emulator } from "../../src/emulator/emulator.js";
import {
  createChangeStream,
  dropChangeStream,
  readChangeStreamSlot,
} from "../../src/sink/change-stream-slot.js";
import { ComposedDaemon, sumOf } from "../support/composed-daemon.js";
import {
  atsproMapping,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const M = "arango_pg_sync_";
// Slots are per server, and test files share one: the name is this run's own.
const NAMES = {
  slot: `fw_${process.pid}_${Date.now().toString(36)}`,
  publication: "arango_pg_sync_fw",
};
const database = useTestDatabase();
let emulator: Emulator;
let users: AtsproUser[];
let daemon: ComposedDaemon | undefined;
let written = 0;

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(5, 40);
  users = data.users;
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
  const steps = await createChangeStream({
    pgUrl: database.url,
    ...NAMES,
    tables: atsproMapping().tables.map((t) => t.table),
  });
  expect(steps.map((s) => `${s.what} ${s.status}`)).toEqual([
    "publication created",
    "slot created",
  ]);
});

afterAll(async () => {
  try {
    await daemon?.stop();
  } finally {
    await dropChangeStream({ pgUrl: database.url, ...NAMES });
    await emulator.close();
  }
});

async function sql(text: string, values: unknown[] = []): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<pg.QueryResultRow>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function resume(key: string, userId: string): Record<string, unknown> {
  return { _key: key, user_id: userId, status: "parsed", resume_data: { summary: key } };
}

/**
 * Writes one more resume through the emulator and waits until the change stream has delivered
 * the daemon's transaction for it: everything PostgreSQL committed before is then processed too.
 */
async function streamedThrough(running: ComposedDaemon): Promise<void> {
  const before = sumOf(await running.samples(), `${M}visible_latency_seconds_count`);
  written += 1;
  insertAll(emulator.state, "resumes", [resume(`marker-${written}`, users[0]?.id ?? "")]);
  await running.until("the daemon's transaction is seen on the change stream", async () => {
    return sumOf(await running.samples(), `${M}visible_latency_seconds_count`) > before;
  });
}

async function foreignWrites(running: ComposedDaemon): Promise<Record<string, number>> {
  const samples = await running.samples();
  return Object.fromEntries(
    ["resumes", "jobs", "optimization_results"].map((table) => [
      table,
      sumOf(samples, `${M}foreign_writes_total`, { table }),
    ]),
  );
}

describe("foreign writes", () => {
  it("never counts the daemon's own writes", async () => {
    daemon = await ComposedDaemon.start({
      arangoUrl: emulator.url,
      pgUrl: database.url,
      changeStream: NAMES,
    });
    const running = daemon;
    await running.until("the change stream is read and the daemon streams", async () => {
      const samples = await running.samples();
      return (
        sumOf(samples, `${M}change_stream_up`) === 1 &&
        sumOf(samples, `${M}phase`, { phase: "streaming" }) === 1
      );
    });
    // A row that waits for its owner, then is written by a parked-row retry once it exists.
    insertAll(emulator.state, "resumes", [resume("waiting", "late_user")]);
    await running.until("the row is parked", async () => {
      return (
        (await sql("SELECT 1 FROM arango_sync.parked_rows WHERE legacy_id = 'waiting'")).length ===
        1
      );
    });
    await seedUsers(database.url, [
      { ...(users[0] as AtsproUser), id: "late_user", email: "late@example.org" },
    ]);
    await running.until("the parked row is written", async () => {
      return (await sql("SELECT 1 FROM resumes WHERE legacy_id = 'waiting'")).length === 1;
    });
    await streamedThrough(running);

    expect(await foreignWrites(running)).toEqual({
      resumes: 0,
      jobs: 0,
      optimization_results: 0,
    });
    expect(
      sumOf(await running.samples(), `${M}visible_latency_seconds_count`),
    ).toBeGreaterThanOrEqual(1);
  });

  it("counts a write to a mirrored table that is not the daemon's, and logs its table and key", async () => {
    const running = requireDaemon();
    const [target] = await sql("SELECT legacy_id FROM resumes ORDER BY legacy_id LIMIT 1");
    const key = String(target?.["legacy_id"]);
    await sql("UPDATE resumes SET error_message = 'edited by hand' WHERE legacy_id = $1", [key]);
    await running.until("the foreign write is counted", async () => {
      return (await foreignWrites(running))["resumes"] === 1;
    });
    // One transaction touching two tables counts once for each.
    const [job] = await sql("SELECT legacy_id FROM jobs ORDER BY legacy_id LIMIT 1");
    const [result] = await sql(
      "SELECT legacy_id FROM optimization_results ORDER BY legacy_id LIMIT 1",
    );
    await sql(
      `WITH a AS (UPDATE jobs SET error_message = 'x' WHERE legacy_id = $1 RETURNING 1)
       DELETE FROM optimization_results WHERE legacy_id = $2`,
      [job?.["legacy_id"], result?.["legacy_id"]],
    );
    await running.until("both tables are counted", async () => {
      const counts = await foreignWrites(running);
      return counts["jobs"] === 1 && counts["optimization_results"] === 1;
    });

    // The daemon keeps writing; none of it counts.
    await streamedThrough(running);
    await streamedThrough(running);
    expect(await foreignWrites(running)).toEqual({
      resumes: 1,
      jobs: 1,
      optimization_results: 1,
    });

    const warnings = running.lines
      .map(
        (line) => JSON.parse(line) as { level: string; msg: string; table: string; key?: string },
      )
      .filter((line) => line.msg.startsWith("foreign write:"));
    expect(warnings.map((w) => w.table).sort()).toEqual([
      "jobs",
      "optimization_results",
      "resumes",
    ]);
    expect(warnings.every((w) => w.level === "warn")).toBe(true);
    expect(warnings.find((w) => w.table === "resumes")?.key).toBe(key);
    expect(warnings.find((w) => w.table === "jobs")?.key).toBe(job?.["legacy_id"]);
  });

  it("counts a lost change stream as a target error, warns once, and reads it again", async () => {
    const running = requireDaemon();
    const errors = async (): Promise<number> =>
      sumOf(await running.samples(), `${M}target_errors_total`, { kind: "change_stream" });
    expect(await errors()).toBe(0);
    const linesBefore = running.lines.length;
    const [slot] = await sql(
      "SELECT pg_terminate_backend(active_pid) AS terminated FROM pg_replication_slots WHERE slot_name = $1",
      [NAMES.slot],
    );
    expect(slot?.["terminated"]).toBe(true);
    await running.until("the lost stream is counted", async () => (await errors()) >= 1);
    await running.until("the change stream is read again", async () => {
      return sumOf(await running.samples(), `${M}change_stream_up`) === 1;
    });
    const samples = await running.samples();
    expect(sumOf(samples, `${M}target_up`)).toBe(1);
    expect(sumOf(samples, `${M}target_errors_total`, { kind: "unavailable" })).toBe(0);
    const lines = running.lines
      .slice(linesBefore)
      .map((line) => JSON.parse(line) as { level: string; msg: string; attempt?: number });
    const warnings = lines.filter((line) => line.msg.startsWith("cannot read PostgreSQL's"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: "warn", attempt: 1 });
    expect(lines.some((line) => line.msg.startsWith("reading PostgreSQL's change stream"))).toBe(
      true,
    );
    // Still counting foreign writes once it is back.
    await streamedThrough(running);
  });

  it("lets the slot go when the daemon stops, so it can be dropped", async () => {
    expect(await requireDaemon().stop()).toBe(0);
    daemon = undefined;
    const slot = await readChangeStreamSlot({ pgUrl: database.url, slot: NAMES.slot });
    expect(slot?.active).toBe(false);
    expect(slot?.inThisDatabase).toBe(true);
  });
});

function requireDaemon(): ComposedDaemon {
  if (daemon === undefined) throw new Error("the daemon was not started");
  return daemon;
}
