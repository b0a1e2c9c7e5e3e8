/**
 * One ArangoDB document, as of the snapshot tick T, against what PostgreSQL holds for its key.
 * Pure: the caller reads both sides and decides what to do with a possible drift while
 * PostgreSQL is still behind T (see verify-mirror.ts).
 *
 * Every document ends in exactly one class:
 * - equal: the row holds what the mapping makes of the document (legacy_tick aside);
 * - explained: PostgreSQL does not mirror it for a recorded reason: parked for its parent,
 *   dead-lettered (possibly with an older row kept), or its parent was removed in ArangoDB and
 *   the removal cascaded in PostgreSQL while ArangoDB kept the orphan (DESIGN.md §6). A parked
 *   row or a dead letter only explains the document version it was recorded for (its `_rev`), so
 *   a stale record cannot hide a newer change that went missing;
 * - in flight: PostgreSQL already holds a change newer than T for this key (a row, tombstone,
 *   parked image or dead letter with a tick above T, or a parent's tombstone above T): the two
 *   sides describe different moments and cannot be compared;
 * - drift, of a kind: `missing` (no row, nothing recorded), `revision` (a row of another `_rev`),
 *   `content` (same `_rev`, other mapped content).
 */
import type { BuildRowResult, CompiledTable, ParentReference } from "../mapping/compile-mapping.js";
import type { TargetDeadLetter, TargetParkedRow, TargetRow } from "../sink/mirror-reader.js";
import type { DriftKind } from "../observe/sync-events.js";

/** A document of a mapped collection and what the mapping makes of it. */
export interface SourceDocument {
  readonly key: string;
  readonly rev: string;
  readonly built: BuildRowResult;
}

/** What PostgreSQL holds about one key. */
export interface KeyInTarget {
  readonly row: TargetRow | undefined;
  readonly parked: TargetParkedRow | undefined;
  readonly deadLetters: readonly TargetDeadLetter[];
  /** Tick of the key's tombstone, if it has one. */
  readonly tombstoneTick: bigint | undefined;
}

/** How the referenced rows stand in PostgreSQL. */
export interface ParentsInTarget {
  exists(ref: ParentReference): boolean;
  /** Tick of the tombstone of the referenced row, when it is a mirrored row that was removed. */
  removedAt(ref: ParentReference): bigint | undefined;
}

export type DocumentClass =
  | { readonly class: "equal" }
  | { readonly class: "explained"; readonly label: string }
  | { readonly class: "in-flight" }
  | { readonly class: "drift"; readonly kind: DriftKind; readonly detail: string };

const EQUAL: DocumentClass = { class: "equal" };
const IN_FLIGHT: DocumentClass = { class: "in-flight" };

/**
 * `sourceTick` is T, the tick of the ArangoDB snapshot the document comes from. `parkReason`
 * names what a row parked for `parentTable` waits for (e.g. "user not found").
 */
export function classifyDocument(
  table: CompiledTable,
  document: SourceDocument,
  target: KeyInTarget,
  parents: ParentsInTarget,
  sourceTick: bigint,
): DocumentClass {
  const { rev, built } = document;
  const actual = target.row;
  const explained = (label: string): DocumentClass => ({ class: "explained", label });
  const drift = (kind: DriftKind, detail: string): DocumentClass =>
    newerInTarget(target, sourceTick) ? IN_FLIGHT : { class: "drift", kind, detail };
  // Records about this very version of the document; older ones explain nothing now.
  const waiting = target.parked;
  const parkedNow = waiting !== undefined && (waiting.rev === undefined || waiting.rev === rev);
  const letter = target.deadLetters.find((l) => l.rev === undefined || l.rev === rev);
  const kept = actual === undefined ? "" : ", older row kept";
  const parkedLabel = (): string =>
    `parked (${parkReason(table, waiting?.parentTable ?? "")})${kept}`;

  if (!built.ok) {
    if (letter !== undefined) return explained(`dead-lettered (${letter.reason})${kept}`);
    const why = `does not map (${built.reason}, ${built.column}) and has no dead letter`;
    if (actual === undefined) return drift("missing", why);
    return drift(
      revisionOf(table, actual) === rev ? "content" : "revision",
      `${why}, yet PostgreSQL has a row`,
    );
  }

  const values = [...built.row.values];
  let missingParent: ParentReference | undefined;
  for (const ref of built.row.parents) {
    if (parents.exists(ref)) continue;
    if (ref.onMissingParent === "null") {
      values[ref.columnIndex] = null;
      continue;
    }
    missingParent = ref;
    break;
  }

  if (missingParent !== undefined) {
    const removedAt = parents.removedAt(missingParent);
    if (parkedNow) return explained(parkedLabel());
    if (letter !== undefined) return explained(`dead-lettered (${letter.reason})${kept}`);
    if (removedAt !== undefined && removedAt > sourceTick) return IN_FLIGHT;
    if (actual === undefined && removedAt !== undefined) {
      return explained(`orphaned (${missingParent.table} row removed in ArangoDB, cascaded)`);
    }
    const parent = `${missingParent.table} ${missingParent.value}`;
    if (actual === undefined) {
      return drift(
        "missing",
        `${missingParent.reason} (${parent}) but neither parked nor dead-lettered`,
      );
    }
    return drift(
      revisionOf(table, actual) === rev ? "content" : "revision",
      `row present although ${parent} is not`,
    );
  }

  if (actual === undefined) {
    if (parkedNow) return explained(parkedLabel());
    if (letter !== undefined) return explained(`dead-lettered (${letter.reason})`);
    return drift("missing", `no row, no parked row, no dead letter (rev ${rev})`);
  }
  const difference = rowDifference(table, values, actual.values);
  if (difference === undefined) return EQUAL;
  if (parkedNow) return explained(parkedLabel());
  if (letter !== undefined) return explained(`dead-lettered (${letter.reason})${kept}`);
  return drift(difference.kind, difference.detail);
}

/** PostgreSQL holds a change of this key that is newer than the ArangoDB snapshot. */
function newerInTarget(target: KeyInTarget, sourceTick: bigint): boolean {
  const newer = (tick: bigint | null | undefined): boolean =>
    tick !== null && tick !== undefined && tick > sourceTick;
  if (target.row !== undefined) {
    if (newer(target.row.tick)) return true;
  } else if (newer(target.tombstoneTick)) {
    return true;
  }
  return newer(target.parked?.tick) || target.deadLetters.some((l) => newer(l.tick));
}

/** What a row parked for `parentTable` waits for, as the mapping words it. */
export function parkReason(table: CompiledTable | undefined, parentTable: string): string {
  return (
    table?.references.find((r) => r.table === parentTable)?.reason ?? `${parentTable} not found`
  );
}

function revisionOf(table: CompiledTable, values: TargetRow): string | null {
  const index = table.columns.findIndex((c) => c.source === "revision");
  return values.values[index] ?? null;
}

/**
 * How a row differs from what the mapping makes of the document: `revision` when legacy_rev
 * differs (the row was built from another version), `content` when the versions agree but a
 * mapped column does not. Undefined when the row matches.
 */
export function rowDifference(
  table: CompiledTable,
  expected: readonly (string | null)[],
  actual: readonly (string | null)[],
): { readonly kind: "revision" | "content"; readonly detail: string } | undefined {
  let revision: string | undefined;
  let content: string | undefined;
  for (const [index, column] of table.columns.entries()) {
    if (column.source === "tick") continue;
    const want = comparable(column.type, expected[index] ?? null);
    const have = comparable(column.type, actual[index] ?? null);
    if (want === have) continue;
    const detail = `${column.name}: ArangoDB maps to ${preview(want)}, PostgreSQL has ${preview(have)}`;
    if (column.source === "revision") revision = detail;
    else content ??= detail;
  }
  if (revision !== undefined) {
    return {
      kind: "revision",
      detail: content === undefined ? revision : `${revision}; ${content}`,
    };
  }
  return content === undefined ? undefined : { kind: "content", detail: content };
}

/**
 * One text per value: JSON with sorted keys (jsonb keeps its own key order), timestamps with all
 * six fraction digits (the mapping drops trailing zeros, to_char does not).
 */
function comparable(type: string, value: string | null): string | null {
  if (value === null) return null;
  if (type === "jsonb") {
    try {
      return canonicalJson(JSON.parse(value));
    } catch {
      return value;
    }
  }
  if (type === "timestamptz") {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(value);
    if (match !== null) return `${match[1] ?? ""}.${(match[2] ?? "").padEnd(6, "0")}Z`;
  }
  return value;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function preview(value: string | null): string {
  if (value === null) return "NULL";
  return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}…` : JSON.stringify(value);
}
