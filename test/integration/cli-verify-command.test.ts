import { spawn } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { useTestDatabase } from "../support/test-database.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";

/** `arango-pg-sync verify`: exit 0 when consistent, 1 on drift; `--json` prints the result. */

const database = useTestDatabase();
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(41, 60);
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
  await syncUntilCaughtUp(emulator, database.url, atsproMapping());
});

afterAll(async () => {
  await emulator.close();
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      env: {
        ...process.env,
        ARANGO_URL: emulator.url,
        ARANGO_DATABASE: SOURCE_DATABASE,
        ARANGO_USERNAME: "root",
        ARANGO_PASSWORD: "",
        PG_URL: database.url,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface VerifyJson {
  verdict: string;
  mode: string;
  sourceTick: string;
  appliedTick: string;
  tables: {
    collection: string;
    table: string;
    documents: number;
    rows: number;
    equal: number;
    inFlight: number;
    explained: Record<string, number>;
    drift: Record<string, number>;
    examples: { key: string; kind: string; detail: string }[];
  }[];
  deadLetters: unknown[];
  parked: unknown[];
  stats: { durationMs: number; rowsVerified: number; rowsPerSecond: number };
}

describe("arango-pg-sync verify", () => {
  it("exits 0 on a consistent mirror, with a table per collection or the result as JSON", async () => {
    const json = await cli(["verify", "--full", "--json"]);
    expect(json.stderr).toContain("consistency check: no drift");
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as VerifyJson;
    expect(result.verdict).toBe("consistent");
    expect(result.mode).toBe("full");
    expect(BigInt(result.appliedTick)).toBeLessThanOrEqual(BigInt(result.sourceTick));
    expect(result.tables.map((t) => t.collection)).toEqual(["resumes", "jobs", "documents"]);
    const resumes = result.tables.find((t) => t.table === "resumes");
    expect(resumes).toMatchObject({
      documents: 60,
      inFlight: 0,
      drift: { missing: 0, extra: 0, revision: 0, content: 0 },
      examples: [],
    });
    expect(result.stats.rowsVerified).toBe(60 + 30 + 30);
    expect(result.stats.rowsPerSecond).toBeGreaterThan(0);

    const human = await cli(["verify"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("verify (full): consistent");
    expect(human.stdout).toMatch(/^collection\s+table\s+documents\s+rows\s+equal/m);
    expect(human.stdout).toMatch(/^resumes\s+resumes\s+60\s/m);
  });

  it("exits 1 on drift and names the drifting key", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    let key: string;
    try {
      const rows = await client.query<{ legacy_id: string }>(
        "UPDATE jobs SET legacy_rev = '_stale_rev_' WHERE legacy_id = (SELECT min(legacy_id) FROM jobs) RETURNING legacy_id",
      );
      key = rows.rows[0]?.legacy_id ?? "";
    } finally {
      await client.end();
    }

    const human = await cli(["verify", "--full"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain("verify (full): drift");
    expect(human.stdout).toContain(`jobs ${key}: revision: legacy_rev`);
    expect(human.stderr).toContain("consistency check found drift");

    const json = await cli(["verify", "--json"]);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout) as VerifyJson;
    expect(result.verdict).toBe("drift");
    expect(result.tables.find((t) => t.table === "jobs")?.examples).toEqual([
      expect.objectContaining({ key, kind: "revision" }),
    ]);
  });
});
