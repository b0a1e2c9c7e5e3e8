/**
 * The long kill -9 loop (DESIGN.md §10): the crash test's loop (test/support/crash-loop.ts) with
 * many more kills, standalone. It starts its own throwaway PostgreSQL (the test harness's
 * postgres-server.ts: the embedded PostgreSQL 18, or the installation in TEST_PG_BIN) and its own
 * emulated ArangoDB, runs the daemon as a child process under a write load, kills it with
 * SIGKILL `--kills` times at every kind of point, lets `snapshot` catch up, and compares
 * PostgreSQL with the mapped source.
 *
 *   npm run chaos -- --kills 100 --seed 42
 *
 * Exit codes: 0 PostgreSQL equals the source and every kind of kill point was hit, 1 a
 * mismatch, a kind never hit, or a daemon that stopped on its own; 2 bad arguments. On a failure
 * the PostgreSQL data directory is kept for inspection and its location printed; the seed
 * replays the same writes, kill plan and delays.
 */
import { parseArgs } from "node:util";
import { migrate } from "../src/sink/migrate.js";
import {
  KILL_CLASSES,
  REQUIRED_CLASSES,
  type CrashLoopResult,
  runCrashLoop,
} from "../test/support/crash-loop.js";
import { createDatabase, databaseUrl, loadBetterAuthFixture } from "../test/support/databases.js";
import { embeddedPostgresBinDir, startPostgresServer } from "../test/support/postgres-server.js";

const USAGE = `usage: npm run chaos -- [--kills N] [--seed S] [--size N] [--gaps N]

  --kills N   SIGKILLs to send (default 100)
  --seed S    seed of the write load, the kill plan and the delays (default: random)
  --size N    resumes in the initial data, plus half as many jobs and results (default 1500)
  --gaps N    times the WAL is pruned under the dead daemon, forcing a re-snapshot (default 3)

PostgreSQL: the embedded server, or the binaries in TEST_PG_BIN (e.g. $(pg_config --bindir)).`;

function integerOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new RangeError(`--${name} must be a non-negative integer, not '${value}'`);
  }
  return parsed;
}

function summary(result: CrashLoopResult): string {
  const width = Math.max(...KILL_CLASSES.map((c) => c.length));
  const lines = [
    "",
    `seed ${result.seed}: ${result.kills.length} kills in ${(result.durationMs / 1000).toFixed(1)} s`,
    "kill points hit:",
    ...KILL_CLASSES.map((c) => `  ${c.padEnd(width)}  ${result.hits[c]}`),
    `writes: ${result.operations} (${[...result.operationCounts]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, count]) => `${kind} ${count}`)
      .join(", ")})`,
    `documents at the end: ${Object.entries(result.documents)
      .map(([collection, count]) => `${collection} ${count}`)
      .join(", ")}`,
    `rows at the end:      ${Object.entries(result.rows)
      .map(([table, count]) => `${table} ${count}`)
      .join(", ")}`,
    `snapshots started: ${result.snapshotsStarted}`,
  ];
  return lines.join("\n");
}

async function main(): Promise<number> {
  let options: { kills: number; seed: number; size: number; gaps: number };
  try {
    const { values } = parseArgs({
      options: {
        kills: { type: "string" },
        seed: { type: "string" },
        size: { type: "string" },
        gaps: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    options = {
      kills: integerOption(values.kills, "kills", 100),
      seed: integerOption(values.seed, "seed", Math.floor(Math.random() * 2 ** 31)),
      size: integerOption(values.size, "size", 1500),
      gaps: integerOption(values.gaps, "gaps", 3),
    };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }

  const pgBin = process.env["TEST_PG_BIN"];
  const binDir = pgBin !== undefined && pgBin !== "" ? pgBin : await embeddedPostgresBinDir();
  const server = await startPostgresServer({
    binDir,
    // A throwaway cluster: durability of the cluster itself is not what is tested here.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
  });
  process.stdout.write(`PostgreSQL ${server.version} on 127.0.0.1:${server.port}\n`);
  let keep = false;
  try {
    await createDatabase(server.url, "chaos");
    const pgUrl = databaseUrl(server.url, "chaos");
    await loadBetterAuthFixture(pgUrl);
    const migrated = await migrate({ pgUrl });
    if (migrated.error !== undefined) throw migrated.error;
    process.stdout.write(
      `chaos: seed ${options.seed}, ${options.kills} kills, ${options.size} resumes, ${options.gaps} WAL gaps\n`,
    );
    const result = await runCrashLoop({
      pgUrl,
      seed: options.seed,
      kills: options.kills,
      initialSize: options.size,
      gaps: options.gaps,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${summary(result)}\n`);
    const missed = REQUIRED_CLASSES.filter((c) => result.hits[c] === 0);
    const problems = [...result.problems, ...missed.map((kind) => `no kill landed in ${kind}`)];
    if (problems.length === 0) {
      process.stdout.write("verdict: PASS — PostgreSQL equals the mapped ArangoDB\n");
      return 0;
    }
    keep = true;
    process.stdout.write(
      `verdict: FAIL (replay with --seed ${result.seed})\n${problems.map((p) => `  - ${p}`).join("\n")}\n`,
    );
    return 1;
  } catch (error) {
    // The daemon stopped on its own, or the loop could not go on: keep the evidence.
    keep = true;
    process.stdout.write(
      `verdict: FAIL (replay with --seed ${options.seed})
  - ${error instanceof Error ? (error.stack ?? error.message) : String(error)}
`,
    );
    return 1;
  } finally {
    await server.stop({ keepData: keep });
    if (keep) process.stdout.write(`PostgreSQL data kept in ${server.dataDir}\n`);
  }
}

process.exitCode = await main();
