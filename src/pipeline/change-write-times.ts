/**
 * Write times of changes, decoded from their `_rev` (a hybrid logical clock: milliseconds since
 * 1970 in the high bits). They feed `lag_seconds` and the latency histograms. Document writes
 * only: a remove marker carries the removed document's `_rev` (protocol §7.3), whose time is not
 * the time of the removal. Revisions without a time (legacy decimal ones) are left out.
 */
import type { AssembledUnit } from "../events/assemble-transactions.js";
import type { Marker } from "../events/events.js";
import { revisionTimeMs } from "../source/revision.js";

export interface WriteTimeRange {
  readonly oldestMs: number | undefined;
  readonly newestMs: number | undefined;
}

/** The oldest and newest write time among the document writes of a `wal/tail` response. */
export function writeTimeRange(markers: readonly Marker[]): WriteTimeRange {
  let oldestMs: number | undefined;
  let newestMs: number | undefined;
  for (const marker of markers) {
    if (marker.kind !== "document-upsert") continue;
    const ms = revisionTimeMs(marker.rev);
    if (ms === undefined) continue;
    if (oldestMs === undefined || ms < oldestMs) oldestMs = ms;
    if (newestMs === undefined || ms > newestMs) newestMs = ms;
  }
  return { oldestMs, newestMs };
}

/** The write time of each revision that carries one. */
export function writeTimesOf(revisions: readonly string[]): number[] {
  const times: number[] = [];
  for (const rev of revisions) {
    const ms = revisionTimeMs(rev);
    if (ms !== undefined) times.push(ms);
  }
  return times;
}

/** The earlier of two optional write times. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The oldest write time among the document writes of a unit. */
export function oldestWriteOfUnit(unit: AssembledUnit): number | undefined {
  switch (unit.kind) {
    case "operation":
      return writeTimeRange([unit.operation]).oldestMs;
    case "transaction":
      return writeTimeRange(unit.operations).oldestMs;
    case "marker":
      return undefined;
  }
}

/**
 * For each index, the oldest write time among `units[index…]` (one entry more than units: the
 * last is undefined), so "what still waits after unit i" costs one pass for the whole batch.
 */
export function oldestWriteFrom(units: readonly AssembledUnit[]): (number | undefined)[] {
  const oldest: (number | undefined)[] = new Array<number | undefined>(units.length + 1);
  oldest[units.length] = undefined;
  for (let index = units.length - 1; index >= 0; index--) {
    const unit = units[index];
    oldest[index] = earliest(
      unit === undefined ? undefined : oldestWriteOfUnit(unit),
      oldest[index + 1],
    );
  }
  return oldest;
}
