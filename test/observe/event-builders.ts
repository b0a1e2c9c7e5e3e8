/** Payloads for pipeline events with plausible defaults, so each test states only what matters. */
import type { BatchCommitted, SourcePolled } from "../../src/observe/sync-events.js";

export function polled(overrides: Partial<SourcePolled> = {}): SourcePolled {
  return {
    from: 100n,
    lastIncluded: 120n,
    lastScanned: 120n,
    lastTick: 125n,
    checkMore: false,
    fromPresent: true,
    bytes: 0,
    markers: 0,
    oldestChangeWriteMs: undefined,
    newestChangeWriteMs: undefined,
    durationMs: 5,
    ...overrides,
  };
}

export function committed(overrides: Partial<BatchCommitted> = {}): BatchCommitted {
  return {
    origin: "stream",
    durationMs: 20,
    committedAtMs: 0,
    appliedTick: 120n,
    rows: [],
    events: [],
    writeTimesMs: [],
    oldestPendingWriteMs: undefined,
    ...overrides,
  };
}

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public nowMs = Date.UTC(2026, 0, 1)) {}
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}
