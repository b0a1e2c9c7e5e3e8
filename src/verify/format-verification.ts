/**
 * How `verify` prints its result: a short table per collection for people, or the result object
 * as JSON (ticks as decimal strings, since they are uint64) for scripts.
 */
import { DRIFT_KINDS } from "../observe/sync-events.js";
import type { MirrorVerification } from "./verify-mirror.js";

/** The result as JSON-safe data: bigints become decimal strings, nothing else changes. */
export function verificationJson(result: MirrorVerification): unknown {
  return JSON.parse(
    JSON.stringify(result, (_, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    ),
  ) as unknown;
}

const COLUMNS = [
  "collection",
  "table",
  "documents",
  "rows",
  "equal",
  "explained",
  "in flight",
  ...DRIFT_KINDS,
] as const;

export function formatVerification(result: MirrorVerification): string {
  const sum = (counts: Readonly<Record<string, number>>): number =>
    Object.values(counts).reduce((a, b) => a + b, 0);
  const rows = result.tables.map((t) => [
    t.collection,
    t.table,
    String(t.documents),
    String(t.rows),
    String(t.equal),
    String(sum(t.explained)),
    String(t.inFlight),
    ...DRIFT_KINDS.map((kind) => String(t.drift[kind])),
  ]);
  const widths = COLUMNS.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();

  const behind =
    result.appliedTick < result.sourceTick ? " (behind: changes after it are in flight)" : "";
  const lines = [
    `verify (full): ${result.verdict}`,
    `ArangoDB snapshot at tick ${result.sourceTick}, PostgreSQL applied tick ${result.appliedTick}${behind}`,
    "",
    line(COLUMNS),
    ...rows.map(line),
  ];
  const explained = result.tables.flatMap((t) =>
    Object.entries(t.explained).map(([reason, n]) => `  ${t.table} ${reason}: ${n}`),
  );
  if (explained.length > 0) lines.push("", "not mirrored, for a recorded reason:", ...explained);
  const examples = result.tables.flatMap((t) =>
    t.examples.map((e) => `  ${t.table} ${e.key}: ${e.kind}: ${e.detail}`),
  );
  if (examples.length > 0) lines.push("", "drift, first examples:", ...examples);
  const { stats } = result;
  lines.push(
    "",
    `${stats.rowsVerified} rows verified in ${(stats.durationMs / 1000).toFixed(1)} s (${Math.round(stats.rowsPerSecond)} rows/s)`,
  );
  return `${lines.join("\n")}\n`;
}
