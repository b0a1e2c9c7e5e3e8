import type { Client } from "pg";
import { SyncError, messageOf } from "../errors.js";
import {
  DEFAULT_MIGRATIONS_DIR,
  readMigrationFiles,
  type MigrationFile,
} from "./migration-files.js";
import {
  connectTarget,
  describeTarget,
  errorCode,
  targetUnavailable,
} from "./target-connection.js";

/**
 * What happened to one migration file in a run:
 * - `applied`: run and committed now;
 * - `already-applied`: recorded by an earlier run, checksum unchanged;
 * - `failed`: this file raised the error that rolled the run back;
 * - `not-applied`: pending, and not committed (the run stopped or rolled back).
 */
export type MigrationStepStatus = "applied" | "already-applied" | "failed" | "not-applied";

export interface MigrationStep {
  readonly version: number;
  readonly name: string;
  readonly status: MigrationStepStatus;
  /** Time spent running the file, for `applied` and `failed` steps. */
  readonly durationMs?: number;
}

/** Like kysely's Migrator: every step is reported, and an error ends the run instead of a throw. */
export interface MigrateResult {
  readonly steps: readonly MigrationStep[];
  readonly error?: SyncError;
}

export interface MigrateOptions {
  readonly pgUrl: string;
  /** Defaults to the package's `sql/`. */
  readonly migrationsDir?: string;
}

/** Runs of migrate against one database wait for each other on this advisory lock. */
export const MIGRATION_LOCK_NAME = "arango_pg_sync:migrate";

/** gen_random_uuid() is built in from 13 on. */
const MINIMUM_SERVER_VERSION = 130000;

/** The better-auth and application tables that the target tables reference. */
const REQUIRED_TABLES = ['"user"', "tasks"] as const;

/** A row of arango_sync.schema_migrations. */
export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

/**
 * Brings a database to the latest schema: all pending `sql/NNNNNN_*.sql` files in one
 * transaction, so a failure leaves the database as it was. Concurrent runs serialise on a
 * transaction-scoped advisory lock; the second one then finds everything applied.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  let files: MigrationFile[];
  try {
    files = await readMigrationFiles(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  } catch (error) {
    return { steps: [], error: asSyncError(error, options.pgUrl) };
  }
  let client: Client;
  try {
    client = await connectTarget(options.pgUrl, { applicationName: "arango-pg-sync migrate" });
  } catch (error) {
    return { steps: files.map(notAppliedStep), error: asSyncError(error, options.pgUrl) };
  }

  const steps = new Map<number, MigrationStep>(files.map((f) => [f.version, notAppliedStep(f)]));
  let current: MigrationFile | undefined;
  let startedAt = 0;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      MIGRATION_LOCK_NAME,
    ]);
    await checkServerVersion(client);
    await checkRequiredTables(client, options.pgUrl);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS arango_sync;
      CREATE TABLE IF NOT EXISTS arango_sync.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const applied = await readApplied(client);
    const pending = planMigrations(files, applied);
    for (const file of files) {
      if (!pending.includes(file)) {
        steps.set(file.version, {
          version: file.version,
          name: file.name,
          status: "already-applied",
        });
      }
    }
    const durations = new Map<number, number>();
    for (const file of pending) {
      current = file;
      startedAt = performance.now();
      await client.query(file.sql);
      current = undefined;
      await client.query(
        "INSERT INTO arango_sync.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        [file.version, file.name, file.checksum],
      );
      durations.set(file.version, Math.round(performance.now() - startedAt));
    }
    await client.query("COMMIT");
    for (const file of pending) {
      const durationMs = durations.get(file.version) ?? 0;
      steps.set(file.version, {
        version: file.version,
        name: file.name,
        status: "applied",
        durationMs,
      });
    }
    return { steps: [...steps.values()] };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    if (current !== undefined) {
      steps.set(current.version, {
        version: current.version,
        name: current.name,
        status: "failed",
        durationMs: Math.round(performance.now() - startedAt),
      });
    }
    const failure =
      current === undefined || targetUnavailable(error, options.pgUrl) !== undefined
        ? asSyncError(error, options.pgUrl)
        : fileFailed(current, error);
    return { steps: [...steps.values()], error: failure };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Which files still have to run, in order. Refuses, rather than guessing, when the database and
 * `sql/` disagree: an applied file was edited, the database knows a migration this version does
 * not have, or a new file sorts before one that is already applied (forward-only).
 */
export function planMigrations(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
): MigrationFile[] {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const record of applied) {
    const file = byVersion.get(record.version);
    if (file === undefined) {
      throw new SyncError(
        "MIGRATION_FAILED",
        `the database has migration ${record.name}, which this version of arango-pg-sync does not have; use the version that applied it, or a newer one`,
      );
    }
    if (file.checksum !== record.checksum) {
      throw new SyncError(
        "MIGRATION_FAILED",
        `sql/${file.name}.sql was changed after it was applied (checksum ${short(record.checksum)} in the database, ${short(file.checksum)} on disk); migrations are forward-only: restore the file and put the change in a new numbered file`,
      );
    }
  }
  const appliedVersions = new Set(applied.map((r) => r.version));
  const highest = Math.max(0, ...appliedVersions);
  const pending = files.filter((f) => !appliedVersions.has(f.version));
  const late = pending.find((f) => f.version < highest);
  if (late !== undefined) {
    throw new SyncError(
      "MIGRATION_FAILED",
      `sql/${late.name}.sql is not applied but a later migration (${String(highest).padStart(6, "0")}) is; migrations are forward-only: renumber it after the last applied one`,
    );
  }
  return pending;
}

async function checkServerVersion(client: Client): Promise<void> {
  const { rows } = await client.query<{ version: string; number: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS number",
  );
  const row = rows[0];
  if (row !== undefined && Number(row.number) < MINIMUM_SERVER_VERSION) {
    throw new SyncError(
      "MIGRATION_FAILED",
      `PostgreSQL ${row.version} is too old: the target tables need PostgreSQL 13 or newer; upgrade the server`,
    );
  }
}

/**
 * The target tables reference better-auth's "user" and the application's tasks by foreign key;
 * creating them here would shadow the real ones, so their absence stops the run. to_regclass
 * resolves through search_path, exactly as the unqualified REFERENCES in the migrations will.
 */
async function checkRequiredTables(client: Client, url: string): Promise<void> {
  const { rows } = await client.query<{ name: string; found: boolean; search_path: string }>(
    `SELECT name, to_regclass(name) IS NOT NULL AS found, current_setting('search_path') AS search_path
       FROM unnest($1::text[]) AS name`,
    [REQUIRED_TABLES],
  );
  const missing = rows.filter((r) => !r.found).map((r) => r.name);
  if (missing.length > 0) {
    const searchPath = rows[0]?.search_path ?? "";
    throw new SyncError(
      "MIGRATION_FAILED",
      `the better-auth schema must exist before arango-pg-sync migrates: ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} missing in ${describeTarget(url)} (search_path ${searchPath}); run the application's own migrations first (better-auth creates "user", the app creates tasks), then run migrate again`,
    );
  }
}

async function readApplied(client: Client): Promise<AppliedMigration[]> {
  const { rows } = await client.query<AppliedMigration>(
    "SELECT version, name, checksum FROM arango_sync.schema_migrations ORDER BY version",
  );
  return rows;
}

function notAppliedStep(file: MigrationFile): MigrationStep {
  return { version: file.version, name: file.name, status: "not-applied" };
}

function fileFailed(file: MigrationFile, error: unknown): SyncError {
  const code = errorCode(error);
  const line = lineOf(file.sql, error);
  const where = line === undefined ? "" : ` line ${line}`;
  return new SyncError(
    "MIGRATION_FAILED",
    `sql/${file.name}.sql${where} failed: ${messageOf(error)}${code === undefined ? "" : ` (SQLSTATE ${code})`}; nothing was applied, because all pending migrations run in one transaction: fix the cause and run migrate again`,
    { cause: error },
  );
}

/** PostgreSQL reports a 1-based character position in the statement text; turn it into a line. */
function lineOf(sql: string, error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("position" in error)) return undefined;
  const position = Number(error.position);
  if (!Number.isInteger(position) || position < 1) return undefined;
  return sql.slice(0, position - 1).split("\n").length;
}

function asSyncError(error: unknown, url: string): SyncError {
  if (error instanceof SyncError) return error;
  return (
    targetUnavailable(error, url) ??
    new SyncError("MIGRATION_FAILED", `migration failed: ${messageOf(error)}`, { cause: error })
  );
}

function short(checksum: string): string {
  return checksum.slice(0, 12);
}
