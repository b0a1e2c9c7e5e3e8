/**
 * `lag_seconds`: the age of the oldest change not yet applied to PostgreSQL, 0 when caught up
 * (DESIGN.md §4). Pure state fed by pipeline events and read at scrape time, so the value is
 * computed from "now" on every read: it keeps rising while something waits, and it does not keep a
 * stale high value once the source goes idle (Debezium's lag gauge does, cdc-anchors.md §3.7).
 *
 * What is known about the unapplied changes, from most to least precise:
 * 1. Changes fetched but not applied: their `_rev` write times are known, so the lag is exact.
 *    Each poll reports its oldest; each commit reports the oldest of what the daemon still holds
 *    after it (later units of the same fetch, a group still open, parts of a large transaction
 *    staged in PostgreSQL), which replaces what the polls accumulated.
 * 2. The server said it has more (`checkmore`), or a snapshot or gap means the WAL has not been read
 *    up to now: the oldest unread change was written after the newest change already read and
 *    after the last time a poll came back complete. Age from that floor is an upper bound.
 * 3. A poll came back complete and nothing fetched is waiting: caught up, lag 0. That is only
 *    true as of that poll; when no poll has confirmed it for longer than `graceMs` (the tailer is
 *    stuck, or ArangoDB is unreachable), changes may be waiting unseen, so the lag becomes the time
 *    since the last confirmation instead of staying at a reassuring 0.
 *
 * Until the first poll answers, the floor is the time the tracker was created (daemon start).
 * During a snapshot the dumped documents are tracked by the snapshot metrics; the lag covers the
 * changes written since the snapshot point (initial snapshot) or since the last change read
 * before a gap (re-snapshot), which wait for the stream.
 */
export interface LagTrackerOptions {
  /** How long a complete poll vouches for "caught up". Above the tailer's idle poll interval. */
  readonly graceMs: number;
  readonly startMs: number;
}

export class LagTracker {
  private oldestPendingMs: number | undefined;
  private unreadOnServer = true;
  /** Undefined until a poll or a commit says something; the start time stands in until then. */
  private floorMs: number | undefined;
  private readonly startMs: number;
  private readonly graceMs: number;

  constructor(options: LagTrackerOptions) {
    this.startMs = options.startMs;
    this.graceMs = options.graceMs;
  }

  /** A `wal/tail` call answered at `nowMs`. */
  polled(
    poll: {
      readonly checkMore: boolean;
      readonly oldestChangeWriteMs: number | undefined;
      readonly newestChangeWriteMs: number | undefined;
    },
    nowMs: number,
  ): void {
    if (poll.oldestChangeWriteMs !== undefined) {
      this.oldestPendingMs = Math.min(
        this.oldestPendingMs ?? poll.oldestChangeWriteMs,
        poll.oldestChangeWriteMs,
      );
    }
    if (poll.newestChangeWriteMs !== undefined) this.raiseFloor(poll.newestChangeWriteMs);
    this.unreadOnServer = poll.checkMore;
    // Everything written before this call was in the response (or an earlier one).
    if (!poll.checkMore) this.raiseFloor(nowMs);
  }

  /** A batch committed; `oldestPendingWriteMs` is what still waits among the fetched changes. */
  committed(batch: {
    readonly oldestPendingWriteMs: number | undefined;
    readonly writeTimesMs: readonly number[];
  }): void {
    this.oldestPendingMs = batch.oldestPendingWriteMs;
    for (const ms of batch.writeTimesMs) this.raiseFloor(ms);
  }

  /**
   * The WAL is not being read up to now any more: a snapshot is dumping, or a gap was found.
   * Fetched changes are superseded by the snapshot; the floor stays where reading stopped.
   */
  readingSuspended(): void {
    this.oldestPendingMs = undefined;
    this.unreadOnServer = true;
  }

  lagSeconds(nowMs: number): number {
    if (this.oldestPendingMs !== undefined) return seconds(nowMs - this.oldestPendingMs);
    const sinceFloor = nowMs - (this.floorMs ?? this.startMs);
    if (this.unreadOnServer || sinceFloor > this.graceMs) return seconds(sinceFloor);
    return 0;
  }

  private raiseFloor(ms: number): void {
    if (this.floorMs === undefined || ms > this.floorMs) this.floorMs = ms;
  }
}

/** A server clock ahead of ours would make ages negative; they read as 0. */
function seconds(ms: number): number {
  return ms > 0 ? ms / 1000 : 0;
}
