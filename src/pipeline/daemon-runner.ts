/**
 * Builds the daemon from the validated config and runs it as a process: two-stage shutdown
 * (first SIGTERM/SIGINT finishes the batch in flight and commits; a second one forces), and an
 * exit code from the error model (README, "Exit codes").
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/config-schema.js";
import { requireSetting } from "../config/load-config.js";
import { ExitCode, SyncError, messageOf } from "../errors.js";
import { type CompiledMapping, loadMapping } from "../mapping/compile-mapping.js";
import { TargetStore } from "../sink/target-store.js";
import { ReplicationApi } from "../source/replication-api.js";
import { type DaemonObserver, SyncDaemon } from "./sync-daemon.js";

export interface RunOptions {
  readonly config: Config;
  readonly configPath?: string | undefined;
  /** Stop once caught up (`snapshot` command). */
  readonly once?: boolean;
  readonly observer?: DaemonObserver;
  /** Where a line per notable event goes; the structured logger replaces this when wired. */
  readonly report?: (line: string) => void;
}

export function mappingFromConfig(config: Config): CompiledMapping {
  const loaded = loadMapping((config as Record<string, unknown>)["mapping"]);
  if (!loaded.ok) {
    throw new SyncError("CONFIG_INVALID", `invalid mapping:\n${loaded.problems.join("\n")}`);
  }
  return loaded.mapping;
}

/**
 * A syncerId that stays the same across restarts of the same mirror (ArangoDB keeps the WAL for
 * a registered id): derived from the source database and the target database, unless configured.
 */
export function defaultSyncerId(sourceDatabase: string, pgUrl: string): string {
  let target = pgUrl;
  try {
    const url = new URL(pgUrl);
    target = `${url.hostname}:${url.port}${url.pathname}`;
  } catch {
    // Not a URL: hash it as given.
  }
  const digest = createHash("sha256")
    .update(`arango-pg-sync\0${sourceDatabase}\0${target}`)
    .digest();
  // 63 bits, never 0: a valid syncerId (SyncerId.cpp) on every server.
  return ((digest.readBigUInt64BE(0) >> 1n) + 1n).toString();
}

export async function runDaemon(options: RunOptions): Promise<number> {
  const { config } = options;
  const hint = options.configPath === undefined ? {} : { configPath: options.configPath };
  const arangoUrl = requireSetting(config.arango.url, "arango.url", hint);
  const database = requireSetting(config.arango.database, "arango.database", hint);
  const pgUrl = requireSetting(config.postgres.url, "postgres.url", { flag: "--pg-url", ...hint });
  const mapping = mappingFromConfig(config);
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));

  const api = new ReplicationApi(
    {
      url: arangoUrl,
      database,
      username: config.arango.username,
      password: config.arango.password,
    },
    {
      syncerId: config.sync.syncerId ?? defaultSyncerId(database, pgUrl),
      clientInfo: "arango-pg-sync",
    },
  );
  const store = await TargetStore.open({ url: pgUrl, mapping, journal: config.sync.journal });
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      report(`${signal}: finishing the batch in flight, then stopping (send again to force)`);
      controller.abort(new SyncError("USAGE", `stopped by ${signal}`));
      return;
    }
    report(`${signal} again: stopping now; the last committed checkpoint stays valid`);
    process.exit(ExitCode.internal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    const daemon = new SyncDaemon(
      api,
      store,
      {
        sourceDatabase: database,
        mapping,
        journal: config.sync.journal,
        tailChunkSize: config.sync.tailChunkSize,
        dumpChunkSize: config.sync.dumpChunkSize,
        batchTtlSeconds: config.sync.batchTtlSeconds,
        maxBatchChanges: config.sync.maxBatchChanges,
        maxOperationsPerUnit: config.sync.maxOperationsPerUnit,
        retryBudget: config.sync.retryBudget,
        parkedRetryIntervalMs: config.sync.parkedRetrySeconds * 1000,
        stopWhenCaughtUp: options.once === true,
      },
      options.observer ?? reportingObserver(report),
    );
    await daemon.run(controller.signal);
    return ExitCode.ok;
  } catch (error) {
    if (
      controller.signal.aborted &&
      !(error instanceof SyncError && !error.retryable && error.code !== "USAGE")
    ) {
      return ExitCode.ok;
    }
    throw error;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await store.close();
    api.close();
  }
}

/** Plain lines for the events an operator must see, until the structured logger is wired. */
function reportingObserver(report: (line: string) => void): DaemonObserver {
  return {
    phase: (phase) => report(`phase: ${phase}`),
    gap: ({ from }) => report(`WAL gap: tick ${from} is no longer on the server; re-snapshotting`),
    snapshotProgress: ({ collection, documents, done }) => {
      if (done) report(`snapshot: ${collection} done (${documents} documents)`);
    },
    sourceRetry: (error, attempt, waitMs) =>
      report(`source error (attempt ${attempt}, retrying in ${waitMs} ms): ${messageOf(error)}`),
  };
}
