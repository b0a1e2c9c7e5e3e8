import { Client } from "pg";
import { SyncError, messageOf } from "../errors.js";

/**
 * `host:port/database` of a PostgreSQL URL, for messages: never the user or the password
 * (invariant 7).
 */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default database)";
    return `${parsed.hostname}:${parsed.port || "5432"}/${database}`;
  } catch {
    return "the configured PostgreSQL server";
  }
}

/** The SQLSTATE of a PostgreSQL error, or the errno code (`ECONNREFUSED`) of a socket error. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = error.code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

const SOCKET_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

/**
 * Whether an error means "PostgreSQL cannot be reached right now" (worth a retry) rather than
 * "PostgreSQL refused what we sent". Class 08 is connection exceptions; 57P01-57P03 are
 * shutdowns and "cannot connect now" during startup; 53300 is too many connections. node-postgres
 * reports a connection dropped mid-query without a code, only with this message.
 */
export function isConnectionError(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined) {
    return (
      SOCKET_ERRORS.has(code) ||
      code.startsWith("08") ||
      code === "57P01" ||
      code === "57P02" ||
      code === "57P03" ||
      code === "53300"
    );
  }
  return /Connection terminated|timeout expired/i.test(messageOf(error));
}

/**
 * Turns an error met while connecting or talking to PostgreSQL into the operator-facing
 * TARGET_UNAVAILABLE error, or returns undefined when it is not a connection problem.
 */
export function targetUnavailable(error: unknown, url: string): SyncError | undefined {
  const target = describeTarget(url);
  const code = errorCode(error);
  if (code === "28P01" || code === "28000") {
    return new SyncError(
      "TARGET_UNAVAILABLE",
      `PostgreSQL at ${target} refused the login: ${messageOf(error)}; check the user and password in PG_URL (or --pg-url, postgres.url)`,
      { cause: error },
    );
  }
  if (code === "3D000") {
    return new SyncError(
      "TARGET_UNAVAILABLE",
      `PostgreSQL at ${target}: ${messageOf(error)}; create the database or fix the database name in PG_URL`,
      { cause: error },
    );
  }
  if (isConnectionError(error)) {
    return new SyncError(
      "TARGET_UNAVAILABLE",
      `cannot reach PostgreSQL at ${target}: ${messageOf(error) || (code ?? "connection failed")}; check that the server is running and PG_URL (or --pg-url, postgres.url) points to it`,
      { cause: error, retryable: true },
    );
  }
  return undefined;
}

export interface ConnectOptions {
  /** Shows in pg_stat_activity, so an operator can tell our sessions apart. */
  applicationName: string;
  connectTimeoutMs?: number;
}

/** Opens one connection; failures become TARGET_UNAVAILABLE with what to check next. */
export async function connectTarget(url: string, options: ConnectOptions): Promise<Client> {
  const client = new Client({
    connectionString: url,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // An idle connection that the server drops emits 'error'; without a listener Node would
  // crash the process. The next query on it fails and is classified there.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw (
      targetUnavailable(error, url) ??
      new SyncError(
        "TARGET_UNAVAILABLE",
        `cannot connect to PostgreSQL at ${describeTarget(url)}: ${messageOf(error)}`,
        { cause: error },
      )
    );
  }
}
