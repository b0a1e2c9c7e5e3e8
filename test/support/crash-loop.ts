/**
 * The kill -9 loop of DESIGN.md §10 and §2 invariant 1, shared by the crash test and
 * `npm run chaos`: an emulated ArangoDB under a concurrent write load, the daemon as a child
 * process (`arango-pg-sync run`), killed with SIGKILL over and over at chosen kinds of points and
 * restarted each time; at the end the load stops, `arango-pg-sync snapshot` runs to caught-up,
 * and PostgreSQL must hold exactly the mapped state of ArangoDB: row for row, no duplicate, no
 * lost row, no removed row brought back.
 *
 * Each kill aims at one kind of point and is then classified from evidence, not from timing:
 * the checkpoint the daemon left behind, the replication calls it made (replication-tap.ts),
 * the WAL (whether its position was inside a source transaction), and for a kill inside a
 * PostgreSQL transaction a row lock the loop itself holds on the checkpoint, so that transaction
 * cannot have committed when the signal is sent.
 */
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import type { AtsproUser } from "../../src/emulator/atspro-generator.js";
import { Random } from "../../src/emulator/atspro-generator.js";
import type { Emulator } from "../../src/emulator/emulator.js";
import type { WriteAheadLog, WriteBatch } from "../../src/emulator/write-ahead-log.js";
import type { CompiledMapping } from "../../src/mapping/compile-mapping.js";
import { DaemonProcess, type DaemonTarget, writeDaemonConfig } from "./daemon-process.js";
import { ReplicationTap } from "./replication-tap.js";
import {
  SOURCE_DATABASE,
  atsproMapping,
  expectedMirror,
  generateAtspro,
  insertAll,
  readMirror,
  seedUsers,
  startAtsproSource,
} from "./sync-fixture.js";
import { WriteLoad } from "./write-load.js";

/** Where a SIGKILL landed, as the evidence shows it. */
export type KillClass =
  /** Snapshot (or re-snapshot) in progress: at least one dump call made, the snapshot unfinished. */
  | "dump"
  /** Streaming; the daemon had WAL from `wal/tail` that it had not committed. */
  | "tail-unapplied"
  /** Streaming; the daemon had read a source transaction's begin but not its commit. */
  | "mid-transaction"
  /** A PostgreSQL transaction of the daemon was open: rows written, checkpoint not committed. */
  | "mid-apply"
  /** Streaming; everything read was committed and no `wal/tail` call was in flight. */
  | "after-commit"
  /** Streaming; everything read was committed, and a `wal/tail` call was in flight. */
  | "awaiting-tail"
  /** Before the first replication call of the run (loading config, connecting). */
  | "startup";

export const KILL_CLASSES: readonly KillClass[] = [
  "dump",
  "tail-unapplied",
  "mid-transaction",
  "mid-apply",
  "after-commit",
  "awaiting-tail",
  "startup",
];

type AimableClass = Exclude<KillClass, "awaiting-tail" | "startup">;

/** The classes of acceptance item 3: the loop keeps killing until each has been hit. */
export const REQUIRED_CLASSES: readonly AimableClass[] = [
  "dump",
  "tail-unapplied",
  "mid-transaction",
  "mid-apply",
  "after-commit",
];

/** What a kill aims at; `gap` prunes the WAL first so the daemon has to re-snapshot. */
export type Aim = AimableClass | "random" | "gap";

export interface CrashLoopOptions {
  /** A migrated database with better-auth's "user" table (the test template). */
  readonly pgUrl: string;
  readonly seed: number;
  /** Kills to make; more are made when a required class has not been hit yet. */
  readonly kills: number;
  /** Resumes in the initial data (plus half as many jobs and results). */
  readonly initialSize: number;
  /** Times the WAL is pruned under the dead daemon, forcing a re-snapshot (invariant 5). */
  readonly gaps?: number;
  /** Extra kills allowed for classes not hit by the planned ones. */
  readonly extraKills?: number;
  readonly log?: (line: string) => void;
}

export interface KillRecord {
  readonly iteration: number;
  readonly aim: Aim;
  readonly hit: KillClass;
  /** How long after the aimed-at moment (for `random`: the first replication call) it came. */
  readonly delayMs: number;
  readonly detail: string;
}

export interface CrashLoopResult {
  readonly seed: number;
  readonly kills: readonly KillRecord[];
  readonly hits: Readonly<Record<KillClass, number>>;
  /** Documents in the mapped collections at the end. */
  readonly documents: Readonly<Record<string, number>>;
  /** Rows in the target tables at the end. */
  readonly rows: Readonly<Record<string, number>>;
  readonly operations: number;
  readonly operationCounts: ReadonlyMap<string, number>;
  readonly snapshotsStarted: number;
  /** Everything that is wrong; empty when PostgreSQL equals the mapped source. */
  readonly problems: readonly string[];
  readonly durationMs: number;
}

/** The sync settings: small chunks and batches, so kills land in the middle of work. */
const SYNC_SETTINGS = {
  tailChunkSize: 65536,
  dumpChunkSize: 65536,
  maxBatchChanges: 300,
  // Big source transactions are staged in parts, so kills land between staged parts too.
  maxOperationsPerUnit: 150,
  batchTtlSeconds: 60,
  parkedRetrySeconds: 1,
  retryBudget: 20,
};

const DAEMON_APPLICATION = "arango-pg-sync";

interface Checkpoint {
  phase: string;
  appliedTick: bigint | null;
}

/** The evidence about the daemon's replication calls at the instant of the kill. */
interface TapEvidence {
  dumps: number;
  tails: number;
  /** `from` of the newest tail request: the daemon had processed the WAL up to here. */
  requestedFrom: bigint;
  /** `lastincluded` of the newest answered tail request (0 when empty or none). */
  answeredUpTo: bigint;
  inFlight: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runCrashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const random = new Random(options.seed);
  const mapping = atsproMapping();
  // The emulator's WAL retention follows the daemon's tail position, which runs ahead of its
  // durable checkpoint by up to a batch, and prunes one write batch at a time (a real server
  // prunes whole WAL files): left on, a restart would often find its WAL gone and re-snapshot,
  // which is correct (invariant 5) but slow. Gaps are forced instead, `gaps` times.
  const emulator = await startAtsproSource({
    replication: { walFileTimeoutInitialMs: 24 * 3600 * 1000 },
  });
  const tap = await ReplicationTap.start(emulator.url, SYNC_SETTINGS.tailChunkSize);
  const config = await writeDaemonConfig(SYNC_SETTINGS);
  const client = new pg.Client({ connectionString: options.pgUrl });
  await client.connect();
  let daemon: DaemonProcess | undefined;
  let load: WriteLoad | undefined;
  try {
    const data = generateAtspro(options.seed, options.initialSize);
    await seedUsers(options.pgUrl, data.users);
    insertAll(emulator.state, "resumes", data.resumes);
    insertAll(emulator.state, "jobs", data.jobs);
    insertAll(emulator.state, "documents", data.results);
    const activeLoad = new WriteLoad(emulator.state, { seed: options.seed + 1, users: data.users });
    load = activeLoad;
    const target: DaemonTarget = {
      arangoUrl: tap.url,
      pgUrl: options.pgUrl,
      configPath: config.path,
    };
    const loop = new KillLoop(options, random, emulator, tap, client, activeLoad, target, log);
    activeLoad.start();
    const kills = await loop.run((d) => (daemon = d));
    activeLoad.stop();
    emulator.faults.clear();

    log("load stopped; running `snapshot` to caught-up");
    tap.reset();
    const finalRun = await DaemonProcess.start("snapshot", target);
    daemon = finalRun;
    const exit = await finalRun.exit(180_000);
    const problems: string[] = [];
    if (exit.code !== 0) {
      problems.push(`snapshot exited with ${exit.code ?? exit.signal}:\n${finalRun.log}`);
    }
    problems.push(
      ...(await compareWithSource(
        options.pgUrl,
        client,
        mapping,
        emulator,
        data.users,
        activeLoad.removedKeys(),
      )),
    );
    const hits = Object.fromEntries(KILL_CLASSES.map((c) => [c, 0])) as Record<KillClass, number>;
    for (const kill of kills) hits[kill.hit] += 1;
    return {
      seed: options.seed,
      kills,
      hits,
      documents: Object.fromEntries(
        mapping.tables.map((t) => [
          t.collection,
          emulator.state.database(SOURCE_DATABASE).collection(t.collection).documents.size,
        ]),
      ),
      rows: await rowCounts(client, mapping),
      operations: activeLoad.operations,
      operationCounts: activeLoad.counts,
      snapshotsStarted: await countEvents(client, "snapshot:started"),
      problems,
      durationMs: Date.now() - started,
    };
  } finally {
    load?.stop();
    if (daemon?.running === true) await daemon.kill();
    await client.end().catch(() => undefined);
    await tap.close();
    await emulator.close();
    await config.remove();
  }
}

class KillLoop {
  private readonly kills: KillRecord[] = [];
  private readonly hits = new Map<KillClass, number>();
  private readonly started = Date.now();
  private truncateAt = -1;

  constructor(
    private readonly options: CrashLoopOptions,
    private readonly random: Random,
    private readonly emulator: Emulator,
    private readonly tap: ReplicationTap,
    private readonly client: pg.Client,
    private readonly load: WriteLoad,
    private readonly target: DaemonTarget,
    private readonly log: (line: string) => void,
  ) {}

  async run(current: (daemon: DaemonProcess) => void): Promise<KillRecord[]> {
    const planned = this.plan();
    // One truncate of a mapped collection, late enough that the daemon streams it.
    this.truncateAt = Math.floor((planned.length * 2) / 3);
    const extra = this.options.extraKills ?? 10;
    for (let iteration = 0; ; iteration++) {
      let aim = planned[iteration];
      if (aim === undefined) {
        const missing = REQUIRED_CLASSES.find((c) => (this.hits.get(c) ?? 0) === 0);
        if (missing === undefined || iteration >= planned.length + extra) break;
        // Once the first snapshot is done, only a re-snapshot has a dump to kill.
        aim = missing === "dump" ? "gap" : missing;
      }
      const record = await this.iteration(iteration, aim, current);
      this.kills.push(record);
      this.hits.set(record.hit, (this.hits.get(record.hit) ?? 0) + 1);
      this.log(
        `${((Date.now() - this.started) / 1000).toFixed(1)} s kill ${iteration + 1}: aimed at ${aim}, ` +
          `hit ${record.hit} (+${record.delayMs} ms; ${record.detail})`,
      );
    }
    return this.kills;
  }

  /**
   * The first kills land in the initial snapshot; then the streaming classes in a shuffled
   * rotation with purely random kills mixed in, and the WAL gaps spread over the run.
   */
  private plan(): Aim[] {
    const plan: Aim[] = ["dump", "dump", "dump"];
    const rotation: Aim[] = ["mid-transaction", "tail-unapplied", "mid-apply", "after-commit"];
    while (plan.length < this.options.kills) {
      const round: Aim[] = [...rotation, "random"];
      for (let i = round.length - 1; i > 0; i--) {
        const j = this.random.int(0, i);
        [round[i], round[j]] = [round[j] as Aim, round[i] as Aim];
      }
      plan.push(...round);
    }
    plan.length = Math.max(this.options.kills, 3);
    const gaps = this.options.gaps ?? 0;
    for (let g = 0; g < gaps; g++) {
      // Two kills in a row during the re-snapshot: the second restart resumes it.
      const at = Math.floor(((g + 1) * plan.length) / (gaps + 1));
      plan.splice(at, 2, "gap", "dump");
    }
    return plan;
  }

  private async iteration(
    iteration: number,
    aim: Aim,
    current: (daemon: DaemonProcess) => void,
  ): Promise<KillRecord> {
    await this.prepare(aim);
    if (iteration === this.truncateAt) this.load.truncate("documents");
    this.tap.reset();
    const daemon = await DaemonProcess.start("run", this.target);
    current(daemon);
    const startedAt = Date.now();
    let lock: pg.Client | undefined;
    let delayMs = 0;
    let aimed = false;
    try {
      const outcome = await this.aim(aim, daemon, startedAt);
      lock = outcome.lock;
      delayMs = outcome.delayMs;
      aimed = outcome.reached;
      if (!daemon.running) {
        const exit = await daemon.exited;
        throw new Error(
          `the daemon exited on its own (code ${exit.code ?? exit.signal}) in kill ${iteration + 1}:\n${daemon.log.slice(-4000)}`,
        );
      }
      // Nothing runs between reading the evidence and sending the signal (one synchronous turn).
      const evidence = this.evidence();
      daemon.signal("SIGKILL");
      await daemon.exited;
      if (lock !== undefined) {
        await lock.query("ROLLBACK");
        await lock.end();
        lock = undefined;
      }
      await this.waitForDaemonBackends();
      const checkpoint = await readCheckpoint(this.client);
      const hit = this.classify(aim === "mid-apply" && aimed, evidence, checkpoint);
      return {
        iteration,
        aim,
        hit,
        delayMs,
        detail: describe(evidence, checkpoint),
      };
    } finally {
      if (lock !== undefined) await lock.end().catch(() => undefined);
      this.emulator.faults.clear();
    }
  }

  /** What the daemon finds when it starts: a backlog, a big transaction, a WAL gap, latency. */
  private async prepare(aim: Aim): Promise<void> {
    switch (aim) {
      case "tail-unapplied":
        // Single-document writes: a kill in this backlog is not inside a source transaction.
        this.load.burst(this.random.int(200, 400), { transactions: false });
        this.emulator.faults.add({
          pathPrefix: "/_api/wal/tail",
          action: { kind: "latency", ms: 40 },
        });
        return;
      case "mid-transaction":
        this.load.burst(this.random.int(20, 100));
        this.load.bigTransaction(this.random.int(60, 100));
        this.emulator.faults.add({
          pathPrefix: "/_api/wal/tail",
          action: { kind: "latency", ms: 30 },
        });
        return;
      case "gap": {
        const pruned = this.emulator.pruneWal({ force: true });
        this.log(`WAL pruned under the dead daemon: ${pruned.removed} write batches removed`);
        return;
      }
      default:
        await Promise.resolve();
    }
  }

  /** Waits for the moment `aim` describes; `reached` is false when it did not come in time. */
  private async aim(
    aim: Aim,
    daemon: DaemonProcess,
    startedAt: number,
  ): Promise<{ reached: boolean; delayMs: number; lock?: pg.Client }> {
    const tap = this.tap;
    const wal = this.emulator.state.wal;
    const streaming = (): boolean => tap.tails.length > 0 || !daemon.running;
    // The first streaming kill may wait for the whole initial snapshot.
    const deadline = 120_000;
    switch (aim) {
      case "dump":
      case "gap": {
        const reached = await tap.until(() => tap.dumps > 0 || !daemon.running, deadline);
        const delayMs = this.random.int(0, 1500);
        await sleep(delayMs);
        return { reached, delayMs };
      }
      case "random": {
        // From the daemon's first call to ArangoDB: before it, every kill is a startup kill.
        const reached = await tap.until(
          () => tap.dumps > 0 || tap.tails.length > 0 || !daemon.running,
          deadline,
        );
        const delayMs = this.random.int(0, 3000);
        await sleep(delayMs);
        return { reached, delayMs };
      }
      case "tail-unapplied": {
        // An answer with more to come that does not end inside a source transaction.
        const reached = await tap.until(() => {
          const answered = tap.lastAnswered;
          const upTo = answered?.lastIncluded ?? 0n;
          return (
            !daemon.running ||
            (answered?.checkMore === true && upTo > 0n && groupAround(wal, upTo) === undefined)
          );
        }, deadline);
        const delayMs = this.random.int(0, 80);
        await sleep(delayMs);
        return { reached, delayMs };
      }
      case "mid-transaction": {
        // An answer that ends inside a source transaction (the big one prepared, or another).
        const reached = await tap.until(() => {
          const upTo = tap.lastAnswered?.lastIncluded ?? 0n;
          return !daemon.running || (upTo > 0n && groupAround(wal, upTo) !== undefined);
        }, deadline);
        const delayMs = this.random.int(0, 40);
        await sleep(delayMs);
        return { reached, delayMs };
      }
      case "mid-apply": {
        await tap.until(streaming, deadline);
        const lock = new pg.Client({ connectionString: this.options.pgUrl });
        await lock.connect();
        await lock.query("BEGIN");
        await lock.query(
          "SELECT 1 FROM arango_sync.checkpoint WHERE source_database = $1 FOR UPDATE",
          [SOURCE_DATABASE],
        );
        // The daemon's next commit writes the checkpoint last: it now waits with its rows written.
        const reached = await this.poll(
          async () => (await this.daemonWaitingForLock()) || !daemon.running,
          30_000,
        );
        const delayMs = this.random.int(0, 150);
        await sleep(delayMs);
        return { reached, delayMs, lock };
      }
      case "after-commit": {
        const until = Date.now() + 30_000;
        while (Date.now() < until && daemon.running) {
          const caughtUp = await tap.until(() => {
            const answered = tap.lastAnswered;
            return (
              answered !== undefined &&
              answered.checkMore === false &&
              tap.latestTail === answered &&
              tap.tailsInFlight === 0
            );
          }, 30_000);
          const answered = tap.lastAnswered;
          if (!caughtUp || answered === undefined) continue;
          const upTo = maxTick(answered.from, answered.lastIncluded ?? 0n);
          const committed = await this.poll(async () => {
            const checkpoint = await readCheckpoint(this.client);
            return (checkpoint?.appliedTick ?? -1n) >= upTo;
          }, 1_000);
          if (!committed) continue;
          // The daemon now waits (at least ~190 ms) before it polls again.
          const delayMs = this.random.int(0, 60);
          await sleep(delayMs);
          if (tap.latestTail === answered && tap.tailsInFlight === 0) {
            return { reached: true, delayMs };
          }
        }
        return { reached: false, delayMs: Date.now() - startedAt };
      }
    }
  }

  private evidence(): TapEvidence {
    return {
      dumps: this.tap.dumps,
      tails: this.tap.tails.length,
      requestedFrom: this.tap.latestTail?.from ?? 0n,
      answeredUpTo: this.tap.lastAnswered?.lastIncluded ?? 0n,
      inFlight: this.tap.tailsInFlight,
    };
  }

  private classify(
    heldInApply: boolean,
    evidence: TapEvidence,
    checkpoint: Checkpoint | undefined,
  ): KillClass {
    if (heldInApply) return "mid-apply";
    if (
      checkpoint === undefined ||
      checkpoint.appliedTick === null ||
      checkpoint.phase === "snapshotting" ||
      checkpoint.phase === "resnapshotting"
    ) {
      return evidence.dumps > 0 ? "dump" : "startup";
    }
    if (evidence.tails === 0) return "startup";
    const applied = checkpoint.appliedTick;
    const read = maxTick(evidence.requestedFrom, evidence.answeredUpTo);
    if (read > applied) {
      // Inside a source transaction that began after the checkpoint: its begin read, its
      // commit not.
      const group = groupAround(this.emulator.state.wal, read);
      return group !== undefined && group.start > applied ? "mid-transaction" : "tail-unapplied";
    }
    return evidence.inFlight > 0 ? "awaiting-tail" : "after-commit";
  }

  private async daemonWaitingForLock(): Promise<boolean> {
    const result = await this.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1
          AND wait_event_type = 'Lock' AND xact_start IS NOT NULL`,
      [DAEMON_APPLICATION],
    );
    return (result.rows[0]?.n ?? 0) > 0;
  }

  /**
   * A killed client's backend ends once it notices the closed socket; until then a COMMIT it
   * had received may still land. Reading the checkpoint before that would misjudge the kill.
   */
  private async waitForDaemonBackends(): Promise<void> {
    const gone = await this.poll(async () => {
      const result = await this.client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE $1`,
        [`${DAEMON_APPLICATION}%`],
      );
      return (result.rows[0]?.n ?? 0) === 0;
    }, 30_000);
    if (!gone) throw new Error("the killed daemon's PostgreSQL sessions did not end");
  }

  private async poll(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (await condition()) return true;
      if (Date.now() > until) return false;
      await sleep(5);
    }
  }
}

function maxTick(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/**
 * The source transaction (a write batch opened by a 2200 and closed by a 2201) that `tick` lies
 * in without being its last tick: a reader that got up to `tick` has its begin, not its commit.
 */
function groupAround(wal: WriteAheadLog, tick: bigint): WriteBatch | undefined {
  const batch = wal.batchAt(wal.indexOfBatchReaching(tick));
  if (batch === undefined) return undefined;
  const inside = batch.records[0]?.kind === "begin" && batch.start <= tick && tick < batch.end;
  return inside ? batch : undefined;
}

function describe(evidence: TapEvidence, checkpoint: Checkpoint | undefined): string {
  const applied = checkpoint?.appliedTick ?? "none";
  return (
    `checkpoint ${checkpoint?.phase ?? "none"}@${applied}, ${evidence.dumps} dumps, ` +
    `${evidence.tails} tails, read to ${maxTick(evidence.requestedFrom, evidence.answeredUpTo)}` +
    (evidence.inFlight > 0 ? ", tail in flight" : "")
  );
}

async function readCheckpoint(client: pg.Client): Promise<Checkpoint | undefined> {
  const result = await client.query<{ phase: string; applied_tick: string | null }>(
    "SELECT phase, applied_tick::text FROM arango_sync.checkpoint WHERE source_database = $1",
    [SOURCE_DATABASE],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    phase: row.phase,
    appliedTick: row.applied_tick === null ? null : BigInt(row.applied_tick),
  };
}

export async function countEvents(client: pg.Client, kind: string): Promise<number> {
  const result = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM arango_sync.control_events WHERE kind = $1",
    [kind],
  );
  return result.rows[0]?.n ?? 0;
}

async function rowCounts(
  client: pg.Client,
  mapping: CompiledMapping,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of mapping.tables) {
    const result = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${client.escapeIdentifier(table.table)}`,
    );
    counts[table.table] = result.rows[0]?.n ?? 0;
  }
  return counts;
}

/**
 * Every way PostgreSQL can differ from the mapped source, as readable lines: rows missing
 * (lost), rows extra (resurrected or never removed), rows with other values, duplicate keys,
 * and removed keys that are present.
 */
export async function compareWithSource(
  pgUrl: string,
  client: pg.Client,
  mapping: CompiledMapping,
  emulator: Emulator,
  users: readonly AtsproUser[],
  removed: Readonly<Record<string, readonly string[]>>,
): Promise<string[]> {
  const problems: string[] = [];
  const actual = await readMirror(pgUrl, mapping);
  const expected = expectedMirror(emulator.state, mapping, new Set(users.map((user) => user.id)));
  for (const table of mapping.tables) {
    const have = actual[table.table] ?? {};
    const want = expected[table.table] ?? {};
    const lost = Object.keys(want).filter((key) => !(key in have));
    const extra = Object.keys(have).filter((key) => !(key in want));
    const differing = Object.keys(want).filter(
      (key) => key in have && !isDeepStrictEqual(have[key], want[key]),
    );
    if (lost.length > 0) {
      problems.push(
        `${table.table}: ${lost.length} rows lost, e.g. ${lost.slice(0, 5).join(", ")}`,
      );
    }
    if (extra.length > 0) {
      problems.push(
        `${table.table}: ${extra.length} rows PostgreSQL should not have, e.g. ${extra.slice(0, 5).join(", ")}`,
      );
    }
    for (const key of differing.slice(0, 5)) {
      problems.push(
        `${table.table} ${key} differs:\n  have ${JSON.stringify(have[key])}\n  want ${JSON.stringify(want[key])}`,
      );
    }
    if (differing.length > 5) {
      problems.push(`${table.table}: ${differing.length} rows differ in all`);
    }
    const resurrected = (removed[table.table] ?? []).filter((key) => key in have);
    if (resurrected.length > 0) {
      problems.push(
        `${table.table}: ${resurrected.length} removed keys are back, e.g. ${resurrected.slice(0, 5).join(", ")}`,
      );
    }
    const duplicates = await client.query<{ rows: number; keys: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT legacy_id)::int AS keys
         FROM ${client.escapeIdentifier(table.table)}`,
    );
    const counted = duplicates.rows[0];
    if (counted !== undefined && counted.rows !== counted.keys) {
      problems.push(
        `${table.table}: ${counted.rows} rows for ${counted.keys} keys (duplicates or NULL legacy_id)`,
      );
    }
  }
  return problems;
}
