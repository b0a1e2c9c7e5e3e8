/**
 * `npm run bench [-- --quick] [-- --documents N] [-- --pg-url URL]`: the daemon's speed as
 * ratios to PostgreSQL's own ceiling, everything measured in one run on one machine and one
 * PostgreSQL instance (issue: "Performance: a benchmark harness…", DESIGN.md §10).
 *
 * Order of the run:
 *   1. ceiling: COPY, unnest upserts (new keys, new versions) and deletes of the mapped rows;
 *   2. source: the emulator's dump and wal/tail rates with nobody applying;
 *   3. the daemon (a child process, as operators run it): snapshot, streaming of a burst,
 *      latency at steady write rates, catch-up after a backlog, full verify, and a large source
 *      transaction, with the child's peak RSS read from /proc.
 * Results: a table on stdout and `bench/results/<date>-<machine>.json`.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/demo/embedded-postgres.js";
import type { EmulatedServer } from "../src/emulator/emulated-server.js";
import type { Emulator } from "../src/emulator/emulator.js";
import { migrate } from "../src/sink/migrate.js";
import {
  BUILT_ENTRY,
  DaemonProcess,
  type DaemonTarget,
  writeDaemonConfig,
} from "../test/support/daemon-process.js";
import {
  createDatabase,
  databaseUrl,
  loadBetterAuthFixture,
  withClient,
} from "../test/support/databases.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  insertAll,
  seedUsers,
  startAtsproSource,
} from "../test/support/sync-fixture.js";
import {
  BENCH_COLLECTIONS,
  type BenchData,
  type BenchDocument,
  generateBenchData,
  nextVersion,
} from "./bench-data.js";
import { type CeilingResult, measureCeiling, prepare, timed } from "./ceiling.js";
import { CpuMeter, type CpuShare } from "./cpu-meter.js";
import { LatencyProbe, percentile } from "./latency-probe.js";
import { type BenchResults, printTable } from "./report.js";
import { measureSource } from "./source-rates.js";

const ROOT = path.resolve(import.meta.dirname, "..");

interface Sizes {
  documents: number;
  streamingEvents: number;
  backlogEvents: number;
  largeTransaction: number;
  latencySeconds: number;
  rates: number[];
}

const FULL: Sizes = {
  documents: 200_000,
  streamingEvents: 100_000,
  backlogEvents: 500_000,
  largeTransaction: 1_000_000,
  latencySeconds: 20,
  rates: [200, 1000, 5000],
};
const QUICK: Sizes = {
  documents: 20_000,
  streamingEvents: 20_000,
  backlogEvents: 50_000,
  largeTransaction: 100_000,
  latencySeconds: 5,
  rates: [200, 1000, 5000],
};

function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** A fresh database with better-auth's tables, the migrations and the benchmark's users. */
async function freshDatabase(serverUrl: string, name: string, data: BenchData): Promise<string> {
  await withClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
  await createDatabase(serverUrl, name);
  const url = databaseUrl(serverUrl, name);
  await loadBetterAuthFixture(url);
  const result = await migrate({ pgUrl: url });
  if (result.error !== undefined) throw result.error;
  await seedUsers(url, data.users);
  return url;
}

/** Peak resident memory (VmHWM) of a process, sampled until `stop()`. */
class PeakRss {
  private peakKb = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => void this.sample(), 200);
  }
  async sample(): Promise<void> {
    try {
      const status = await readFile(`/proc/${this.pid}/status`, "utf8");
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match !== null) this.peakKb = Math.max(this.peakKb, Number(match[1]));
    } catch {
      // The process is gone: the last sample stands.
    }
  }
  async stop(): Promise<number> {
    await this.sample();
    clearInterval(this.timer);
    return this.peakKb / 1024;
  }
}

/**
 * Writes new versions of the documents into the emulator: single-document writes, and about a
 * third of the documents in multi-document requests of 2–10 (each one source transaction).
 */
class SourceWriter {
  private cursor = 0;
  private version = 0;
  events = 0;

  constructor(
    private readonly state: EmulatedServer,
    private readonly items: readonly BenchDocument[],
  ) {}

  /** Writes at least `count` document events; returns the number written. */
  write(count: number): number {
    let written = 0;
    while (written < count) {
      const group = this.cursor % 3 === 0 ? 2 + (this.cursor % 9) : 1;
      written += this.request(Math.min(group, Math.max(1, count - written)));
    }
    return written;
  }

  private request(size: number): number {
    const first = this.items[this.cursor % this.items.length] as BenchDocument;
    const collection = this.state.database(SOURCE_DATABASE).collection(first.collection);
    const batch: BenchDocument[] = [];
    while (batch.length < size) {
      const item = this.items[this.cursor % this.items.length] as BenchDocument;
      if (item.collection !== first.collection) break;
      batch.push(item);
      this.cursor += 1;
    }
    if (batch.length === 0) {
      this.cursor += 1;
      return 0;
    }
    this.state.write(collection, undefined, batch.length > 1, (writes) => {
      for (const item of batch) {
        this.version += 1;
        this.state.replace(
          writes,
          collection,
          item.document._key,
          nextVersion(item, this.version),
          {},
        );
      }
    });
    this.events += batch.length;
    return batch.length;
  }
}

/**
 * The tick of the newest WAL marker. Not `lastSequence`: a write consumes more sequence numbers
 * than it has markers, so the server's last tick can lie beyond anything a client can apply.
 */
function lastWriteTick(state: EmulatedServer): bigint {
  const batches = state.wal.retainedBatches;
  const records = batches[batches.length - 1]?.records ?? [];
  return records[records.length - 1]?.tick ?? 0n;
}

/**
 * Drops the WAL the daemon has applied, so the emulator's memory (and its garbage collector's
 * pauses) do not grow with the run. Forced: the benchmark's own source reads registered a
 * position that would otherwise hold the WAL until its registration expires.
 */
async function releaseAppliedWal(emulator: Emulator, client: pg.Client): Promise<void> {
  emulator.pruneWal({ force: true, below: await appliedTick(client) });
}

async function appliedTick(client: pg.Client): Promise<bigint> {
  const result = await client.query<{ tick: string | null }>(
    "SELECT applied_tick::text AS tick FROM arango_sync.checkpoint",
  );
  return BigInt(result.rows[0]?.tick ?? "0");
}

/** Waits until the checkpoint covers `tick`; returns the time (ms) it was first seen to. */
async function waitApplied(
  client: pg.Client,
  tick: bigint,
  daemon: DaemonProcess,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await appliedTick(client)) >= tick) return Date.now();
    if (!daemon.running) throw new Error(`the daemon stopped:\n${daemon.log.slice(-3000)}`);
    if (Date.now() > deadline) {
      throw new Error(
        `tick ${tick} not applied within ${timeoutMs} ms:\n${daemon.log.slice(-3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function snapshotDurationMs(daemonLog: string): number | undefined {
  for (const line of daemonLog.split("\n")) {
    if (!line.includes("snapshot finished")) continue;
    try {
      const parsed = JSON.parse(line) as { durationMs?: number };
      if (typeof parsed.durationMs === "number") return parsed.durationMs;
    } catch {
      // Not a JSON line.
    }
  }
  return undefined;
}

async function stopDaemon(daemon: DaemonProcess): Promise<void> {
  daemon.signal("SIGTERM");
  await daemon.exit(120_000);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      documents: { type: "string" },
      seed: { type: "string", default: "20261123" },
      "pg-url": { type: "string" },
      out: { type: "string", default: path.join(ROOT, "bench/results") },
      set: { type: "string", multiple: true, default: [] },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm run bench -- [--quick] [--documents N] [--seed N] [--pg-url URL] [--out DIR]\n" +
        "  --quick      20,000 documents and smaller backlogs (under 5 minutes on 2 cores)\n" +
        "  --pg-url     a PostgreSQL server to use (a superuser URL; databases bench_* are created)\n" +
        "               instead of a throwaway embedded one\n" +
        "  --set K=V    a setting of the daemon's sync: section (repeatable), e.g. --set journal=false\n" +
        "  --profile D  write a V8 CPU profile of every daemon process into directory D\n",
    );
    return 0;
  }
  const sizes: Sizes = { ...(values.quick ? QUICK : FULL) };
  if (values.documents !== undefined) sizes.documents = Number(values.documents);
  const seed = Number(values.seed);
  const startedAt = Date.now();

  const mapping = atsproMapping();
  log(`generating ${sizes.documents} documents (seed ${seed})`);
  const data = generateBenchData(mapping, seed, sizes.documents);

  let server: EmbeddedPostgres | undefined;
  let serverUrl = values["pg-url"];
  if (serverUrl === undefined) {
    log("starting PostgreSQL (embedded, default durability)");
    server = await startEmbeddedPostgres({
      settings: { wal_level: "logical", max_wal_senders: "10", max_replication_slots: "10" },
    });
    serverUrl = server.url;
  }
  let emulator: Emulator | undefined;
  let daemon: DaemonProcess | undefined;
  const sync = Object.fromEntries(values.set.map(parseSetting));
  const nodeArgs =
    values.profile === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${path.resolve(values.profile)}`];
  const config = await writeDaemonConfig(sync);
  // The daemon is measured as it ships: compiled (`npm run build`), not through tsx, whose
  // loader alone adds some 30 MB of resident memory to a process.
  log("building the package (npm run build)");
  buildPackage();
  try {
    const environment = await describeEnvironment(serverUrl);

    // 1. Ceiling.
    const ceilingUrl = await freshDatabase(serverUrl, "bench_ceiling", data);
    const ceiling: CeilingResult = await measureCeiling(ceilingUrl, mapping, data, log);
    await withClient(serverUrl, (c) => c.query("DROP DATABASE bench_ceiling WITH (FORCE)"));

    // 2. Source.
    emulator = await startAtsproSource();
    const state = emulator.state;
    for (const collection of BENCH_COLLECTIONS) {
      insertAll(
        state,
        collection,
        data.documents.filter((d) => d.collection === collection).map((d) => d.document),
      );
    }
    const source = await measureSource(emulator.url, SOURCE_DATABASE, BENCH_COLLECTIONS);
    log(
      `source: dump ${Math.round(source.dump_docs_per_s)} docs/s, tail ${Math.round(source.tail_events_per_s)} events/s`,
    );

    // 3. The daemon.
    const syncUrl = await freshDatabase(serverUrl, "bench_sync", data);
    const target = { arangoUrl: emulator.url, pgUrl: syncUrl, configPath: config.path };
    const watcher = new pg.Client({ connectionString: syncUrl, application_name: "bench watcher" });
    await watcher.connect();
    try {
      await prepare(watcher, false);
      // Snapshot: the daemon's own figure, from batch creation to the last row committed.
      let snapshotCpu: CpuMeter | undefined;
      const snapshotWallSeconds = await timed(async () => {
        daemon = await DaemonProcess.start("snapshot", target, {}, nodeArgs, BUILT_ENTRY);
        snapshotCpu = new CpuMeter(() => daemon?.pid);
        const exit = await daemon.exit(3_600_000);
        if (exit.code !== 0) throw new Error(`snapshot failed:\n${daemon.log.slice(-3000)}`);
      });
      const cpu: Record<string, CpuShare> = {};
      if (snapshotCpu !== undefined) cpu["snapshot"] = snapshotCpu.stop();
      const snapshotMs = snapshotDurationMs(daemon?.log ?? "");
      if (snapshotMs === undefined) throw new Error("the daemon did not log 'snapshot finished'");
      const snapshotDocsPerS = data.documents.length / (snapshotMs / 1000);
      log(
        `snapshot: ${data.documents.length} documents in ${(snapshotMs / 1000).toFixed(1)} s (${snapshotWallSeconds.toFixed(1)} s with process start)`,
      );
      await releaseAppliedWal(emulator, watcher);

      // Streaming: a burst of updates written while the daemon runs.
      await prepare(watcher, true);
      const shuffledItems = interleave(data.documents);
      const writer = new SourceWriter(state, shuffledItems);
      daemon = await DaemonProcess.start("run", target, {}, nodeArgs, BUILT_ENTRY);
      const rss = new PeakRss(daemon.pid ?? 0);
      await waitApplied(watcher, lastWriteTick(state), daemon, 120_000);
      const streamingCpu = new CpuMeter(() => daemon?.pid);
      const burstStart = Date.now();
      for (let written = 0; written < sizes.streamingEvents;) {
        written += writer.write(Math.min(500, sizes.streamingEvents - written));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const burstEnd = await waitApplied(watcher, lastWriteTick(state), daemon, 3_600_000);
      cpu["streaming"] = streamingCpu.stop();
      const streamingEventsPerS = sizes.streamingEvents / ((burstEnd - burstStart) / 1000);
      log(`streaming: ${sizes.streamingEvents} events in ${(burstEnd - burstStart) / 1000} s`);
      await releaseAppliedWal(emulator, watcher);

      // Latency at steady rates, read from PostgreSQL's own commit timestamps.
      const probe = await LatencyProbe.start(
        syncUrl,
        mapping.tables.map((t) => t.table),
      );
      const latency: BenchResults["latency_ms"] = {};
      try {
        for (const rate of sizes.rates) {
          const from = Date.now();
          const until = from + sizes.latencySeconds * 1000;
          let written = 0;
          while (Date.now() < until) {
            const due = Math.floor(((Date.now() - from) / 1000) * rate);
            if (due > written) written += writer.write(due - written);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          const lastWrite = Date.now();
          const caughtUp = await waitApplied(watcher, lastWriteTick(state), daemon, 3_600_000);
          // Let the probe read the last commits.
          await new Promise((resolve) => setTimeout(resolve, 500));
          const samples = probe.between(from, until);
          latency[String(rate)] = {
            writes: written,
            achieved_writes_per_s: written / sizes.latencySeconds,
            samples: samples.length,
            p50: percentile(samples, 50),
            p95: percentile(samples, 95),
            p99: percentile(samples, 99),
            drain_ms: caughtUp - lastWrite,
          };
          log(
            `latency at ${rate}/s: p50 ${percentile(samples, 50)} ms, p99 ${percentile(samples, 99)} ms, drained in ${caughtUp - lastWrite} ms`,
          );
        }
      } finally {
        await probe.stop();
      }
      await stopDaemon(daemon);
      await releaseAppliedWal(emulator, watcher);

      // Catch-up: a backlog written while the daemon is down.
      await prepare(watcher, true);
      writer.write(sizes.backlogEvents);
      const backlogTick = lastWriteTick(state);
      const catchupStart = Date.now();
      daemon = await DaemonProcess.start("run", target, {}, nodeArgs, BUILT_ENTRY);
      const catchupCpu = new CpuMeter(() => daemon?.pid);
      const rssCatchup = new PeakRss(daemon.pid ?? 0);
      const catchupEnd = await waitApplied(watcher, backlogTick, daemon, 3_600_000);
      cpu["catchup"] = catchupCpu.stop();
      const catchupEventsPerS = sizes.backlogEvents / ((catchupEnd - catchupStart) / 1000);
      log(
        `catch-up: ${sizes.backlogEvents} events in ${((catchupEnd - catchupStart) / 1000).toFixed(1)} s`,
      );
      await stopDaemon(daemon);
      const streamingPeakMb = Math.max(await rss.stop(), await rssCatchup.stop());
      await releaseAppliedWal(emulator, watcher);

      // Full verify, as an operator runs it, on the caught-up mirror.
      await prepare(watcher, true);
      const verify = await runVerify(target);
      log(
        `verify: ${verify.rows} rows at ${Math.round(verify.rows_per_s)} rows/s, ${verify.verdict}`,
      );

      // A large source transaction: new results, all in one stream transaction.
      const large = await largeTransaction(state, data, sizes.largeTransaction);
      daemon = await DaemonProcess.start("snapshot", target, {}, nodeArgs, BUILT_ENTRY);
      const rssLarge = new PeakRss(daemon.pid ?? 0);
      const largeCpu = new CpuMeter(() => daemon?.pid);
      const largeSeconds = await timed(async () => {
        const exit = await (daemon as DaemonProcess).exit(3_600_000);
        if (exit.code !== 0) throw new Error(`large transaction failed:\n${daemon?.log}`);
      });
      const largePeakMb = await rssLarge.stop();
      cpu["large_transaction"] = largeCpu.stop();
      if ((await appliedTick(watcher)) < large) throw new Error("large transaction not applied");
      log(
        `large transaction: ${sizes.largeTransaction} operations in ${largeSeconds.toFixed(1)} s, peak RSS ${largePeakMb.toFixed(0)} MB`,
      );

      const results: BenchResults = {
        date: new Date(startedAt).toISOString(),
        mode: values.quick ? "quick" : "full",
        duration_s: (Date.now() - startedAt) / 1000,
        environment,
        sizes: { ...sizes },
        daemon_settings: sync,
        ceiling: {
          ...ceiling,
        },
        source,
        snapshot: {
          documents: data.documents.length,
          docs_per_s: snapshotDocsPerS,
          ratio: snapshotDocsPerS / ceiling.upsert_insert_rows_per_s,
          wall_s: snapshotWallSeconds,
        },
        streaming: {
          events: sizes.streamingEvents,
          events_per_s: streamingEventsPerS,
          ratio: streamingEventsPerS / ceiling.upsert_update_rows_per_s,
        },
        latency_ms: latency,
        catchup: {
          events: sizes.backlogEvents,
          events_per_s: catchupEventsPerS,
          ratio: catchupEventsPerS / ceiling.upsert_update_rows_per_s,
        },
        rss_mb: { streaming_peak: streamingPeakMb, large_transaction_peak: largePeakMb },
        large_transaction: {
          operations: sizes.largeTransaction,
          seconds: largeSeconds,
          operations_per_s: sizes.largeTransaction / largeSeconds,
        },
        verify: { ...verify, ratio: verify.rows_per_s / ceiling.copy_rows_per_s },
        cpu,
      };
      printTable(results);
      await mkdir(values.out, { recursive: true });
      const file = path.join(
        values.out,
        `${results.date.slice(0, 10)}-${os.hostname().replace(/[^A-Za-z0-9_-]/g, "_")}${values.quick ? "-quick" : ""}.json`,
      );
      await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
      log(`results written to ${path.relative(process.cwd(), file)}`);
      return 0;
    } finally {
      await watcher.end();
    }
  } finally {
    if (daemon?.running === true) await daemon.kill();
    await emulator?.close();
    await config.remove();
    await server?.stop();
  }
}

/** `key=value` of `--set`: numbers and booleans as such, anything else as text. */
function parseSetting(text: string): [string, number | boolean | string] {
  const at = text.indexOf("=");
  if (at <= 0) throw new Error(`--set ${text}: expected key=value`);
  const value = text.slice(at + 1);
  const typed =
    value === "true"
      ? true
      : value === "false"
        ? false
        : /^-?\d+(\.\d+)?$/.test(value)
          ? Number(value)
          : value;
  return [text.slice(0, at), typed];
}

/** `tsc -p tsconfig.build.json`: dist/ from the sources as they are now. */
function buildPackage(): void {
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  const built = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (built.status !== 0) {
    throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
  }
}

/** `verify --full --json` in a child process; its own figure (rows verified per second). */
async function runVerify(
  target: DaemonTarget,
): Promise<{ rows: number; rows_per_s: number; verdict: string }> {
  const child = spawn(
    process.execPath,
    [...BUILT_ENTRY, "--config", target.configPath, "verify", "--full", "--json"],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ARANGO_URL: target.arangoUrl,
        ARANGO_DATABASE: SOURCE_DATABASE,
        ARANGO_USERNAME: "root",
        ARANGO_PASSWORD: "",
        PG_URL: target.pgUrl,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  let parsed: { verdict?: string; stats?: { rowsVerified?: number; rowsPerSecond?: number } };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    throw new Error(
      `verify exited ${code} without JSON:\n${stdout.slice(-2000)}${stderr.slice(-2000)}`,
    );
  }
  const { verdict, stats } = parsed;
  if (
    verdict === undefined ||
    stats?.rowsVerified === undefined ||
    stats.rowsPerSecond === undefined
  ) {
    throw new Error(`verify answered an unexpected shape:\n${stdout.slice(0, 2000)}`);
  }
  return { rows: stats.rowsVerified, rows_per_s: stats.rowsPerSecond, verdict };
}

/** The documents in an order that alternates collections, so requests mix them. */
function interleave(documents: readonly BenchDocument[]): BenchDocument[] {
  const byCollection = BENCH_COLLECTIONS.map((c) => documents.filter((d) => d.collection === c));
  const mixed: BenchDocument[] = [];
  const longest = Math.max(...byCollection.map((l) => l.length));
  for (let i = 0; i < longest; i += 10) {
    for (const list of byCollection) mixed.push(...list.slice(i, i + 10));
  }
  return mixed;
}

/** One stream transaction inserting `operations` small results; returns its commit tick. */
async function largeTransaction(
  state: EmulatedServer,
  data: BenchData,
  operations: number,
): Promise<bigint> {
  const database = state.database(SOURCE_DATABASE);
  const results = database.collection("documents");
  const resume = data.documents.find((d) => d.collection === "resumes")?.document;
  const job = data.documents.find((d) => d.collection === "jobs")?.document;
  if (resume === undefined || job === undefined) throw new Error("no resume or job to refer to");
  const trx = state.beginTransaction(database, { write: ["documents"] });
  state.write(results, trx, false, (writes) => {
    for (let i = 0; i < operations; i++) {
      state.insert(
        writes,
        results,
        {
          type: "score",
          user_id: resume["user_id"],
          resume_id: resume._key,
          job_id: job._key,
          status: "completed",
          score_data: { overall_score: i % 100 },
        },
        {},
      );
    }
  });
  state.commitTransaction(database, trx.id);
  await Promise.resolve();
  return lastWriteTick(state);
}

async function describeEnvironment(serverUrl: string): Promise<BenchResults["environment"]> {
  const settings = await withClient(serverUrl, async (client) => {
    const result = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN
         ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level',
          'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'jit')`,
    );
    return Object.fromEntries(result.rows.map((r) => [r.name, r.setting]));
  });
  const cpus = os.cpus();
  return {
    machine: os.hostname(),
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgresql: settings["server_version"] ?? "unknown",
    postgresql_settings: settings,
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
