import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * `arango-pg-sync demo` as a user runs it: a child process that starts its own PostgreSQL and
 * emulator, so nothing of the suite's server is involved. Both ways of ending it are covered:
 * `--duration` and SIGTERM (what Ctrl-C amounts to); either way no PostgreSQL may survive it.
 */

interface Run {
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string): Promise<void>;
}

function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "demo", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of waiters.filter((w) => stdout.includes(w.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor: (text) =>
      stdout.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void exited.then(() =>
              reject(new Error(`demo exited before printing '${text}':\n${stdout}\n${stderr}`)),
            );
          }),
  };
}

/** Stops a demo that outlives its test the way a user would, so its PostgreSQL goes too. */
async function finish(run: Run, withinMs: number): Promise<number | null> {
  const timer = setTimeout(() => run.child.kill("SIGTERM"), withinMs);
  try {
    return await run.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The PostgreSQL the demo announced: its postmaster's pid and its temp dir. */
function postgresOf(stdout: string): { pid: number; baseDir: string } {
  const match = /\(pid (\d+), runs as \S+; data in (\S+)\/data\)/.exec(stdout);
  expect(match, stdout).not.toBeNull();
  return { pid: Number(match?.[1]), baseDir: match?.[2] ?? "" };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function expectNothingLeft(stdout: string): void {
  const { pid, baseDir } = postgresOf(stdout);
  expect(isRunning(pid)).toBe(false);
  expect(existsSync(baseDir)).toBe(false);
  const processes = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  expect(processes.split("\n").filter((line) => line.includes(baseDir))).toEqual([]);
}

function rowsPerTable(stdout: string): Record<string, number> {
  const summary = stdout.slice(stdout.indexOf("\nsummary\n"));
  const rows: Record<string, number> = {};
  for (const match of summary.matchAll(/^ {2}rows (\S+)\s+(\d+)$/gm)) {
    rows[match[1] ?? ""] = Number(match[2]);
  }
  return rows;
}

describe("arango-pg-sync demo", () => {
  it("with --duration: loads, mirrors under load, catches up, reports a consistent mirror and exits 0", async () => {
    const run = startDemo(["--duration", "8", "--documents", "600"]);
    const code = await finish(run, 55_000);
    const stdout = run.stdout();
    expect(code, `${stdout}\n${run.stderr()}`).toBe(0);
    expect(stdout).toContain("snapshot done");
    const rows = rowsPerTable(stdout);
    expect(Object.keys(rows).sort()).toEqual(["jobs", "optimization_results", "resumes"]);
    for (const count of Object.values(rows)) expect(count).toBeGreaterThan(0);
    expect(stdout).toMatch(/^ {2}lag\s+0\.0 s, 0 changes behind/m);
    expect(stdout).toMatch(/^ {2}verdict\s+consistent: \d+ rows equal/m);
    expect(stdout).toMatch(/^ {2}writes made\s+[1-9]\d* /m);
    expectNothingLeft(stdout);
  }, 60_000);

  it("on SIGTERM: stops the load and the daemon, still reports, and leaves nothing running", async () => {
    const run = startDemo(["--documents", "200", "--rate", "20"]);
    await run.waitFor("snapshot done");
    run.child.kill("SIGTERM");
    const code = await finish(run, 40_000);
    const stdout = run.stdout();
    expect(code, `${stdout}\n${run.stderr()}`).toBe(0);
    expect(stdout).toContain("SIGTERM: stopping");
    expect(stdout).toMatch(/^ {2}verdict\s+consistent/m);
    expectNothingLeft(stdout);
  }, 60_000);
});
