/**
 * Where the CPU goes during a phase: seconds used by the daemon process, by every PostgreSQL
 * process (backends, WAL writer, checkpointer, autovacuum), and by the benchmark's own process
 * (the emulator and the load), next to the wall time and the machine's cores. Read from /proc,
 * so it needs Linux; elsewhere the figures are absent.
 */
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";

const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds; undefined once it is gone. */
function processSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: count fields after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds of all processes named "postgres", exited children of the postmaster included. */
function postgresSeconds(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime, and the waited-for children's cutime, cstime.
      total +=
        (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) /
        TICKS_PER_SECOND;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

export interface CpuShare {
  readonly wall_s: number;
  readonly cores: number;
  readonly daemon_cpu_s: number;
  readonly postgres_cpu_s: number;
  readonly bench_cpu_s: number;
}

export class CpuMeter {
  private readonly startedAt = performance.now();
  private readonly postgresAtStart = postgresSeconds();
  private readonly benchAtStart = process.cpuUsage();
  private daemonAtStart: number | undefined;
  private daemonLast: number | undefined;
  private readonly timer: NodeJS.Timeout;

  /** `daemonPid` is sampled every 200 ms, so a process that exits keeps its last reading. */
  constructor(private readonly daemonPid: () => number | undefined) {
    this.timer = setInterval(() => {
      this.sampleDaemon();
    }, 200);
    this.sampleDaemon();
  }

  private sampleDaemon(): void {
    const pid = this.daemonPid();
    if (pid === undefined) return;
    const seconds = processSeconds(pid);
    if (seconds === undefined) return;
    this.daemonAtStart ??= seconds;
    this.daemonLast = seconds;
  }

  stop(): CpuShare {
    this.sampleDaemon();
    clearInterval(this.timer);
    const bench = process.cpuUsage(this.benchAtStart);
    return {
      wall_s: (performance.now() - this.startedAt) / 1000,
      cores: os.cpus().length,
      daemon_cpu_s: (this.daemonLast ?? 0) - (this.daemonAtStart ?? 0),
      postgres_cpu_s: postgresSeconds() - this.postgresAtStart,
      bench_cpu_s: (bench.user + bench.system) / 1e6,
    };
  }
}
