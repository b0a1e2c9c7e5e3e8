/**
 * Where the next `wal/tail` request starts, after a response: the rules of ArangoDB's own
 * follower (TailingSyncer, arangodb-protocol.md §4.4 and §13). Pure, so it is tested on its own.
 */
import type { Tick } from "../events/tick.js";

export interface TailPosition {
  /** Exclusive lower bound of the next request. */
  from: Tick;
  /** The server's `lastscanned` from the previous response, passed back as a resume hint. */
  lastScanned: Tick;
}

export interface TailHeaders {
  lastIncluded: Tick;
  lastScanned: Tick;
  lastTick: Tick;
  fromPresent: boolean;
  checkMore: boolean;
}

export interface TailStep {
  next: TailPosition;
  /** The response moved `from` forward. */
  progressed: boolean;
  /** The server no longer has the WAL right after `from`: some changes are lost to us (§11). */
  gap: boolean;
  /** Ask again at once: there is more and the last call made progress. */
  pollAgainNow: boolean;
}

export function nextTailPosition(position: TailPosition, headers: TailHeaders): TailStep {
  // With from=0 the server reports frompresent=false whenever its WAL starts above 1; the
  // reference client ignores it then, and so do we.
  const gap = !headers.fromPresent && position.from > 0n;
  let from = position.from;
  let progressed = false;
  if (headers.lastIncluded > from) {
    from = headers.lastIncluded;
    progressed = true;
  } else if (
    headers.lastIncluded === 0n &&
    headers.lastScanned > 0n &&
    headers.lastScanned > from
  ) {
    // Everything scanned was filtered out: skip ahead, but stay inside the last scanned batch.
    from = headers.lastScanned - 1n;
    progressed = true;
  }
  return {
    next: { from, lastScanned: headers.lastScanned },
    progressed,
    gap,
    pollAgainNow: headers.checkMore && progressed,
  };
}

/**
 * Waits between polls: short while changes keep coming and growing the longer the source stays
 * idle, longer and exponential after failures, always with jitter so many daemons do not poll
 * in step.
 *
 * `wal/tail` answers at once, even when there is nothing to send, so the idle wait is the floor
 * of the end-to-end latency. The reference client waits 0.25–2.5 s, which alone would put the
 * median latency of a lightly loaded source above 100 ms. Here the first second of idleness is
 * polled every 20 ms, and the wait doubles every 50 empty answers up to 1 s: a source idle for
 * a minute is asked once a second, and a write after a pause is seen within that second.
 */
export class PollBackoff {
  private idleRounds = 0;
  private failures = 0;

  constructor(
    private readonly options: {
      idleMinMs: number;
      idleMaxMs: number;
      /** Empty answers in a row after which the idle wait doubles. */
      idleRoundsPerStep: number;
      errorMaxMs: number;
    } = {
      idleMinMs: 20,
      idleMaxMs: 1000,
      idleRoundsPerStep: 50,
      errorMaxMs: 30_000,
    },
    private readonly random: () => number = Math.random,
  ) {}

  /** After a response that made progress. */
  busy(): void {
    this.idleRounds = 0;
    this.failures = 0;
  }

  /** After an empty response; returns how long to wait before the next poll. */
  idle(): number {
    this.failures = 0;
    this.idleRounds += 1;
    const steps = Math.min(Math.floor((this.idleRounds - 1) / this.options.idleRoundsPerStep), 16);
    return this.jitter(Math.min(this.options.idleMinMs * 2 ** steps, this.options.idleMaxMs));
  }

  /** After a failed request; returns the wait and how many failures in a row this makes. */
  failed(): { waitMs: number; consecutiveFailures: number } {
    this.failures += 1;
    const base = Math.min(500 * 2 ** (this.failures - 1), this.options.errorMaxMs);
    return { waitMs: this.jitter(base), consecutiveFailures: this.failures };
  }

  private jitter(ms: number): number {
    // Between 75 % and 100 % of the nominal wait.
    return Math.round(ms * (0.75 + 0.25 * this.random()));
  }
}
