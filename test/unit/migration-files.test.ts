import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { planMigrations } from "../../src/sink/migrate.js";
import {
  DEFAULT_MIGRATIONS_DIR,
  migrationChecksum,
  readMigrationFiles,
  type MigrationFile,
} from "../../src/sink/migration-files.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-files-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

function file(version: number, sql = `SELECT ${version};`): MigrationFile {
  const name = `${String(version).padStart(6, "0")}_step`;
  return { version, name, path: `/sql/${name}.sql`, sql, checksum: migrationChecksum(sql) };
}

describe("readMigrationFiles", () => {
  it("reads the shipped sql/ in order, starting with the target tables", async () => {
    const files = await readMigrationFiles();
    expect(files.map((f) => f.name).slice(0, 2)).toEqual([
      "000001_target_tables",
      "000002_arango_sync_schema",
    ]);
    const first = files[0];
    expect(first?.sql).toBe(
      await readFile(path.join(DEFAULT_MIGRATIONS_DIR, "000001_target_tables.sql"), "utf8"),
    );
  });

  it("sorts by number and ignores files that are not .sql", async () => {
    const dir = await dirWith({
      "000010_later.sql": "SELECT 10;",
      "000002_earlier.sql": "SELECT 2;",
      "README.md": "notes",
    });
    expect((await readMigrationFiles(dir)).map((f) => f.version)).toEqual([2, 10]);
  });

  it("refuses a .sql file that does not follow the naming scheme", async () => {
    const dir = await dirWith({ "000001_ok.sql": "", "2_bad.sql": "" });
    await expect(readMigrationFiles(dir)).rejects.toThrow(
      /2_bad\.sql is not named NNNNNN_name\.sql/,
    );
  });

  it("refuses two files with the same number", async () => {
    const dir = await dirWith({ "000003_a.sql": "", "000003_b.sql": "" });
    await expect(readMigrationFiles(dir)).rejects.toThrow(/have the same number 000003/);
  });

  it("says so when the directory is missing", async () => {
    await expect(
      readMigrationFiles(path.join(os.tmpdir(), "no-such-dir-xyz")),
    ).rejects.toMatchObject({
      code: "MIGRATION_FAILED",
    });
  });
});

describe("migrationChecksum", () => {
  it("ignores CRLF versus LF but sees any other change", () => {
    expect(migrationChecksum("a\r\nb\r\n")).toBe(migrationChecksum("a\nb\n"));
    expect(migrationChecksum("a\nb\n")).not.toBe(migrationChecksum("a\nb \n"));
  });
});

describe("planMigrations", () => {
  const record = (f: MigrationFile) => ({ version: f.version, name: f.name, checksum: f.checksum });

  it("returns the files not applied yet, in order", () => {
    const files = [file(1), file(2), file(3)];
    expect(planMigrations(files, [record(file(1))]).map((f) => f.version)).toEqual([2, 3]);
    expect(planMigrations(files, files.map(record))).toEqual([]);
    expect(planMigrations(files, []).map((f) => f.version)).toEqual([1, 2, 3]);
  });

  it("refuses an applied file whose text changed", () => {
    const applied = record(file(1, "SELECT 1;"));
    expect(() => planMigrations([file(1, "SELECT 'edited';")], [applied])).toThrow(
      /sql\/000001_step\.sql was changed after it was applied/,
    );
  });

  it("refuses when the database has a migration this version does not know", () => {
    expect(() => planMigrations([file(1)], [record(file(1)), record(file(2))])).toThrow(
      /the database has migration 000002_step/,
    );
  });

  it("refuses a pending file numbered below an applied one", () => {
    expect(() =>
      planMigrations([file(1), file(2), file(3)], [record(file(1)), record(file(3))]),
    ).toThrow(/sql\/000002_step\.sql is not applied but a later migration \(000003\) is/);
  });
});
