/**
 * When each change reached the source's WAL, for the demo's lag figures: the age of the oldest
 * change the daemon has not applied (0 when it has applied them all) and how many there are. The
 * demo runs the emulator in-process, so it sees every write batch as it is appended, whoever
 * made it (its own load, or a user poking at the emulator).
 *
 * A change is identified by the highest marker tick of its write batch: the begin…commit group's
 * commit marker, or the single document marker. That is the tick the daemon's checkpoint reaches
 * once the change is applied; `wal/lastTick` would not do, because a write also consumes sequence
 * numbers for its index entries, so the newest sequence number lies above the newest marker.
 */
import type { EmulatedServer } from "../emulator/emulated-server.js";

export class ChangeClock {
  private readonly ticks: bigint[] = [];
  private readonly times: number[] = [];
  private head = 0;
  private newestTick: bigint | undefined;

  /** The tick of the newest change seen, if any. */
  get newest(): bigint | undefined {
    return this.newestTick;
  }

  record(tick: bigint, atMs: number): void {
    this.ticks.push(tick);
    this.times.push(atMs);
    if (this.newestTick === undefined || tick > this.newestTick) this.newestTick = tick;
  }

  /** Changes above `applied` (all of them while nothing is applied yet). */
  pending(applied: bigint | null): number {
    this.forget(applied);
    return this.ticks.length - this.head;
  }

  /** Age of the oldest change above `applied`, in ms; 0 when there is none. */
  lagMs(applied: bigint | null, nowMs: number): number {
    this.forget(applied);
    const oldest = this.times[this.head];
    return oldest === undefined ? 0 : Math.max(0, nowMs - oldest);
  }

  caughtUp(applied: bigint | null): boolean {
    return applied !== null && (this.newestTick === undefined || applied >= this.newestTick);
  }

  /** Ticks only grow, so applied changes are a prefix. */
  private forget(applied: bigint | null): void {
    if (applied === null) return;
    while (this.head < this.ticks.length && (this.ticks[this.head] ?? 0n) <= applied) this.head++;
    if (this.head > 4096 && this.head * 2 > this.ticks.length) {
      this.ticks.splice(0, this.head);
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** Records every write batch of `database` in `clock`; returns the function that stops it. */
export function watchChanges(
  state: EmulatedServer,
  database: string,
  clock: ChangeClock,
): () => void {
  const { wal } = state;
  return wal.onAppend(() => {
    const batch = wal.batchAt(wal.batchCount - 1);
    let newest: bigint | undefined;
    for (const record of batch?.records ?? []) {
      if (record.database.name !== database) continue;
      if (newest === undefined || record.tick > newest) newest = record.tick;
    }
    if (newest !== undefined) clock.record(newest, Date.now());
  });
}
