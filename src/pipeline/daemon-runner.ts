/**
 * Builds the daemon from the validated config and runs it as a process: the composition root of
 * docs/observability.md (events → metrics, logs, health, `/status`; the admin server; the
 * heartbeat; the PostgreSQL change-stream monitor), two-stage shutdown (first SIGTERM/SIGINT
 * finishes the batch in flight and commits; a second one forces), and an exit code from the
 * error model (README, "Exit codes").
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { DestinationStream } from "pino";
import type { Config } from "../config/config-schema.js";
import { requireSetting } from "../config/load-config.js";
import { ExitCode, SyncError, messageOf } from "../errors.js";
import { type CompiledMapping, loadMapping } from "../mapping/compile-mapping.js";
import { type AdminServer, createAdminServer } from "../http/admin-server.js";
import { ChangeStreamMonitor } from "../observe/change-stream-monitor.js";
import { HealthState } from "../observe/health.js";
import { type Logger, attachLogging, createLogger } from "../observe/logger.js";
import { attachMetrics, createMetrics } from "../observe/metrics.js";
import { createRedactor, secretsOf } from "../observe/redact.js";
import { renderStatus } from "../observe/status.js";
import { SyncEvents, sourceErrorKind } from "../observe/sync-events.js";
import { CHECKPOINT_RELATION, readChangeStreamSlot } from "../sink/change-stream-slot.js";
import { TargetStore } from "../sink/target-store.js";
import { HeartbeatWriter } from "../source/heartbeat-writer.js";
import { type ArangoConnection, ReplicationApi } from "../source/replication-api.js";
import { BacklogRecount } from "./backlog-recount.js";
import { DaemonStatus } from "./daemon-status.js";
import { reportToEvents } from "./report-to-events.js";
import { type DaemonObserver, SyncDaemon } from "./sync-daemon.js";

export interface RunOptions {
  readonly config: Config;
  readonly configPath?: string | undefined;
  /** Stop once caught up (`snapshot` command). */
  readonly once?: boolean;
  /** Called alongside the daemon's own reporting (tests, embedding). */
  readonly observer?: DaemonObserver;
  /** Where log lines go, one JSON object each without its newline; stdout when not given. */
  readonly report?: (line: string) => void;
  /** Stops the daemon as a first SIGTERM does (embedding, tests). */
  readonly signal?: AbortSignal;
}

/** How often `wal/range` is asked for the WAL-retention headroom. */
export const WAL_RANGE_INTERVAL_MS = 30_000;

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
  const heartbeat = config.sync.heartbeat;
  if (heartbeat !== undefined && mapping.forCollection(heartbeat.collection) !== undefined) {
    throw new SyncError(
      "CONFIG_INVALID",
      `sync.heartbeat.collection ${heartbeat.collection} is mapped: the heartbeat needs a collection of its own, one the mapping does not list`,
    );
  }
  const once = options.once === true;
  const syncerId = config.sync.syncerId ?? defaultSyncerId(database, pgUrl);
  const tables = mapping.tables.map((t) => t.table);

  // Observability first, so that everything from here on is reported (docs/observability.md).
  const secrets = secretsOf(config);
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    ...(options.report === undefined ? {} : { destination: lineDestination(options.report) }),
  });
  const log = logger.child({ module: "daemon" });
  const events = new SyncEvents((error, event) => {
    log.error({ err: error, event }, "event listener failed");
  });
  const metrics = createMetrics({
    collections: mapping.collections,
    tables,
    version: packageVersion(),
  });
  const health = new HealthState();
  const status = new DaemonStatus(mapping);
  const detach = [
    attachMetrics(events, metrics),
    attachLogging(events, logger),
    health.attach(events),
    status.attach(events),
  ];
  const redactor = createRedactor(secrets);
  const admin = createAdminServer({
    host: config.http.host,
    port: config.http.port,
    adminToken: config.http.adminToken,
    logger,
    metrics,
    health,
    status: () => renderStatus(status, { lagSeconds: () => metrics.lagSeconds(), redactor }),
  });
  registerPlannedRoutes(admin);

  const controller = new AbortController();
  const stop = (reason: string): void => {
    if (controller.signal.aborted) return;
    // Readiness goes to 503 before the last batch is finished.
    events.emit("pipeline:stopping", { reason });
    controller.abort(new SyncError("USAGE", `stopped: ${reason}`));
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      log.info({ signal }, "finishing the batch in flight, then stopping (send again to force)");
      stop(signal);
      return;
    }
    log.warn({ signal }, "stopping now; the last committed checkpoint stays valid");
    process.exit(ExitCode.internal);
  };
  const onAbort = (): void => {
    stop("stop requested");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  const cleanups: { what: string; run: () => Promise<void> | void }[] = [];
  events.emit("pipeline:phase", { phase: "starting", previous: undefined });
  try {
    if (await listenAdmin(admin, config.http, once, log)) {
      cleanups.push({ what: "closing the admin server", run: () => admin.close() });
    }
    const connection: ArangoConnection = {
      url: arangoUrl,
      database,
      username: config.arango.username,
      password: config.arango.password,
    };
    const api = new ReplicationApi(connection, { syncerId, clientInfo: "arango-pg-sync" });
    cleanups.push({ what: "closing the ArangoDB connection", run: () => api.close() });
    const store = await TargetStore.open({ url: pgUrl, mapping, journal: config.sync.journal });
    cleanups.push({ what: "closing the PostgreSQL connection", run: () => store.close() });
    events.emit("target:connected", {});
    // Status and recounts have a connection of their own: the loop's is never shared.
    const side = await TargetStore.open({
      url: pgUrl,
      mapping,
      journal: false,
      applicationName: "arango-pg-sync status",
    });
    cleanups.push({ what: "closing the status connection", run: () => side.close() });
    const recount = new BacklogRecount(side, events, log);
    cleanups.push({ what: "finishing a recount", run: () => recount.settled() });
    recount.request();
    await listUnmappedCollections(api, mapping, status, events);

    if (heartbeat !== undefined && !once) {
      const writer = startHeartbeat(connection, heartbeat, syncerId, events);
      cleanups.push({ what: "stopping the heartbeat", run: () => writer.stop() });
    }
    if (!once) {
      const monitor = await startChangeStream({ config, pgUrl, tables, events, logger, log });
      if (monitor !== undefined) {
        cleanups.push({ what: "stopping the change-stream monitor", run: () => monitor.stop() });
      }
    }

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
        snapshotConnections: config.sync.snapshotConnections,
        retryBudget: config.sync.retryBudget,
        parkedRetryIntervalMs: config.sync.parkedRetrySeconds * 1000,
        stopWhenCaughtUp: once,
      },
      alongside(
        reportToEvents({
          events,
          mapping,
          countDocuments: (collection) => api.collectionCount(collection),
          recount: () => {
            recount.request();
          },
        }),
        options.observer,
      ),
    );
    const walRange = watchWalRange(api, events, () => daemon.appliedTick);
    cleanups.push({ what: "stopping the wal/range checks", run: () => walRange.stop() });
    await daemon.run(controller.signal);
    return ExitCode.ok;
  } catch (error) {
    if (
      controller.signal.aborted &&
      !(error instanceof SyncError && !error.retryable && error.code !== "USAGE")
    ) {
      return ExitCode.ok;
    }
    reportFailure(events, log, error);
    throw error;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    options.signal?.removeEventListener("abort", onAbort);
    stop(once ? "caught up" : "the daemon stopped");
    for (const step of cleanups.reverse()) {
      try {
        await step.run();
      } catch (error) {
        log.warn({ error: messageOf(error) }, `${step.what} failed`);
      }
    }
    for (const off of detach) off();
  }
}

/**
 * Starts the admin server. `run` cannot do without it (readiness, metrics): a port in use ends
 * the start with a clear message. `snapshot` is a one-shot load that works without it.
 */
async function listenAdmin(
  admin: AdminServer,
  http: Config["http"],
  once: boolean,
  log: Logger,
): Promise<boolean> {
  try {
    await admin.listen();
    return true;
  } catch (error) {
    const problem = `the admin HTTP server cannot listen on ${http.host}:${http.port}: ${messageOf(error)}`;
    if (once) {
      log.warn(`${problem}; loading without it`);
      return false;
    }
    await admin.close().catch(() => undefined);
    throw new SyncError(
      "USAGE",
      `${problem}; free the port or choose another with SYNC_HTTP_PORT (http.port)`,
      { cause: error },
    );
  }
}

/**
 * The state-changing routes of DESIGN.md §3 whose commands are not built yet: behind the admin
 * token like the real ones will be, and answering 501 until then.
 */
function registerPlannedRoutes(admin: AdminServer): void {
  const notBuilt = (what: string) => (_request: unknown, reply: NotBuiltReply) =>
    Promise.resolve(
      reply.code(501).send({ error: `${what} is not built yet in this version of arango-pg-sync` }),
    );
  admin.mutating("POST", "/cutover", notBuilt("cutover"));
  admin.mutating("POST", "/dead-letters/retry", notBuilt("dead-letters retry"));
  admin.mutating("POST", "/dead-letters/discard", notBuilt("dead-letters discard"));
}

interface NotBuiltReply {
  code(statusCode: number): { send(body: unknown): unknown };
}

/** The collections ArangoDB has and the mapping skips, for `/status` before their changes come. */
async function listUnmappedCollections(
  api: ReplicationApi,
  mapping: CompiledMapping,
  status: DaemonStatus,
  events: SyncEvents,
): Promise<void> {
  try {
    const names = await api.collectionNames();
    status.addUnmappedCollections(names.filter((name) => !mapping.collections.includes(name)));
    events.emit("source:connected", {});
  } catch (error) {
    // The daemon's own first call reports and retries an unreachable ArangoDB properly.
    events.emit("source:error", {
      kind: sourceErrorKind(error instanceof SyncError ? error.code : undefined),
      retryable: true,
      message: messageOf(error),
    });
  }
}

/** The heartbeat, reporting each beat as an event (counted and logged by their subscribers). */
function startHeartbeat(
  connection: ArangoConnection,
  settings: NonNullable<Config["sync"]["heartbeat"]>,
  syncerId: string,
  events: SyncEvents,
): HeartbeatWriter {
  let failures = 0;
  const writer = new HeartbeatWriter(connection, {
    collection: settings.collection,
    intervalMs: settings.intervalSeconds * 1000,
    key: syncerId,
    writer: "arango-pg-sync",
    onError: (error) => {
      failures += 1;
      events.emit("source:heartbeatFailed", {
        kind: sourceErrorKind(error.code),
        message: messageOf(error),
        attempt: failures,
      });
    },
    onWritten: () => {
      failures = 0;
      events.emit("source:heartbeatWritten", {});
    },
  });
  writer.start();
  return writer;
}

/**
 * Reads PostgreSQL's change stream when its slot exists in this database. The slot is never
 * created here: one nobody reads would keep WAL on the server (sink/change-stream-slot.ts).
 */
async function startChangeStream(context: {
  config: Config;
  pgUrl: string;
  tables: readonly string[];
  events: SyncEvents;
  logger: Logger;
  log: Logger;
}): Promise<ChangeStreamMonitor | undefined> {
  const { slot, publication } = context.config.changeStream;
  let state: Awaited<ReturnType<typeof readChangeStreamSlot>>;
  try {
    state = await readChangeStreamSlot({ pgUrl: context.pgUrl, slot });
  } catch (error) {
    // Whether the stream is meant to be read is unknown: it is reported down, not off, so that
    // change_stream_up reads 0 and the alert on it fires.
    context.events.emit("target:changeStreamFailed", {
      message: `cannot look up the change-stream slot ${slot}: ${messageOf(error)}`,
      attempt: 1,
    });
    context.events.emit("target:changeStream", { up: false, reason: "slot lookup failed" });
    return undefined;
  }
  if (state === undefined) {
    context.log.info(
      { slot },
      "PostgreSQL change stream off (no replication slot); `arango-pg-sync change-stream create` turns it on",
    );
    return undefined;
  }
  if (!state.inThisDatabase || state.plugin !== "pgoutput") {
    context.log.warn(
      { slot, database: state.database, plugin: state.plugin },
      "the change-stream slot belongs to another database or plugin; foreign writes are not counted",
    );
    return undefined;
  }
  const monitor = new ChangeStreamMonitor({
    pgUrl: context.pgUrl,
    slot,
    publication,
    tables: context.tables,
    checkpoint: CHECKPOINT_RELATION,
    startLsn: state.confirmedFlushLsn,
    events: context.events,
    logger: context.logger,
  });
  monitor.start();
  return monitor;
}

/**
 * WAL-retention headroom: `wal/range` once streaming starts and every WAL_RANGE_INTERVAL_MS
 * after, from a timer rather than the loop (one call per interval, none per batch).
 */
function watchWalRange(
  api: ReplicationApi,
  events: SyncEvents,
  resumeTick: () => bigint | null,
): { stop(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const check = (): void => {
    const from = resumeTick();
    if (from === null || inFlight !== undefined) return;
    inFlight = api
      .range()
      .then(
        (range) => {
          events.emit("source:walRange", { tickMin: range.tickMin, tickMax: range.tickMax, from });
        },
        (error: unknown) => {
          events.emit("source:error", {
            kind: sourceErrorKind(error instanceof SyncError ? error.code : undefined),
            retryable: true,
            message: messageOf(error),
          });
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
  };
  const timer = setInterval(check, WAL_RANGE_INTERVAL_MS);
  timer.unref();
  const off = events.on("pipeline:phase", (e) => {
    if (e.phase === "streaming") check();
  });
  return {
    async stop() {
      clearInterval(timer);
      off();
      await inFlight;
    },
  };
}

/** The error that ended the run, as an event (metrics, readiness) and a log line. */
function reportFailure(events: SyncEvents, log: Logger, error: unknown): void {
  const code = error instanceof SyncError ? error.code : undefined;
  const message = messageOf(error);
  if (code?.startsWith("SOURCE_") === true) {
    events.emit("source:error", { kind: sourceErrorKind(code), retryable: false, message });
  } else if (code === "TARGET_UNAVAILABLE" || code === "TARGET_REJECTED") {
    events.emit("target:error", {
      kind: code === "TARGET_UNAVAILABLE" ? "unavailable" : "rejected",
      retryable: false,
      message,
    });
  }
  log.error({ code, error: message }, "the daemon stopped with an error");
}

/** The daemon's own reporting, then the caller's observer, for every callback. */
function alongside(own: DaemonObserver, extra: DaemonObserver | undefined): DaemonObserver {
  if (extra === undefined) return own;
  return {
    phase: (phase) => {
      own.phase?.(phase);
      extra.phase?.(phase);
    },
    polled: (info) => {
      own.polled?.(info);
      extra.polled?.(info);
    },
    committed: (info) => {
      own.committed?.(info);
      extra.committed?.(info);
    },
    snapshotProgress: (info) => {
      own.snapshotProgress?.(info);
      extra.snapshotProgress?.(info);
    },
    snapshotStarted: async (info) => {
      await own.snapshotStarted?.(info);
      await extra.snapshotStarted?.(info);
    },
    parkedRetried: (info) => {
      own.parkedRetried?.(info);
      extra.parkedRetried?.(info);
    },
    stagedApplying: (info) => {
      own.stagedApplying?.(info);
      extra.stagedApplying?.(info);
    },
    gap: (info) => {
      own.gap?.(info);
      extra.gap?.(info);
    },
    sourceRetry: (error, attempt, waitMs) => {
      own.sourceRetry?.(error, attempt, waitMs);
      extra.sourceRetry?.(error, attempt, waitMs);
    },
    skipped: (reason, count) => {
      own.skipped?.(reason, count);
      extra.skipped?.(reason, count);
    },
  };
}

/** Log lines to a callback, one JSON object per call without its newline. */
function lineDestination(report: (line: string) => void): DestinationStream {
  return {
    write(line: string) {
      report(line.endsWith("\n") ? line.slice(0, -1) : line);
    },
  };
}

function packageVersion(): string {
  try {
    const manifest = JSON.parse(
      readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
    ) as { version?: unknown };
    return typeof manifest.version === "string" ? manifest.version : "unknown";
  } catch {
    return "unknown";
  }
}
