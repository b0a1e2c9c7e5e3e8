import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/emulator.js";
import { useTestDatabase } from "../support/test-database.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  expectedMirror,
  generateAtspro,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
} from "../support/sync-fixture.js";

const database = useTestDatabase();
let emulator: Emulator;
let userIds: Set<string>;

beforeAll(async () => {
  emulator = await startAtsproSource();
  const data = generateAtspro(21, 120);
  userIds = new Set(data.users.map((u) => u.id));
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
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

describe("arango-pg-sync snapshot / status", () => {
  it("loads everything, exits 0, and status reports the phase and row counts", async () => {
    const run = await cli(["snapshot"]);
    expect(run.stdout).toContain("phase: streaming");
    expect(run.code).toBe(0);
    const mapping = atsproMapping();
    expect(await readMirror(database.url, mapping)).toEqual(
      expectedMirror(emulator.state, mapping, userIds),
    );

    const status = await cli(["status", "--json"]);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as {
      phase: string;
      appliedTick: string;
      sourceTick: string;
      tables: Record<string, number>;
      unmappedCollections: string[];
    };
    expect(report.phase).toBe("streaming");
    expect(BigInt(report.appliedTick)).toBeLessThanOrEqual(BigInt(report.sourceTick));
    expect(report.tables["resumes"]).toBeGreaterThan(50);
    expect(report.unmappedCollections).toEqual(["task_results"]);
  });
});
