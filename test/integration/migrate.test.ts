import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { SyncError } from "../../src/errors.js";
import { MIGRATION_LOCK_NAME, migrate, type MigrateResult } from "../../src/sink/migrate.js";
import { DEFAULT_MIGRATIONS_DIR } from "../../src/sink/migration-files.js";
import { databaseUrl, loadBetterAuthFixture, withClient } from "../support/databases.js";
import { serverUrl, testDatabases } from "../support/test-database.js";

const databases = testDatabases();
const scratchDirs: string[] = [];
afterAll(async () => {
  for (const dir of scratchDirs) await rm(dir, { recursive: true, force: true });
});

/** An empty database with better-auth's tables, as in a real deployment before the first migrate. */
async function deploymentDatabase(): Promise<string> {
  const db = await databases.empty();
  await loadBetterAuthFixture(db.url);
  return db.url;
}

/** A private copy of sql/, so a test can add or edit files. */
async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-sql-"));
  scratchDirs.push(dir);
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

/** A port that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 1;
}

function statuses(result: MigrateResult): string[] {
  return result.steps.map((s) => `${s.name}: ${s.status}`);
}

async function query<T extends Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
) {
  return withClient(url, async (client) => (await client.query<T>(sql, params)).rows);
}

describe("migrate", () => {
  it("creates the target tables with legacy_rev and legacy_tick, and the arango_sync schema", async () => {
    const url = await deploymentDatabase();
    const result = await migrate({ pgUrl: url });

    expect(result.error).toBeUndefined();
    expect(statuses(result)).toEqual([
      "000001_target_tables: applied",
      "000002_arango_sync_schema: applied",
      "000003_journal_document_json: applied",
    ]);
    const columns = await query<{ table_name: string; column_name: string; data_type: string }>(
      url,
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND column_name IN ('legacy_id', 'legacy_rev', 'legacy_tick')
        ORDER BY table_name, column_name`,
    );
    expect(columns.map((c) => `${c.table_name}.${c.column_name} ${c.data_type}`)).toEqual([
      "jobs.legacy_id text",
      "jobs.legacy_rev text",
      "jobs.legacy_tick bigint",
      "optimization_results.legacy_id text",
      "optimization_results.legacy_rev text",
      "optimization_results.legacy_tick bigint",
      "resumes.legacy_id text",
      "resumes.legacy_rev text",
      "resumes.legacy_tick bigint",
    ]);
    const gin = await query<{ indexname: string }>(
      url,
      `SELECT indexname FROM pg_indexes
        WHERE schemaname = current_schema() AND indexdef LIKE '%USING gin%' ORDER BY indexname`,
    );
    expect(gin.map((i) => i.indexname)).toEqual([
      "idx_jobs_data_company",
      "idx_jobs_data_search",
      "idx_jobs_data_title",
      "idx_resumes_data_full_name",
      "idx_resumes_data_search",
      "idx_resumes_data_skills",
    ]);
    const daemonTables = await query<{ table_name: string }>(
      url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'arango_sync' ORDER BY 1`,
    );
    expect(daemonTables.map((t) => t.table_name)).toEqual([
      "checkpoint",
      "control_events",
      "cutover_reports",
      "dead_letters",
      "journal",
      "parked_rows",
      "schema_migrations",
      "staged_changes",
      "tombstones",
    ]);
    const recorded = await query<{ version: number; name: string; checksum: string }>(
      url,
      "SELECT version, name, checksum FROM arango_sync.schema_migrations ORDER BY version",
    );
    expect(recorded.map((r) => [r.version, r.name])).toEqual([
      [1, "000001_target_tables"],
      [2, "000002_arango_sync_schema"],
      [3, "000003_journal_document_json"],
    ]);
    expect(recorded.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
  });

  it("keeps the target constraints: foreign keys to user and tasks, status checks, cascades", async () => {
    const url = await deploymentDatabase();
    await migrate({ pgUrl: url });
    await withClient(url, async (client) => {
      await client.query(
        `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
         VALUES ('u1', 'U', 'u@example.com', false, now(), now())`,
      );
      const resume = await client.query<{ id: string }>(
        `INSERT INTO resumes (user_id, legacy_id, legacy_rev, legacy_tick, status)
         VALUES ('u1', 'r1', '_jt3aMJe---', 9223372036854775807, 'parsed') RETURNING id`,
      );
      await expect(
        client.query(`INSERT INTO resumes (user_id, status) VALUES ('test_user', 'parsed')`),
      ).rejects.toMatchObject({ code: "23503" });
      await expect(
        client.query(`INSERT INTO resumes (user_id, status) VALUES ('u1', 'archived')`),
      ).rejects.toMatchObject({ code: "23514", constraint: "resumes_status_check" });
      // Above 2^63 - 1 the write is refused, never wrapped (see 000001's header).
      await expect(
        client.query(`UPDATE resumes SET legacy_tick = 9223372036854775808 WHERE legacy_id = 'r1'`),
      ).rejects.toMatchObject({ code: "22003" });
      await client.query(`DELETE FROM "user" WHERE id = 'u1'`);
      const left = await client.query("SELECT 1 FROM resumes WHERE id = $1", [resume.rows[0]?.id]);
      expect(left.rowCount).toBe(0);
    });
  });

  it("stores full uint64 ticks in arango_sync and keeps control_events append-only", async () => {
    const url = await deploymentDatabase();
    await migrate({ pgUrl: url });
    await withClient(url, async (client) => {
      await client.query(
        `INSERT INTO arango_sync.journal (tick, collection, op, legacy_id, document)
         VALUES ('18446744073709551615', 'resumes', 'upsert', 'r1', '{}')`,
      );
      const { rows } = await client.query<{ tick: string }>("SELECT tick FROM arango_sync.journal");
      expect(BigInt(rows[0]?.tick ?? "0")).toBe(2n ** 64n - 1n);
      await expect(
        client.query(
          `INSERT INTO arango_sync.journal (tick, collection, op, legacy_id) VALUES ('18446744073709551616', 'resumes', 'remove', 'r1')`,
        ),
      ).rejects.toMatchObject({ code: "23514" });
      await client.query(`INSERT INTO arango_sync.control_events (kind) VALUES ('snapshot:done')`);
      await expect(client.query("DELETE FROM arango_sync.control_events")).rejects.toThrow(
        /append-only/,
      );
      await expect(client.query("TRUNCATE arango_sync.control_events")).rejects.toThrow(
        /append-only/,
      );
    });
  });

  it("is a no-op the second time", async () => {
    const url = await deploymentDatabase();
    await migrate({ pgUrl: url });
    const before = await query(url, "SELECT * FROM arango_sync.schema_migrations ORDER BY version");

    const second = await migrate({ pgUrl: url });

    expect(second.error).toBeUndefined();
    expect(statuses(second)).toEqual([
      "000001_target_tables: already-applied",
      "000002_arango_sync_schema: already-applied",
      "000003_journal_document_json: already-applied",
    ]);
    expect(
      await query(url, "SELECT * FROM arango_sync.schema_migrations ORDER BY version"),
    ).toEqual(before);
  });

  it('refuses to run when better-auth\'s "user" table is missing, and changes nothing', async () => {
    const db = await databases.empty();
    await withClient(db.url, (c) =>
      c.query("CREATE TABLE tasks (id uuid PRIMARY KEY DEFAULT gen_random_uuid())"),
    );

    const result = await migrate({ pgUrl: db.url });

    expect(result.error).toBeInstanceOf(SyncError);
    expect(result.error?.code).toBe("MIGRATION_FAILED");
    expect(result.error?.message).toMatch(/better-auth schema must exist/);
    expect(result.error?.message).toMatch(/"user" is missing/);
    expect(result.error?.message).toMatch(/run the application's own migrations first/);
    expect(result.steps.every((s) => s.status === "not-applied")).toBe(true);
    const schemas = await query(db.url, "SELECT 1 FROM pg_namespace WHERE nspname = 'arango_sync'");
    expect(schemas).toHaveLength(0);
  });

  it("names both missing tables on an empty database", async () => {
    const db = await databases.empty();
    const result = await migrate({ pgUrl: db.url });
    expect(result.error?.message).toMatch(/"user" and tasks are missing/);
  });

  it("serialises concurrent runs on the advisory lock: each file is applied exactly once", async () => {
    const url = await deploymentDatabase();
    // Hold the lock, start three runs, and check that they all wait for it.
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        MIGRATION_LOCK_NAME,
      ]);
      const runs = [migrate({ pgUrl: url }), migrate({ pgUrl: url }), migrate({ pgUrl: url })];
      await expect
        .poll(
          async () => {
            const { rows } = await holder.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_locks
                WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            );
            return Number(rows[0]?.n);
          },
          { timeout: 10_000, interval: 50 },
        )
        .toBe(3);
      await holder.query("COMMIT");

      const results = await Promise.all(runs);

      expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
      const applied = results.flatMap((r) => r.steps.filter((s) => s.status === "applied"));
      expect(applied.map((s) => s.name).sort()).toEqual([
        "000001_target_tables",
        "000002_arango_sync_schema",
        "000003_journal_document_json",
      ]);
      const alreadyApplied = results.flatMap((r) =>
        r.steps.filter((s) => s.status === "already-applied"),
      );
      expect(alreadyApplied).toHaveLength(6);
    } finally {
      await holder.end();
    }
  });

  it("applies a new file later, on top of the applied ones", async () => {
    const url = await deploymentDatabase();
    const dir = await copyOfMigrations();
    await migrate({ pgUrl: url, migrationsDir: dir });
    await writeFile(
      path.join(dir, "000900_add_note.sql"),
      "ALTER TABLE jobs ADD COLUMN note text;\n",
    );

    const result = await migrate({ pgUrl: url, migrationsDir: dir });

    expect(result.error).toBeUndefined();
    expect(statuses(result)).toEqual([
      "000001_target_tables: already-applied",
      "000002_arango_sync_schema: already-applied",
      "000003_journal_document_json: already-applied",
      "000900_add_note: applied",
    ]);
    expect(await query(url, "SELECT note FROM jobs")).toEqual([]);
  });

  it("refuses an applied file whose checksum changed, and applies nothing else", async () => {
    const url = await deploymentDatabase();
    const dir = await copyOfMigrations();
    await migrate({ pgUrl: url, migrationsDir: dir });
    const file = path.join(dir, "000002_arango_sync_schema.sql");
    await writeFile(
      file,
      `${await readFile(file, "utf8")}\nCREATE TABLE arango_sync.sneaky (x int);\n`,
    );
    await writeFile(path.join(dir, "000900_more.sql"), "CREATE TABLE more_stuff (x int);\n");

    const result = await migrate({ pgUrl: url, migrationsDir: dir });

    expect(result.error?.code).toBe("MIGRATION_FAILED");
    expect(result.error?.message).toMatch(
      /sql\/000002_arango_sync_schema\.sql was changed after it was applied/,
    );
    expect(result.error?.message).toMatch(/put the change in a new numbered file/);
    expect(await query(url, "SELECT to_regclass('more_stuff') AS t")).toEqual([{ t: null }]);
  });

  it("accepts a checkout with CRLF line endings as unchanged", async () => {
    const url = await deploymentDatabase();
    const dir = await copyOfMigrations();
    await migrate({ pgUrl: url, migrationsDir: dir });
    const file = path.join(dir, "000001_target_tables.sql");
    await writeFile(file, (await readFile(file, "utf8")).replace(/\n/g, "\r\n"));

    const result = await migrate({ pgUrl: url, migrationsDir: dir });

    expect(result.error).toBeUndefined();
  });

  it("rolls back every pending file when one fails, and says which file and line", async () => {
    const url = await deploymentDatabase();
    const dir = await copyOfMigrations();
    await writeFile(
      path.join(dir, "000900_broken.sql"),
      "CREATE TABLE fine (x int);\n\nSELECT no_such_column FROM fine;\n",
    );

    const result = await migrate({ pgUrl: url, migrationsDir: dir });

    expect(result.error?.code).toBe("MIGRATION_FAILED");
    expect(result.error?.message).toMatch(
      /^sql\/000900_broken\.sql line 3 failed: .*no_such_column/,
    );
    expect(result.error?.message).toMatch(/\(SQLSTATE 42703\)/);
    expect(result.error?.message).toMatch(/nothing was applied/);
    expect(statuses(result)).toEqual([
      "000001_target_tables: not-applied",
      "000002_arango_sync_schema: not-applied",
      "000003_journal_document_json: not-applied",
      "000900_broken: failed",
    ]);
    expect(
      await query(url, "SELECT to_regclass('resumes') AS t, to_regnamespace('arango_sync') AS s"),
    ).toEqual([{ t: null, s: null }]);
  });

  it("refuses a new file numbered below one that is already applied", async () => {
    const url = await deploymentDatabase();
    const dir = await copyOfMigrations();
    await writeFile(path.join(dir, "000900_third.sql"), "SELECT 1;\n");
    await migrate({ pgUrl: url, migrationsDir: dir });
    await cp(path.join(dir, "000900_third.sql"), path.join(dir, "000901_fourth.sql"));
    await rm(path.join(dir, "000900_third.sql"));

    const result = await migrate({ pgUrl: url, migrationsDir: dir });

    expect(result.error?.code).toBe("MIGRATION_FAILED");
    expect(result.error?.message).toMatch(
      /the database has migration 000900_third, which this version of arango-pg-sync does not have/,
    );
  });

  it("reports TARGET_UNAVAILABLE (exit 75, retryable) when nothing listens at the URL", async () => {
    const url = new URL(serverUrl());
    url.port = String(await closedPort());
    const result = await migrate({ pgUrl: url.toString() });

    expect(result.error?.code).toBe("TARGET_UNAVAILABLE");
    expect(result.error?.exitCode).toBe(75);
    expect(result.error?.retryable).toBe(true);
    expect(result.error?.message).toMatch(
      /cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/postgres: .*ECONNREFUSED/,
    );
    expect(result.error?.message).not.toContain(`:${url.password}@`);
    expect(result.steps.every((s) => s.status === "not-applied")).toBe(true);
  });

  it("reports TARGET_UNAVAILABLE when the database does not exist", async () => {
    const result = await migrate({ pgUrl: databaseUrl(serverUrl(), "no_such_database_here") });
    expect(result.error?.code).toBe("TARGET_UNAVAILABLE");
    expect(result.error?.message).toMatch(/create the database or fix the database name/);
  });
});
