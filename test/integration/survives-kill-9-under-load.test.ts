/**
 * DESIGN.md §2 invariant 1 (acceptance item 3 of the sync pipeline): the daemon, a child process,
 * is killed with SIGKILL at least 20 times under a concurrent write load, at every kind of point
 * (during the dump, with WAL read but not applied, inside a source transaction, inside its own
 * PostgreSQL transaction, idle after a commit, and at random), and restarted each time; once
 * the load stops and `snapshot` has run to caught-up, PostgreSQL equals the mapped ArangoDB row
 * for row, with no duplicate, no lost and no resurrected row.
 *
 * The run is seeded; a failure prints the seed and a line per kill, and CRASH_SEED=<seed>
 * replays the same writes, the same kill plan and the same delays (the interleaving with the
 * daemon still depends on timing). CRASH_VERBOSE=1 prints the lines as the kills happen.
 */
import { describe, expect, it } from "vitest";
import { REQUIRED_CLASSES, runCrashLoop } from "../support/crash-loop.js";
import { useTestDatabase } from "../support/test-database.js";

const database = useTestDatabase();
const seed = Number(process.env["CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Number(process.env["CRASH_KILLS"] ?? 20);
const VERBOSE = process.env["CRASH_VERBOSE"] === "1";

describe("kill -9 under load", () => {
  it("ends with PostgreSQL equal to ArangoDB, whatever the daemon was doing when killed", async ({
    onTestFailed,
  }) => {
    const lines: string[] = [];
    const log = (line: string): void => {
      lines.push(line);
      if (VERBOSE) process.stdout.write(`${line}\n`);
    };
    onTestFailed(() => {
      process.stderr.write(
        `survives-kill-9-under-load failed with seed ${seed}; replay with CRASH_SEED=${seed}\n` +
          `${lines.join("\n")}\n`,
      );
    });
    const result = await runCrashLoop({
      pgUrl: database.url,
      seed,
      kills: KILLS,
      initialSize: 1000,
      log,
    });
    log(
      `hits: ${JSON.stringify(result.hits)}; ${result.operations} writes; ` +
        `${JSON.stringify(result.documents)} documents; ${result.durationMs} ms`,
    );

    expect(result.problems, `seed ${seed}`).toEqual([]);
    expect(result.kills.length).toBeGreaterThanOrEqual(KILLS);
    for (const kind of REQUIRED_CLASSES) {
      expect(result.hits[kind], `kills that landed in ${kind} (seed ${seed})`).toBeGreaterThan(0);
    }
    // The load really ran against the daemon, and the data is not trivially small.
    expect(result.operations).toBeGreaterThan(1000);
    expect(result.rows["resumes"]).toBeGreaterThan(1000);
    expect(result.rows["optimization_results"]).toBeGreaterThan(100);
  }, 600_000);
});
