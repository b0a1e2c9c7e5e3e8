/**
 * `arango-pg-sync verify [--full] [--json]`: the full check against the configured ArangoDB and
 * PostgreSQL, printed as a table or as JSON; exit 0 when consistent, 1 on drift (DESIGN.md §4).
 * The result also goes through the `verify:checked` event to the logger (stderr), as it does
 * in the daemon.
 */
import type { Config } from "../config/config-schema.js";
import { requireSetting } from "../config/load-config.js";
import { ExitCode } from "../errors.js";
import { attachLogging, createLogger } from "../observe/logger.js";
import { secretsOf } from "../observe/redact.js";
import { SyncEvents } from "../observe/sync-events.js";
import { defaultSyncerId, mappingFromConfig } from "../pipeline/daemon-runner.js";
import { DocumentLookup } from "../source/document-lookup.js";
import { ReplicationApi } from "../source/replication-api.js";
import { formatVerification, verificationJson } from "./format-verification.js";
import { type MirrorVerification, verifyMirror } from "./verify-mirror.js";

export interface VerifyCommandOptions {
  readonly json: boolean;
  readonly write: (text: string) => void;
}

export async function verifyCommand(
  config: Config,
  configPath: string | undefined,
  options: VerifyCommandOptions,
): Promise<number> {
  const result = await verifyConfigured(config, configPath);
  options.write(
    options.json
      ? `${JSON.stringify(verificationJson(result), null, 2)}\n`
      : formatVerification(result),
  );
  return result.verdict === "consistent" ? ExitCode.ok : ExitCode.noGo;
}

/** The full check with the connections and mapping of `config`. */
export async function verifyConfigured(
  config: Config,
  configPath?: string,
): Promise<MirrorVerification> {
  const hint = configPath === undefined ? {} : { configPath };
  const arangoUrl = requireSetting(config.arango.url, "arango.url", hint);
  const database = requireSetting(config.arango.database, "arango.database", hint);
  const pgUrl = requireSetting(config.postgres.url, "postgres.url", { flag: "--pg-url", ...hint });
  const mapping = mappingFromConfig(config);
  const connection = {
    url: arangoUrl,
    database,
    username: config.arango.username,
    password: config.arango.password,
  };
  const logger = createLogger({
    level: config.logLevel,
    secrets: secretsOf(config),
    destination: { write: (line: string) => process.stderr.write(line) },
  });
  const events = new SyncEvents();
  const detach = attachLogging(events, logger);
  // Its own identity: reading for the check must not move the daemon's WAL registration.
  const api = new ReplicationApi(connection, {
    syncerId: defaultSyncerId(`${database}/verify`, pgUrl),
    clientInfo: "arango-pg-sync verify",
  });
  const documents = new DocumentLookup(connection);
  try {
    return await verifyMirror({
      api,
      documents,
      pgUrl,
      mapping,
      sourceDatabase: database,
      dumpChunkSize: config.sync.dumpChunkSize,
      tailChunkSize: config.sync.tailChunkSize,
      batchTtlSeconds: config.sync.batchTtlSeconds,
      events,
    });
  } finally {
    detach();
    api.close();
    documents.close();
  }
}
