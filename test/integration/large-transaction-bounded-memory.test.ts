/**
 * A 200,000-operation source transaction streams through the daemon with bounded memory: its
 * parts are staged in PostgreSQL (DESIGN.md §2 invariant 6) and it becomes visible in one
 * PostgreSQL commit (invariant 3). The daemon runs as a child process so its peak resident
 * memory (VmHWM) can be read from /proc without the emulator's data in the same heap.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { useTestDatabase } from "../support/test-database.js";
import {
  SOURCE_DATABASE,
  collectionOf,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
} from "../support/sync-fixture.js";

const OPERATIONS = 200_000;
/** The stated bound: peak RSS of the daemon process while the transaction streams through. */
const PEAK_RSS_LIMIT_MB = 400;

const database = useTestDatabase();
let emulator: Emulator;
let workdir: string;
let configPath: string;
let userId: string;

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(5, 10);
  userId = data.users[0]?.id ?? "";
  await seedUsers(database.url, data.users);
  workdir = await mkdtemp(path.join(tmpdir(), "apgs-large-trx-"));
  const atspro = parse(
    await readFile(new URL("../../config/atspro.yaml", import.meta.url), "utf8"),
  ) as Record<string, unknown>;
  configPath = path.join(workdir, "config.yaml");
  await writeFile(
    configPath,
    stringify({
      mapping: atspro["mapping"],
      sync: {
        maxOperationsPerUnit: 5000,
        tailChunkSize: 1024 * 1024,
        maxBatchChanges: 2000,
        journal: false,
      },
    }),
  );
});

afterAll(async () => {
  await emulator.close();
  await rm(workdir, { recursive: true, force: true });
});

/** Runs `snapshot` (exits when caught up) and samples the child's peak RSS from /proc. */
function runSnapshot(): Promise<{ code: number | null; peakRssMb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "snapshot", "--config", configPath],
      {
        env: {
          ...process.env,
          ARANGO_URL: emulator.url,
          ARANGO_DATABASE: SOURCE_DATABASE,
          ARANGO_USERNAME: "root",
          ARANGO_PASSWORD: "",
          PG_URL: database.url,
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let peakKb = 0;
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const sample = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, "utf8")
        .then((status) => {
          const match = /VmHWM:\s+(\d+) kB/.exec(status);
          if (match !== null) peakKb = Math.max(peakKb, Number(match[1]));
        })
        .catch(() => undefined);
    }, 100);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(sample);
      resolve({ code, peakRssMb: peakKb / 1024, stderr });
    });
  });
}

/** The results table has no GIN index, which keeps 200,000 inserts affordable in the suite. */
async function countResults(client: pg.Client): Promise<number> {
  const result = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM optimization_results",
  );
  return result.rows[0]?.n ?? -1;
}

describe("a 200,000-operation source transaction", () => {
  it("is applied atomically with bounded memory", async () => {
    // One resume and one job, then the snapshot, so the transaction arrives through the WAL.
    const { state } = emulator;
    insertAll(state, "resumes", [
      { _key: "r1", user_id: userId, status: "parsed", resume_data: {} },
    ]);
    insertAll(state, "jobs", [{ _key: "j1", user_id: userId, type: "job", status: "pending" }]);
    expect((await runSnapshot()).code).toBe(0);

    const results = collectionOf(state, "documents");
    const atspro = state.database(SOURCE_DATABASE);
    const trx = state.beginTransaction(atspro, { write: ["documents"] });
    state.write(results, trx, false, (writes) => {
      for (let i = 0; i < OPERATIONS; i++) {
        const result = {
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

    // Whatever moment it is read at, PostgreSQL shows none or all of the transaction.
    const observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
    const seen = new Set<number>();
    const watching = new AbortController();
    const watch = (async () => {
      while (!watching.signal.aborted) {
        seen.add(await countResults(observer));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const run = await runSnapshot();
    watching.abort();
    await watch;
    seen.add(await countResults(observer));
    await observer.end();

    expect(run.code, run.stderr).toBe(0);
    expect(
      [...seen].filter((n) => n !== 0 && n !== OPERATIONS),
      "row counts seen while applying",
    ).toEqual([]);
    expect(seen.has(OPERATIONS)).toBe(true);
    expect(run.peakRssMb).toBeGreaterThan(0);
    expect(run.peakRssMb).toBeLessThan(PEAK_RSS_LIMIT_MB);
    console.log(
      `peak RSS while streaming ${OPERATIONS} operations in one transaction: ${run.peakRssMb.toFixed(0)} MB`,
    );
  }, 300_000);
});
