import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBetterAuthFixture } from "../support/databases.js";
import { testDatabases } from "../support/test-database.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const databases = testDatabases();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as an operator would, with only the env given here (no inherited PG_URL). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { cwd: repo, env: { PATH: process.env["PATH"] ?? "", ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

async function deploymentDatabase(): Promise<string> {
  const db = await databases.empty();
  await loadBetterAuthFixture(db.url);
  return db.url;
}

async function emptyConfig(): Promise<string> {
  const file = path.join(dir, `empty-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, "");
  return file;
}

async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  const port = typeof address === "object" && address !== null ? address.port : 1;
  return `postgres://nobody:pw@127.0.0.1:${port}/atspro`;
}

describe("arango-pg-sync migrate", () => {
  it("applies the migrations given --pg-url, prints each step, exits 0; then reports them as already applied", async () => {
    const url = await deploymentDatabase();
    const config = await emptyConfig();

    const first = await cli(["migrate", "--config", config, "--pg-url", url], {
      PG_URL: await refusedUrl(),
    });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^000001_target_tables\s+applied \(\d+ ms\)$/m);
    expect(first.stdout).toMatch(/^000002_arango_sync_schema\s+applied \(\d+ ms\)$/m);
    expect(first.stdout).toMatch(/^migrate: 3 applied, 0 already applied$/m);

    const second = await cli(["migrate", "--config", config], { PG_URL: url });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^000001_target_tables\s+already applied$/m);
    expect(second.stdout).toMatch(/^migrate: 0 applied, 3 already applied$/m);
  });

  it("takes the URL from the config file when neither flag nor env give one", async () => {
    const url = await deploymentDatabase();
    const config = path.join(dir, "with-url.yaml");
    await writeFile(config, `postgres:\n  url: ${url}\nmapping: {}\n`);
    const run = await cli(["migrate", "--config", config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/migrate: 3 applied/);
  });

  it("exits 2 and says how to set the URL when there is none", async () => {
    const run = await cli(["migrate", "--config", await emptyConfig()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "postgres.url is not set: pass --pg-url, set PG_URL (or PG_URL_FILE), or set postgres.url in",
    );
  });

  it("exits 75 when PostgreSQL cannot be reached, without printing the password", async () => {
    const run = await cli([
      "migrate",
      "--config",
      await emptyConfig(),
      "--pg-url",
      await refusedUrl(),
    ]);
    expect(run.code).toBe(75);
    expect(run.stderr).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/atspro/);
    expect(run.stderr + run.stdout).not.toContain("nobody:pw");
  });

  it('exits 70 with the reason when better-auth\'s "user" table is missing', async () => {
    const db = await databases.empty();
    const run = await cli(["migrate", "--config", await emptyConfig(), "--pg-url", db.url]);
    expect(run.code).toBe(70);
    expect(run.stderr).toMatch(/the better-auth schema must exist before arango-pg-sync migrates/);
    expect(run.stdout).toMatch(/^000001_target_tables\s+not applied$/m);
  });
});
