import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SyncError, messageOf } from "../errors.js";

/** One forward-only migration: `sql/NNNNNN_name.sql`. */
export interface MigrationFile {
  /** The number in the file name; applied in ascending order. */
  readonly version: number;
  /** The file name without `.sql`, e.g. `000001_target_tables`. */
  readonly name: string;
  readonly path: string;
  readonly sql: string;
  /** sha256 of the text, line endings normalised (see `migrationChecksum`). */
  readonly checksum: string;
}

const FILE_NAME = /^(\d{6})_([a-z0-9_]+)\.sql$/;

/** `sql/` of the package: two levels up from both `src/sink/` and `dist/sink/`. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/", import.meta.url));

/**
 * The checksum recorded for an applied file. Line endings are normalised first so that a
 * checkout with CRLF line endings (git autocrlf) is not mistaken for an edited migration.
 */
export function migrationChecksum(sql: string): string {
  return createHash("sha256").update(sql.replace(/\r\n/g, "\n"), "utf8").digest("hex");
}

/**
 * Reads every `*.sql` file of `dir`, sorted by version. A `.sql` file that does not follow the
 * naming scheme, or two files with the same number, are refused: either would make the order
 * of the migrations depend on chance.
 */
export async function readMigrationFiles(
  dir: string = DEFAULT_MIGRATIONS_DIR,
): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new SyncError(
      "MIGRATION_FAILED",
      `cannot read the migrations directory ${dir}: ${messageOf(error)}; reinstall arango-pg-sync`,
      { cause: error },
    );
  }
  const files: MigrationFile[] = [];
  const byVersion = new Map<number, string>();
  for (const fileName of names.filter((n) => n.endsWith(".sql")).sort()) {
    const match = FILE_NAME.exec(fileName);
    if (match === null) {
      throw new SyncError(
        "MIGRATION_FAILED",
        `${path.join(dir, fileName)} is not named NNNNNN_name.sql (six digits, lower-case name); rename it`,
      );
    }
    const version = Number(match[1]);
    const clash = byVersion.get(version);
    if (clash !== undefined) {
      throw new SyncError(
        "MIGRATION_FAILED",
        `${fileName} and ${clash} have the same number ${match[1]}; give the newer one the next free number`,
      );
    }
    byVersion.set(version, fileName);
    const filePath = path.join(dir, fileName);
    const sql = await readFile(filePath, "utf8");
    files.push({
      version,
      name: fileName.slice(0, -".sql".length),
      path: filePath,
      sql,
      checksum: migrationChecksum(sql),
    });
  }
  return files.sort((a, b) => a.version - b.version);
}
