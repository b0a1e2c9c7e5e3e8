/**
 * The commands that own the change stream's PostgreSQL objects: `migrate --with-change-stream`
 * creates the publication and the slot, `change-stream status` shows the slot, `change-stream
 * drop` removes both, and each is idempotent. The slot is dropped after the file whatever
 * happened.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { dropChangeStream, readChangeStreamSlot } from "../../src/sink/change-stream-slot.js";
import { REPOSITORY_ROOT } from "../support/daemon-process.js";
import { useTestDatabase } from "../support/test-database.js";

const NAMES = {
  slot: `cli_${process.pid}_${Date.now().toString(36)}`,
  publication: "arango_pg_sync_cli",
};
const database = useTestDatabase();
let configDir: string;
let configPath: string;

beforeAll(async () => {
  const atspro = parse(
    await readFile(path.join(REPOSITORY_ROOT, "config/atspro.yaml"), "utf8"),
  ) as {
    mapping: unknown;
  };
  configDir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-change-stream-"));
  configPath = path.join(configDir, "config.yaml");
  await writeFile(configPath, stringify({ mapping: atspro.mapping, changeStream: NAMES }));
});

afterAll(async () => {
  await dropChangeStream({ pgUrl: database.url, ...NAMES });
  await rm(configDir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "--config", configPath, ...args],
      { cwd: REPOSITORY_ROOT, env: { ...process.env, PG_URL: database.url } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

describe("change-stream commands", () => {
  it("creates the publication and the slot with migrate --with-change-stream, idempotently", async () => {
    const first = await cli(["migrate", "--with-change-stream"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`publication ${NAMES.publication}  created`);
    expect(first.stdout).toContain(`slot ${NAMES.slot}  created`);
    const again = await cli(["change-stream", "create"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`publication ${NAMES.publication}  updated`);
    expect(again.stdout).toContain(`slot ${NAMES.slot}  exists`);
    const slot = await readChangeStreamSlot({ pgUrl: database.url, slot: NAMES.slot });
    expect(slot).toMatchObject({ plugin: "pgoutput", active: false, inThisDatabase: true });
  });

  it("shows the slot, then drops both, idempotently", async () => {
    const status = await cli(["change-stream", "status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^slot ${NAMES.slot}: not read right now`));
    const dropped = await cli(["change-stream", "drop"]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain(`slot ${NAMES.slot}  dropped`);
    expect(dropped.stdout).toContain(`publication ${NAMES.publication}  dropped`);
    const again = await cli(["change-stream", "drop"]);
    expect(again.stdout).toContain(`slot ${NAMES.slot}  absent`);
    expect(await readChangeStreamSlot({ pgUrl: database.url, slot: NAMES.slot })).toBeUndefined();
  });

  it("refuses an unknown action with exit code 2", async () => {
    const run = await cli(["change-stream", "recreate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("the action is create, drop or status");
  });
});
