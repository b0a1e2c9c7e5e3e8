/**
 * Write times of changes, decoded from their `_rev` (a hybrid logical clock: milliseconds since
 * 1970 in the high bits). They feed `lag_seconds` and the latency histograms. Document writes
 * only: a remove marker carries the removed document's `_rev` (protocol §7.3), whose time is not
 * the time of the removal. Revisions without a time (legacy decimal ones) are left out.
 */
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
