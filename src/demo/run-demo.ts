/**
 * `arango-pg-sync demo`: the whole mirror on one machine, nothing to install. An embedded
 * PostgreSQL 18 with the application's tables and the migrations, the ArangoDB emulator with
 * thousands of ATSPro-shaped documents, the daemon in this process (built as `run` builds it),
 * and a steady write load against the emulator, with a progress line every few seconds.
 *
 * It ends after `--duration` seconds or on Ctrl-C / SIGTERM: the load stops, the daemon applies
 * what is left (bounded wait) and stops cleanly, PostgreSQL is compared with the emulator's
 * current state through the mapping, a summary is printed, and the emulator and PostgreSQL are
 * stopped and the temp dir removed. Exit code 0 when consistent and caught up, 1 otherwise.
 *
 * A second Ctrl-C (a second apart: one key press can arrive twice, from the terminal and from
 * the npm/tsx wrapper relaying it) skips the wait and the check; a third exits at once, and the
 * process exit hook still shuts PostgreSQL down and removes its directory.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG_PATH } from "../config/config-schema.js";
import { loadConfig } from "../config/load-config.js";
import { type Emulator, startEmulator } from "../emulator/emulator.js";
import { ExitCode, SyncError, messageOf } from "../errors.js";
import { defaultSyncerId, mappingFromConfig } from "../pipeline/daemon-runner.js";
import { SyncDaemon } from "../pipeline/sync-daemon.js";
import type { Phase } from "../sink/changes.js";
import { migrate } from "../sink/migrate.js";
import { runSql } from "../sink/sql-script.js";
import { TargetStore } from "../sink/target-store.js";
import { DocumentLookup } from "../source/document-lookup.js";
import { ReplicationApi } from "../source/replication-api.js";
import { type MirrorVerification, verifyMirror } from "../verify/verify-mirror.js";
import { ChangeClock, watchChanges } from "./change-clock.js";
import {
  type LagFigures,
  formatLag,
  formatProgress,
  formatSummary,
  seconds,
  stamp,
} from "./demo-report.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded-postgres.js";
import { DEMO_DATABASE, createSourceDatabase, loadSourceData } from "./source-data.js";
import { WriteLoad } from "./write-load.js";

export interface DemoOptions {
  /** Stop after this long; undefined: run until Ctrl-C or SIGTERM. */
  readonly durationSeconds: number | undefined;
  /** ATSPro-shaped documents loaded before the daemon starts. */
  readonly documents: number;
  readonly writesPerSecond: number;
  /** Keep PostgreSQL's data directory (stopped) and print how to start it again. */
  readonly keep: boolean;
  /** The emulator's port; 0 picks a free one. */
  readonly emulatorPort: number;
  readonly configPath: string;
  /** Seed of the generated data and of the load. */
  readonly seed: number;
}

const DEFAULTS = { documents: 10_000, writesPerSecond: 50, seed: 20250816 } as const;
/** How long the daemon may take to apply what is left once the load stops. */
const CATCH_UP_TIMEOUT_MS = 120_000;
/** Exit code of a run a signal cut short before the check (128 + SIGINT, as shells report it). */
const INTERRUPTED = 130;
const SQL_DIR = new URL("../../sql/demo/", import.meta.url);
/** The package's own config, for a demo started outside the checkout. */
const PACKAGED_CONFIG = fileURLToPath(new URL("../../config/atspro.yaml", import.meta.url));

/** The CLI entry: flags → options → run. */
export async function demoCommand(options: Record<string, unknown>): Promise<number> {
  const configPath =
    typeof options["config"] === "string" ? options["config"] : DEFAULT_CONFIG_PATH;
  const parsed: DemoOptions = {
    durationSeconds: numberFlag(options, "duration", "--duration", { min: 0.1 }),
    documents:
      numberFlag(options, "documents", "--documents", { integer: true, min: 0 }) ??
      DEFAULTS.documents,
    writesPerSecond: numberFlag(options, "rate", "--rate", { min: 0 }) ?? DEFAULTS.writesPerSecond,
    keep: options["keep"] === true,
    emulatorPort: numberFlag(options, "port", "--port", { integer: true, min: 0, max: 65535 }) ?? 0,
    // The default path is relative to the working directory; outside the checkout, the mapping
    // comes with the package.
    configPath:
      configPath === DEFAULT_CONFIG_PATH && !existsSync(configPath) ? PACKAGED_CONFIG : configPath,
    seed: DEFAULTS.seed,
  };
  return runDemo(parsed, (text) => process.stdout.write(`${text}\n`));
}

function numberFlag(
  options: Record<string, unknown>,
  name: string,
  flag: string,
  limits: { integer?: boolean; min: number; max?: number },
): number | undefined {
  const raw = options[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const valid =
    typeof raw === "string" &&
    raw.trim() !== "" &&
    Number.isFinite(value) &&
    (limits.integer !== true || Number.isInteger(value)) &&
    value >= limits.min &&
    (limits.max === undefined || value <= limits.max);
  if (!valid) {
    const kind = limits.integer === true ? "an integer" : "a number";
    const range = limits.max === undefined ? `>= ${limits.min}` : `${limits.min}-${limits.max}`;
    const shown = typeof raw === "string" ? raw : JSON.stringify(raw);
    throw new SyncError("USAGE", `${flag} must be ${kind} (${range}), not '${shown}'`);
  }
  return value;
}

/** Thrown when a stop is requested before the daemon runs: setup unwinds, cleanup runs. */
class StoppedDuringSetup extends Error {}

/**
 * SIGINT/SIGTERM handling for the whole run. The handlers stay installed until cleanup is done:
 * without a listener, a signal would end the process before PostgreSQL is stopped.
 */
class StopControl {
  private reason: string | undefined;
  private forced = false;
  private firstSignalAt = 0;
  private wakeups = new Set<() => void>();

  constructor(private readonly print: (line: string) => void) {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  request(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.wakeAll();
  }

  /** Waits `ms`, or less when a stop (or, once stopping, a forced stop) is requested. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeups.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeups.add(done);
    });
  }

  /** Why the run is stopping; undefined while it runs. A method: it changes behind any await. */
  stopReason(): string | undefined {
    return this.reason;
  }

  /** A second Ctrl-C: skip the catch-up and the check. */
  isForced(): boolean {
    return this.forced;
  }

  throwIfStopping(): void {
    if (this.reason !== undefined) throw new StoppedDuringSetup(this.reason);
  }

  dispose(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.wakeups]) wake();
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.reason === undefined) {
      this.firstSignalAt = Date.now();
      this.print(`${signal}: stopping (press Ctrl-C again to skip the catch-up and the check)`);
      this.request(signal);
      return;
    }
    if (Date.now() - this.firstSignalAt < 1000) return;
    if (!this.forced) {
      this.forced = true;
      this.print(`${signal} again: skipping the catch-up and the check, cleaning up`);
      this.wakeAll();
      return;
    }
    this.print(`${signal} a third time: exiting now`);
    // The embedded server's exit hook shuts PostgreSQL down immediately and removes its directory.
    process.exit(INTERRUPTED);
  };
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

async function startDemoEmulator(port: number): Promise<Emulator> {
  try {
    return await startEmulator({ port });
  } catch (error) {
    throw new SyncError(
      "USAGE",
      `the ArangoDB emulator cannot listen on port ${port}: ${messageOf(error)}; pick another --port, or leave it out for a free one`,
    );
  }
}

export async function runDemo(
  options: DemoOptions,
  print: (line: string) => void,
): Promise<number> {
  const startedAt = performance.now();
  const elapsed = (): number => performance.now() - startedAt;
  const stop = new StopControl(print);
  const cleanups: { what: string; run: () => Promise<void> | void }[] = [];
  try {
    return await runUntilStopped(options, print, stop, cleanups, elapsed);
  } catch (error) {
    if (error instanceof StoppedDuringSetup) {
      print("stopped before the daemon started");
      return INTERRUPTED;
    }
    throw error;
  } finally {
    for (const step of cleanups.reverse()) {
      try {
        await step.run();
      } catch (error) {
        print(`cleanup: ${step.what} failed: ${messageOf(error)}`);
      }
    }
    stop.dispose();
  }
}

async function runUntilStopped(
  options: DemoOptions,
  print: (line: string) => void,
  stop: StopControl,
  cleanups: { what: string; run: () => Promise<void> | void }[],
  elapsed: () => number,
): Promise<number> {
  print(
    "arango-pg-sync demo: ArangoDB emulator → daemon → embedded PostgreSQL, under a steady write load",
  );

  // The emulator first: a taken --port fails at once, not after PostgreSQL's start.
  const emulator = await startDemoEmulator(options.emulatorPort);
  cleanups.push({ what: "stopping the emulator", run: () => emulator.close() });

  // PostgreSQL: the server, the application's tables, then the daemon's migrations.
  const pg = await startEmbeddedPostgres({
    settings: {
      // What the daemon asks of its target: the change-stream monitor decodes logical WAL.
      wal_level: "logical",
      max_replication_slots: "10",
      max_wal_senders: "10",
      // A cluster thrown away afterwards needs no durability; a kept one does.
      ...(options.keep ? {} : { fsync: "off", synchronous_commit: "off", full_page_writes: "off" }),
    },
  });
  cleanups.push({ what: "stopping PostgreSQL", run: () => stopPostgres(pg, options.keep, print) });
  const pgUrl = databaseUrl(pg.url, DEMO_DATABASE);
  print(
    `${stamp(elapsed())} PostgreSQL ${pg.version}: ${pgUrl} (pid ${pg.pid}, runs as ${pg.osUser}; data in ${pg.dataDir})`,
  );
  stop.throwIfStopping();
  await runSql(pg.url, `CREATE DATABASE ${DEMO_DATABASE}`);
  await runSql(pgUrl, await readFile(new URL("better-auth.sql", SQL_DIR), "utf8"));
  const migration = await migrate({ pgUrl });
  if (migration.error !== undefined) throw migration.error;
  print(
    `${stamp(elapsed())} migrate: "user" and tasks created as the application has them, then ${migration.steps.map((s) => s.name).join(", ")} applied`,
  );
  stop.throwIfStopping();

  // ArangoDB: every change clocked, then the initial data.
  const clock = new ChangeClock();
  const unwatch = watchChanges(emulator.state, DEMO_DATABASE, clock);
  cleanups.push({ what: "unwatching the WAL", run: unwatch });
  print(
    `${stamp(elapsed())} ArangoDB emulator: ${emulator.url} (database ${DEMO_DATABASE}, user root, empty password)`,
  );
  const loadStartedAt = elapsed();
  createSourceDatabase(emulator.state);
  const data = loadSourceData(emulator.state, options.documents, options.seed);
  await runSql(pgUrl, await readFile(new URL("seed-users.sql", SQL_DIR), "utf8"), [
    JSON.stringify(data.users),
  ]);
  const loaded = Object.entries(data.counts).map(([c, n]) => `${c} ${n}`);
  print(
    `${stamp(elapsed())} loaded ${loaded.length === 0 ? "no documents" : loaded.join(", ")} in ${seconds(elapsed() - loadStartedAt)}; ${data.users.length} users in PostgreSQL (owner test_user has none, as in the real data)`,
  );
  stop.throwIfStopping();

  // The daemon, exactly as `run` builds it, from the config file and the two URLs.
  const config = await loadConfig({
    configPath: options.configPath,
    flags: {
      arango: { url: emulator.url, database: DEMO_DATABASE, username: "root", password: "" },
      postgres: { url: pgUrl },
    },
  });
  const mapping = mappingFromConfig(config);
  const connection = { url: emulator.url, database: DEMO_DATABASE, username: "root", password: "" };
  const api = new ReplicationApi(connection, {
    syncerId: config.sync.syncerId ?? defaultSyncerId(DEMO_DATABASE, pgUrl),
    clientInfo: "arango-pg-sync demo",
  });
  cleanups.push({ what: "closing the daemon's ArangoDB connection", run: () => api.close() });
  const store = await TargetStore.open({ url: pgUrl, mapping, journal: config.sync.journal });
  cleanups.push({ what: "closing the daemon's PostgreSQL connection", run: () => store.close() });
  const monitor = await TargetStore.open({
    url: pgUrl,
    mapping,
    journal: false,
    applicationName: "arango-pg-sync demo",
  });
  cleanups.push({ what: "closing the demo's PostgreSQL connection", run: () => monitor.close() });

  let phase: Phase | "starting" = "starting";
  let snapshotStartedAt: number | undefined;
  let snapshotMs: number | undefined;
  const snapshotDocuments = new Map<string, number>();
  const daemon = new SyncDaemon(
    api,
    store,
    {
      sourceDatabase: DEMO_DATABASE,
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
    },
    {
      phase: (next) => {
        phase = next;
        if (next === "snapshotting" || next === "resnapshotting") {
          snapshotStartedAt = elapsed();
          snapshotDocuments.clear();
        }
        if (next === "streaming" && snapshotStartedAt !== undefined) {
          snapshotMs = elapsed() - snapshotStartedAt;
          snapshotStartedAt = undefined;
          const counts = [...snapshotDocuments].map(([c, n]) => `${c} ${n}`).join(", ");
          print(
            `${stamp(elapsed())} snapshot done in ${seconds(snapshotMs)}: ${counts}; streaming the WAL from tick ${daemon.appliedTick ?? "?"}`,
          );
        }
      },
      snapshotProgress: ({ collection, documents }) => snapshotDocuments.set(collection, documents),
      gap: ({ from }) =>
        print(`${stamp(elapsed())} WAL gap: tick ${from} is gone from the source; re-snapshotting`),
      sourceRetry: (error, attempt, waitMs) =>
        print(
          `${stamp(elapsed())} source error (attempt ${attempt}, retrying in ${waitMs} ms): ${messageOf(error)}`,
        ),
    },
  );
  const controller = new AbortController();
  // A holder, not a variable: the daemon's failure arrives in a callback.
  const daemonFailure: { error?: Error } = {};
  const daemonDone = daemon.run(controller.signal).then(
    () => undefined,
    (error: unknown) => {
      daemonFailure.error =
        error instanceof Error ? error : new SyncError("INTERNAL", messageOf(error));
      stop.request("the daemon stopped with an error");
    },
  );
  const daemonFailed = (): boolean => daemonFailure.error !== undefined;
  cleanups.push({
    what: "stopping the daemon",
    run: async () => {
      controller.abort();
      await daemonDone;
    },
  });

  const load = new WriteLoad({
    url: emulator.url,
    database: DEMO_DATABASE,
    username: "root",
    password: "",
    writesPerSecond: options.writesPerSecond,
    seed: options.seed + 1,
    users: data.users,
    resumes: data.resumes,
    jobs: data.jobs,
    firstIndex: options.documents,
  });
  const loadFrom = elapsed();
  load.start();
  cleanups.push({ what: "stopping the write load", run: () => load.stop() });
  const until =
    options.durationSeconds === undefined
      ? "until Ctrl-C"
      : `for ${options.durationSeconds} s (Ctrl-C stops earlier)`;
  print(
    `${stamp(elapsed())} daemon started; write load of ${options.writesPerSecond} writes/s; running ${until}`,
  );

  const tables = mapping.tables.map((t) => t.table);
  const lagNow = (): LagFigures => ({
    appliedTick: daemon.appliedTick,
    newestTick: clock.newest,
    pending: clock.pending(daemon.appliedTick),
    lagMs: clock.lagMs(daemon.appliedTick, Date.now()),
  });
  let lastWrites = 0;
  let lastAt = elapsed();
  const progress = async (): Promise<string> => {
    const rows = await monitor.tableCounts(tables);
    const backlog = await monitor.backlog();
    const stats = load.current;
    const now = elapsed();
    const rate = now > lastAt ? ((stats.writes - lastWrites) / (now - lastAt)) * 1000 : 0;
    lastWrites = stats.writes;
    lastAt = now;
    const sum = (counts: Record<string, number>): number =>
      Object.values(counts).reduce((a, b) => a + b, 0);
    return formatProgress({
      elapsedMs: now,
      phase,
      lag: lagNow(),
      rows,
      deadLetters: sum(backlog.deadLetters),
      parked: sum(backlog.parked),
      writesPerSecond: rate,
      failures: stats.failures,
    });
  };

  const durationMs =
    options.durationSeconds === undefined ? undefined : options.durationSeconds * 1000;
  const intervalMs =
    durationMs === undefined ? 5000 : Math.min(5000, Math.max(1000, durationMs / 5));
  const endAt = durationMs === undefined ? undefined : loadFrom + durationMs;
  while (stop.stopReason() === undefined) {
    const left = endAt === undefined ? intervalMs : endAt - elapsed();
    if (left <= 0) {
      stop.request(`${options.durationSeconds} s elapsed`);
      break;
    }
    await stop.wait(Math.min(intervalMs, left));
    if (stop.stopReason() === undefined && (endAt === undefined || elapsed() < endAt)) {
      print(await progress());
    }
  }

  // Stop: the load first, then let the daemon apply what is left, then stop it cleanly.
  print(`${stamp(elapsed())} ${stop.stopReason() ?? "stopping"}: stopping the write load`);
  await load.stop();
  const loadMs = elapsed() - loadFrom;
  let caughtUp = clock.caughtUp(daemon.appliedTick);
  if (!daemonFailed() && !stop.isForced() && !caughtUp) {
    print(`${stamp(elapsed())} waiting for the daemon to apply the last changes`);
    const deadline = elapsed() + CATCH_UP_TIMEOUT_MS;
    let nextProgress = elapsed() + intervalMs;
    while (!daemonFailed() && !stop.isForced() && elapsed() < deadline) {
      caughtUp = clock.caughtUp(daemon.appliedTick);
      if (caughtUp) break;
      await stop.wait(100);
      if (elapsed() >= nextProgress) {
        print(await progress());
        nextProgress = elapsed() + intervalMs;
      }
    }
  }
  const finalLag = lagNow();
  if (caughtUp) print(`${stamp(elapsed())} caught up: lag ${formatLag(finalLag)}`);
  else if (!daemonFailed() && !stop.isForced()) {
    print(`${stamp(elapsed())} not caught up after ${seconds(CATCH_UP_TIMEOUT_MS)}`);
  }
  controller.abort();
  await daemonDone;
  if (daemonFailure.error !== undefined) throw daemonFailure.error;
  print(`${stamp(elapsed())} daemon stopped (phase ${phase})`);

  let comparison: MirrorVerification | undefined;
  if (!stop.isForced()) {
    print(`${stamp(elapsed())} comparing PostgreSQL with the emulator's current state`);
    const verifyApi = new ReplicationApi(connection, {
      // Its own identity: reading for the check must not move the daemon's WAL registration.
      syncerId: defaultSyncerId(`${DEMO_DATABASE}/verify`, pgUrl),
      clientInfo: "arango-pg-sync demo verify",
    });
    const documents = new DocumentLookup(connection);
    try {
      comparison = await verifyMirror({
        api: verifyApi,
        documents,
        pgUrl,
        mapping,
        sourceDatabase: DEMO_DATABASE,
        dumpChunkSize: config.sync.dumpChunkSize,
        tailChunkSize: config.sync.tailChunkSize,
      });
    } finally {
      verifyApi.close();
      documents.close();
    }
  }
  for (const text of formatSummary({
    elapsedMs: elapsed(),
    snapshotMs,
    loaded: data.counts,
    mappedCollections: mapping.collections,
    users: data.users.length,
    load: load.current,
    loadMs,
    rows: await monitor.tableCounts(tables),
    lag: finalLag,
    caughtUp,
    comparison,
  })) {
    print(text);
  }
  if (stop.isForced()) return INTERRUPTED;
  return caughtUp && comparison?.verdict === "consistent" ? ExitCode.ok : ExitCode.noGo;
}

async function stopPostgres(
  pg: EmbeddedPostgres,
  keep: boolean,
  print: (line: string) => void,
): Promise<void> {
  await pg.stop({ keepData: keep });
  if (!keep) {
    print(`PostgreSQL stopped; ${pg.baseDir} removed`);
    return;
  }
  const asUser = pg.switchedUser ? `runuser -u ${pg.osUser} -- ` : "";
  print(`PostgreSQL stopped; its data is kept in ${pg.dataDir}. To start it again and connect:`);
  print(`  ${asUser}${pg.binDir}/pg_ctl -D ${pg.dataDir} -l ${pg.logFile} start`);
  print(`  psql '${databaseUrl(pg.url, DEMO_DATABASE)}'`);
  print(`  (remove ${pg.baseDir} when done)`);
}
