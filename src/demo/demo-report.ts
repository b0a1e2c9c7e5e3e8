/**
 * The lines the demo prints: one progress line every few seconds, and the summary at the end.
 * Stable prefixes (`rows <table>`, `lag`, `verdict`) so scripts and tests can read them.
 */
import type { TableCounts } from "../sink/target-store.js";
import type { MirrorVerification } from "../verify/verify-mirror.js";
import type { WriteKind, WriteLoadStats } from "./write-load.js";

export interface LagFigures {
  readonly appliedTick: bigint | null;
  /** The newest change in the source (undefined: none seen). */
  readonly newestTick: bigint | undefined;
  /** Changes the daemon has not applied yet. */
  readonly pending: number;
  readonly lagMs: number;
}

export interface ProgressFigures {
  readonly elapsedMs: number;
  readonly phase: string;
  readonly lag: LagFigures;
  readonly rows: readonly TableCounts[];
  readonly deadLetters: number;
  readonly parked: number;
  readonly writesPerSecond: number;
  readonly failures: number;
}

export function stamp(elapsedMs: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(6)}s]`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatLag(lag: LagFigures): string {
  const applied = lag.appliedTick === null ? "none yet" : lag.appliedTick.toString();
  const newest = lag.newestTick === undefined ? "none" : lag.newestTick.toString();
  const ticks =
    lag.pending === 0 && lag.appliedTick !== null
      ? `applied tick ${applied}, newest change ${newest}`
      : `applied tick ${applied} < newest change ${newest}`;
  const changes = `${lag.pending} change${lag.pending === 1 ? "" : "s"}`;
  return `${(lag.lagMs / 1000).toFixed(1)} s, ${changes} behind (${ticks})`;
}

export function formatProgress(figures: ProgressFigures): string {
  const rows = figures.rows.map((r) => `${r.table} ${r.rows}`).join(" ");
  const failures = figures.failures > 0 ? ` (${figures.failures} failed)` : "";
  return [
    `${stamp(figures.elapsedMs)} ${figures.phase}`,
    `lag ${formatLag(figures.lag)}`,
    `rows ${rows}`,
    `dead letters ${figures.deadLetters}`,
    `parked ${figures.parked}`,
    `${figures.writesPerSecond.toFixed(1)} writes/s${failures}`,
  ].join(" | ");
}

export interface SummaryFigures {
  readonly elapsedMs: number;
  readonly snapshotMs: number | undefined;
  readonly loaded: Readonly<Record<string, number>>;
  readonly mappedCollections: readonly string[];
  readonly users: number;
  readonly load: WriteLoadStats;
  readonly loadMs: number;
  readonly rows: readonly TableCounts[];
  readonly lag: LagFigures;
  readonly caughtUp: boolean;
  readonly comparison: MirrorVerification | undefined;
}

/** The order operations are listed in, whatever order they happened in. */
const KIND_ORDER: readonly WriteKind[] = [
  "insert",
  "overwrite insert",
  "patch",
  "replace",
  "delete",
  "stream transaction",
  "aborted transaction",
];

/** Label and text; labels are padded to one column when printed. */
type Line = readonly [label: string, text: string];

export function formatSummary(figures: SummaryFigures): string[] {
  const lines: Line[] = [];
  lines.push([
    "ran",
    `${seconds(figures.elapsedMs)}${figures.snapshotMs === undefined ? "" : ` (snapshot ${seconds(figures.snapshotMs)})`}`,
  ]);
  const mapped = figures.mappedCollections.map((c) => [c, figures.loaded[c] ?? 0] as const);
  const others = Object.entries(figures.loaded).filter(
    ([c]) => !figures.mappedCollections.includes(c),
  );
  const total = mapped.reduce((sum, [, n]) => sum + n, 0);
  lines.push([
    "documents loaded",
    `${total}: ${mapped.map(([c, n]) => `${c} ${n}`).join(", ")}` +
      (others.length > 0
        ? ` (not mapped: ${others.map(([c, n]) => `${c} ${n}`).join(", ")})`
        : "") +
      `; ${figures.users} users in PostgreSQL`,
  ]);
  const { load } = figures;
  const rate = figures.loadMs > 0 ? (load.writes / figures.loadMs) * 1000 : 0;
  const kinds = KIND_ORDER.flatMap((kind) => {
    const n = load.byKind.get(kind);
    if (n === undefined) return [];
    return kind === "stream transaction"
      ? [`${n} stream transactions (${load.transactionWrites} writes)`]
      : [`${n} ${kind}${n === 1 ? "" : kind.endsWith("h") ? "es" : "s"}`];
  }).join(", ");
  const operations = [...load.byKind.values()].reduce((sum, n) => sum + n, 0);
  lines.push([
    "writes made",
    `${load.writes} (${rate.toFixed(1)}/s) in ${operations} operations${kinds === "" ? "" : `: ${kinds}`}; ${load.failures} failed` +
      (load.lastFailure === undefined ? "" : ` (last: ${load.lastFailure})`),
  ]);
  for (const row of figures.rows) lines.push([`rows ${row.table}`, String(row.rows)]);
  const comparison = figures.comparison;
  if (comparison !== undefined) {
    lines.push(["dead letters", byTable(comparison.deadLetters, (d) => d.reason)]);
    lines.push(["parked rows", byTable(comparison.parked, (p) => p.reason)]);
  }
  lines.push(["lag", formatLag(figures.lag)]);
  if (!figures.caughtUp) {
    lines.push(["", "the daemon had not applied every change when the demo stopped"]);
  }
  lines.push(...formatVerdict(comparison));
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  return ["summary", ...lines.map(([label, text]) => `  ${label.padEnd(width)}${text}`)];
}

/** `resumes: user not found 5; jobs: …`, or `none`. */
function byTable<T extends { readonly table: string | null; readonly count: number }>(
  entries: readonly T[],
  reasonOf: (entry: T) => string,
): string {
  const tables = new Map<string, string[]>();
  for (const entry of entries) {
    const table = entry.table ?? "(no table)";
    tables.set(table, [...(tables.get(table) ?? []), `${reasonOf(entry)} ${entry.count}`]);
  }
  if (tables.size === 0) return "none";
  return [...tables].map(([table, reasons]) => `${table}: ${reasons.join(", ")}`).join("; ");
}

function formatVerdict(comparison: MirrorVerification | undefined): Line[] {
  if (comparison === undefined) return [["verdict", "not checked"]];
  const sum = (counts: Readonly<Record<string, number>>): number =>
    Object.values(counts).reduce((a, b) => a + b, 0);
  const equal = comparison.tables.reduce((total, t) => total + t.equal, 0);
  const explained = comparison.tables.reduce((total, t) => total + sum(t.explained), 0);
  const drifting = comparison.tables.reduce((total, t) => total + sum(t.drift), 0);
  const inFlight = comparison.tables.reduce((total, t) => total + t.inFlight, 0);
  const lines: Line[] = [
    [
      "verdict",
      `${comparison.verdict}: ${equal} rows equal to their documents, ${explained} documents not mirrored for a recorded reason, ${inFlight} in flight, ${drifting} drifting (ArangoDB snapshot at tick ${comparison.sourceTick})`,
    ],
  ];
  for (const table of comparison.tables) {
    for (const [reason, n] of Object.entries(table.explained)) {
      lines.push(["", `- ${table.table} ${reason}: ${n}`]);
    }
  }
  for (const table of comparison.tables) {
    for (const [kind, n] of Object.entries(table.drift)) {
      if (n > 0) lines.push(["", `! ${table.table} ${kind}: ${n}`]);
    }
    for (const example of table.examples) {
      lines.push(["", `  ${table.table} ${example.key}: ${example.kind}: ${example.detail}`]);
    }
  }
  return lines;
}
