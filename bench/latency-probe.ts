/**
 * End-to-end latency as PostgreSQL itself reports it: a logical replication slot of the
 * benchmark's own reads the daemon's commits (pgoutput), and for every change in them the
 * commit's timestamp minus the change's ArangoDB write time (decoded from `_rev`) is one sample.
 * Both clocks are this machine's. The slot exists only while latency is measured, so its
 * decoding does not load the server during the throughput figures.
 */
import { pino } from "pino";
import {
  CHECKPOINT_RELATION,
  createChangeStream,
  dropChangeStream,
} from "../src/sink/change-stream-slot.js";
import { ChangeStreamMonitor } from "../src/observe/change-stream-monitor.js";
import { SyncEvents } from "../src/observe/sync-events.js";

export interface LatencySample {
  readonly writtenAtMs: number;
  readonly latencyMs: number;
}

export class LatencyProbe {
  readonly samples: LatencySample[] = [];
  private constructor(
    private readonly monitor: ChangeStreamMonitor,
    private readonly drop: () => Promise<void>,
  ) {}

  static async start(pgUrl: string, tables: readonly string[]): Promise<LatencyProbe> {
    const names = { pgUrl, slot: "arango_pg_sync_bench", publication: "arango_pg_sync_bench" };
    await dropChangeStream(names);
    await createChangeStream({ ...names, tables });
    const events = new SyncEvents();
    const monitor = new ChangeStreamMonitor({
      ...names,
      tables,
      checkpoint: CHECKPOINT_RELATION,
      startLsn: null,
      events,
      logger: pino({ level: "silent" }),
      applicationName: "arango-pg-sync bench latency",
    });
    const probe = new LatencyProbe(monitor, async () => {
      await dropChangeStream(names);
    });
    events.on("target:visible", (visible) => {
      for (const writtenAtMs of visible.writeTimesMs) {
        probe.samples.push({ writtenAtMs, latencyMs: visible.committedAtMs - writtenAtMs });
      }
    });
    monitor.start();
    return probe;
  }

  /** Latencies of the changes written in [fromMs, toMs). */
  between(fromMs: number, toMs: number): number[] {
    return this.samples
      .filter((s) => s.writtenAtMs >= fromMs && s.writtenAtMs < toMs)
      .map((s) => s.latencyMs);
  }

  async stop(): Promise<void> {
    await this.monitor.stop();
    await this.drop();
  }
}

/** Nearest-rank percentile of unsorted values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
