import type { CpuShare } from "./cpu-meter.js";

/** The benchmark's result file (its fields are read by tools: keep the names) and its table. */

export interface LatencyAtRate {
  readonly writes: number;
  readonly achieved_writes_per_s: number;
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** From the last write of the window until the checkpoint covered it. */
  readonly drain_ms: number;
}

export interface BenchResults {
  readonly date: string;
  readonly mode: "quick" | "full";
  readonly duration_s: number;
  readonly environment: {
    readonly machine: string;
    readonly cpu: string;
    readonly cores: number;
    readonly memory_gb: number;
    readonly node: string;
    readonly postgresql: string;
    readonly postgresql_settings: Readonly<Record<string, string>>;
  };
  readonly sizes: Readonly<Record<string, unknown>>;
  /** The `sync:` settings given with --set (everything else at its default). */
  readonly daemon_settings: Readonly<Record<string, unknown>>;
  readonly ceiling: {
    readonly rows: number;
    readonly copy_rows_per_s: number;
    readonly upsert_insert_rows_per_s: number;
    readonly upsert_update_rows_per_s: number;
    readonly delete_rows_per_s: number;
    readonly deleted_rows: number;
  };
  readonly source: {
    readonly dump_docs_per_s: number;
    readonly dumped_docs: number;
    readonly tail_events_per_s: number;
    readonly tailed_events: number;
  };
  readonly snapshot: {
    readonly documents: number;
    readonly docs_per_s: number;
    readonly ratio: number;
    readonly wall_s: number;
  };
  readonly streaming: {
    readonly events: number;
    readonly events_per_s: number;
    readonly ratio: number;
  };
  readonly latency_ms: Record<string, LatencyAtRate>;
  readonly catchup: {
    readonly events: number;
    readonly events_per_s: number;
    readonly ratio: number;
  };
  readonly rss_mb: { readonly streaming_peak: number; readonly large_transaction_peak: number };
  readonly large_transaction: {
    readonly operations: number;
    readonly seconds: number;
    readonly operations_per_s: number;
  };
  readonly verify: {
    readonly rows: number;
    readonly rows_per_s: number;
    readonly ratio: number;
    readonly verdict: string;
  } | null;
  /** CPU seconds by process group during the daemon's phases: where the time goes. */
  readonly cpu: Readonly<Record<string, CpuShare>>;
}

const rate = (n: number): string => Math.round(n).toLocaleString("en-US");
const ratio = (n: number): string => n.toFixed(2);
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : "-");

/** The figures as a table: absolute numbers, ratios to the ceiling, and the targets. */
export function printTable(r: BenchResults): void {
  const rows: [string, string, string, string][] = [
    ["ceiling: COPY", `${rate(r.ceiling.copy_rows_per_s)} rows/s`, "", ""],
    [
      "ceiling: unnest upsert, new keys",
      `${rate(r.ceiling.upsert_insert_rows_per_s)} rows/s`,
      "",
      "",
    ],
    [
      "ceiling: unnest upsert, new versions",
      `${rate(r.ceiling.upsert_update_rows_per_s)} rows/s`,
      "",
      "",
    ],
    ["ceiling: delete", `${rate(r.ceiling.delete_rows_per_s)} rows/s`, "", ""],
    ["source: dump", `${rate(r.source.dump_docs_per_s)} docs/s`, "", ""],
    ["source: wal/tail", `${rate(r.source.tail_events_per_s)} events/s`, "", ""],
    [
      "snapshot",
      `${rate(r.snapshot.docs_per_s)} docs/s`,
      ratio(r.snapshot.ratio),
      "≥ 0.70 of upsert (new keys)",
    ],
    [
      "streaming (burst of updates)",
      `${rate(r.streaming.events_per_s)} events/s`,
      ratio(r.streaming.ratio),
      "≥ 0.60 of upsert (new versions)",
    ],
    [
      "catch-up after backlog",
      `${rate(r.catchup.events_per_s)} events/s`,
      ratio(r.catchup.ratio),
      "",
    ],
  ];
  for (const [at, l] of Object.entries(r.latency_ms)) {
    rows.push([
      `latency at ${at} writes/s (p50/p95/p99)`,
      `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} ms`,
      "",
      at === "1000" ? "p50 ≤ 50, p99 ≤ 250 ms" : "",
    ]);
    rows.push([
      `  drained after the last write at ${at}/s`,
      `${ms(l.drain_ms)} ms`,
      "",
      "≤ 2000 ms",
    ]);
  }
  rows.push(
    ["peak RSS while streaming", `${r.rss_mb.streaming_peak.toFixed(0)} MB`, "", "≤ 200 MB"],
    [
      `peak RSS, ${rate(r.large_transaction.operations)}-operation transaction`,
      `${r.rss_mb.large_transaction_peak.toFixed(0)} MB`,
      "",
      "≤ 512 MB",
    ],
  );
  if (r.verify !== null) {
    rows.push([
      "full verify",
      `${rate(r.verify.rows_per_s)} rows/s`,
      ratio(r.verify.ratio),
      "≥ 0.50 of COPY",
    ]);
  }
  const header: [string, string, string, string] = ["figure", "absolute", "ratio", "target"];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i === 1 || i === 2 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join("  ");
  const out = [
    `arango-pg-sync benchmark (${r.mode}), ${r.environment.cpu} × ${r.environment.cores}, PostgreSQL ${r.environment.postgresql}, Node ${r.environment.node}`,
    `durability: fsync=${r.environment.postgresql_settings["fsync"]}, synchronous_commit=${r.environment.postgresql_settings["synchronous_commit"]}; ${rate(r.snapshot.documents)} documents; ${r.duration_s.toFixed(0)} s`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  const phases = Object.entries(r.cpu);
  if (phases.length > 0) {
    out.push(
      "",
      "CPU seconds per phase (daemon / PostgreSQL / benchmark incl. emulator; busy = all three over wall × cores)",
    );
    for (const [phase, c] of phases) {
      const busy = (c.daemon_cpu_s + c.postgres_cpu_s + c.bench_cpu_s) / (c.wall_s * c.cores);
      out.push(
        `  ${phase.padEnd(18)} wall ${c.wall_s.toFixed(1).padStart(6)} s   daemon ${c.daemon_cpu_s.toFixed(1).padStart(6)}   postgres ${c.postgres_cpu_s.toFixed(1).padStart(6)}   bench ${c.bench_cpu_s.toFixed(1).padStart(6)}   busy ${(busy * 100).toFixed(0)} %`,
      );
    }
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
