import { z } from "zod";

/** Used when `--config` is not given; a missing file at this path is not an error. */
export const DEFAULT_CONFIG_PATH = "config/atspro.yaml";

const postgresUrl = z.string().refine(
  (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === "postgres:" || protocol === "postgresql:";
    } catch {
      return false;
    }
  },
  // The value itself is never echoed: it usually contains the password.
  { message: "must be a postgres:// or postgresql:// URL" },
);

const httpUrl = z.string().refine(
  (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === "http:" || protocol === "https:";
    } catch {
      return false;
    }
  },
  { message: "must be an http:// or https:// URL" },
);

/** Environment variables hold strings; a port read from one is converted before validation. */
const port = z.preprocess(
  (value) => (typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value),
  z.number().int().min(1).max(65535),
);

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * The config file and its env overrides (DESIGN.md §4). Sections are strict, so a misspelt key
 * is reported instead of silently ignored; the top level is loose because other sections
 * (the mapping) are validated by the modules that own them. Connection settings are optional
 * here: each command asks for the ones it needs (`requireSetting`), so `migrate` runs with a
 * PostgreSQL URL alone.
 */
export const configSchema = z
  .looseObject({
    arango: z
      .strictObject({
        url: httpUrl.optional().describe("ArangoDB endpoint, e.g. http://arangodb:8529"),
        database: z.string().min(1).optional().describe("ArangoDB database to mirror, e.g. atspro"),
        username: z.string().min(1).default("root").describe("ArangoDB user"),
        password: z
          .string()
          .optional()
          .describe("ArangoDB password (secret: prefer ARANGO_PASSWORD_FILE)"),
      })
      .prefault({})
      .describe("The source ArangoDB server"),
    postgres: z
      .strictObject({
        url: postgresUrl
          .optional()
          .describe("PostgreSQL connection URL, e.g. postgres://sync:secret@db:5432/atspro"),
      })
      .prefault({})
      .describe("The target PostgreSQL database"),
    http: z
      .strictObject({
        host: z
          .string()
          .min(1)
          .default("127.0.0.1")
          .describe("Address the admin HTTP server listens on; loopback unless set"),
        port: port
          .default(9464)
          .describe("Port of the admin HTTP server (metrics, status, admin API)"),
        adminToken: z
          .string()
          .min(16, { message: "must be at least 16 characters (e.g. openssl rand -hex 32)" })
          .optional()
          .describe(
            "Bearer token required by every admin call that changes state (secret: prefer SYNC_ADMIN_TOKEN_FILE)",
          ),
      })
      .prefault({})
      .describe("The admin HTTP server"),
    sync: z
      .strictObject({
        syncerId: z
          .string()
          .regex(/^[1-9][0-9]{0,19}$/, { message: "must be a decimal number without leading zero" })
          .optional()
          .describe(
            "Identity this daemon registers with ArangoDB so the WAL it still needs is kept; default: derived from the source database and the PostgreSQL database, stable across restarts",
          ),
        journal: z
          .boolean()
          .default(true)
          .describe("Record every change in arango_sync.journal (needed by `replay`)"),
        tailChunkSize: z
          .number()
          .int()
          .min(16384)
          .default(512 * 1024)
          .describe("Bytes asked per wal/tail response (the server raises anything below 16384)"),
        dumpChunkSize: z
          .number()
          .int()
          .min(16384)
          .default(4 * 1024 * 1024)
          .describe("Bytes asked per snapshot dump response"),
        batchTtlSeconds: z
          .number()
          .int()
          .min(30)
          .default(600)
          .describe("Lifetime of the snapshot batch on the server; extended every quarter of it"),
        heapGrowthPercent: z
          .number()
          .int()
          .min(0)
          .max(400)
          .default(50)
          .describe(
            "How far Node's heap may grow past its live size before the next full collection, in percent; 0 leaves V8's own heuristics (which let it grow up to 4 times); a --heap-growing-percent given to Node wins",
          ),
        snapshotConnections: z
          .number()
          .int()
          .min(1)
          .max(8)
          .default(2)
          .describe(
            "PostgreSQL connections snapshot chunks are committed on side by side (each chunk is still one transaction, and they take effect in order)",
          ),
        maxBatchChanges: z
          .number()
          .int()
          .min(1)
          .default(500)
          .describe("Most changes committed in one PostgreSQL transaction while catching up"),
        maxOperationsPerUnit: z
          .number()
          .int()
          .min(100)
          .default(10000)
          .describe("Operations of one source transaction held in memory before it is staged"),
        retryBudget: z
          .number()
          .int()
          .min(0)
          .default(10)
          .describe("Consecutive failed source calls before the daemon stops with exit code 69"),
        parkedRetrySeconds: z
          .number()
          .min(0)
          .default(30)
          .describe(
            "How often rows waiting for a parent are tried again and expired ones dead-lettered",
          ),
        heartbeat: z
          .strictObject({
            collection: z
              .string()
              .regex(/^[A-Za-z][A-Za-z0-9_-]{0,255}$/, {
                message: "must be an ArangoDB collection name (not a system collection)",
              })
              .describe(
                "ArangoDB collection the heartbeat document is written to; created when missing, and it must not be mapped",
              ),
            intervalSeconds: z
              .number()
              .min(0.1)
              .default(10)
              .describe("Seconds between heartbeats; lag stays below twice this while idle"),
          })
          .optional()
          .describe(
            "Optional heartbeat: a tiny document written to ArangoDB every interval, so lag and latency stay measured while the application writes nothing",
          ),
      })
      .prefault({})
      .describe("How the daemon reads, batches and applies"),
    changeStream: z
      .strictObject({
        slot: z
          .string()
          .regex(/^[a-z0-9_]{1,63}$/, {
            message: "must be 1-63 lower-case letters, digits or underscores",
          })
          .default("arango_pg_sync")
          .describe(
            "Logical replication slot the daemon reads PostgreSQL's change stream from (unique on the server)",
          ),
        publication: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, {
            message: "must be a lower-case identifier of at most 63 characters",
          })
          .default("arango_pg_sync")
          .describe("Publication on the mirrored tables and arango_sync.checkpoint"),
      })
      .prefault({})
      .describe(
        "PostgreSQL change stream (foreign writes, end-to-end latency): read by `run` when its slot exists; create it with `migrate --with-change-stream` or `change-stream create`, drop it with `change-stream drop`",
      ),
    logLevel: z.enum(LOG_LEVELS).default("info").describe("Minimum level of log lines"),
  })
  .describe("arango-pg-sync configuration");

export type Config = z.infer<typeof configSchema>;

/** What the config file, env and flags may set before validation (all strings as given). */
export interface ConfigOverrides {
  arango?: { url?: string; database?: string; username?: string; password?: string };
  postgres?: { url?: string };
  http?: { host?: string; port?: string | number; adminToken?: string };
  logLevel?: string;
}
