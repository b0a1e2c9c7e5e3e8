/**
 * Plain SQL against a PostgreSQL server, for setting up what the daemon does not own: the demo
 * creates its database and the application's tables (`sql/demo/`) with it. The daemon's own
 * schema goes through migrate.ts, never through here.
 */
import { SyncError, messageOf } from "../errors.js";
import { connectTarget, describeTarget, errorCode } from "./target-connection.js";

/**
 * Runs `sql` on its own connection: a script of several statements when there are no
 * parameters (the simple query protocol allows that), else one statement with `$n` parameters.
 */
export async function runSql(
  url: string,
  sql: string,
  parameters: readonly unknown[] = [],
  applicationName = "arango-pg-sync",
): Promise<void> {
  const client = await connectTarget(url, { applicationName });
  try {
    await client.query(sql, parameters.length === 0 ? undefined : [...parameters]);
  } catch (error) {
    const code = errorCode(error);
    throw new SyncError(
      "TARGET_REJECTED",
      `PostgreSQL at ${describeTarget(url)} refused: ${messageOf(error)}${code === undefined ? "" : ` (SQLSTATE ${code})`}`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The server's version (`server_version`), from one connection attempt: a server that is still
 * starting fails with TARGET_UNAVAILABLE (retryable), so a caller can poll until it is ready.
 */
export async function serverVersion(url: string, connectTimeoutMs = 2_000): Promise<string> {
  const client = await connectTarget(url, {
    applicationName: "arango-pg-sync",
    connectTimeoutMs,
  });
  try {
    const { rows } = await client.query<{ version: string }>(
      "SELECT current_setting('server_version') AS version",
    );
    return rows[0]?.version ?? "unknown";
  } finally {
    await client.end().catch(() => undefined);
  }
}
