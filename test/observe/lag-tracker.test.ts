import { describe, expect, it } from "vitest";
import { LagTracker } from "../../src/observe/lag-tracker.js";

const START = 1_000_000;
const GRACE = 15_000;

function tracker(): LagTracker {
  return new LagTracker({ graceMs: GRACE, startMs: START });
}

const poll = (
  checkMore: boolean,
  oldest?: number,
  newest?: number,
): {
  checkMore: boolean;
  oldestChangeWriteMs: number | undefined;
  newestChangeWriteMs: number | undefined;
} => ({ checkMore, oldestChangeWriteMs: oldest, newestChangeWriteMs: newest ?? oldest });

describe("LagTracker", () => {
  it("counts from the daemon's start until the first poll answers", () => {
    const lag = tracker();
    expect(lag.lagSeconds(START)).toBe(0);
    expect(lag.lagSeconds(START + 7_000)).toBe(7);
  });

  it("measures from the oldest change fetched and not applied, across polls", () => {
    const lag = tracker();
    lag.polled(poll(true, START + 1_000, START + 2_000), START + 3_000);
    lag.polled(poll(false, START + 2_500, START + 2_600), START + 4_000);
    expect(lag.lagSeconds(START + 11_000)).toBe(10);
    lag.committed({ oldestPendingWriteMs: START + 2_500, writeTimesMs: [START + 1_000] });
    expect(lag.lagSeconds(START + 11_000)).toBe(8.5);
    lag.committed({ oldestPendingWriteMs: undefined, writeTimesMs: [START + 2_500] });
    expect(lag.lagSeconds(START + 11_000)).toBe(0);
  });

  it("keeps a large transaction staged over several fetches as the oldest change until it is applied", () => {
    const lag = tracker();
    // One fetch: a change applied at once, then the first part of a large transaction (T).
    const transactionStart = START + 1_000;
    lag.polled(poll(true, START + 500, START + 1_200), START + 2_000);
    lag.committed({ oldestPendingWriteMs: transactionStart, writeTimesMs: [START + 500] });
    // Later fetches bring later parts; parked-row retries commit in between.
    lag.polled(poll(true, START + 1_300, START + 1_400), START + 5_000);
    lag.committed({ oldestPendingWriteMs: transactionStart, writeTimesMs: [] });
    lag.polled(poll(true, START + 1_500, START + 1_600), START + 9_000);
    expect(lag.lagSeconds(START + 10_000)).toBe(9);
    // Applied, and the server has nothing more: caught up.
    lag.committed({ oldestPendingWriteMs: undefined, writeTimesMs: [transactionStart] });
    lag.polled(poll(false), START + 10_500);
    expect(lag.lagSeconds(START + 11_000)).toBe(0);
  });

  it("while the server has more than was read, measures from the newest change read", () => {
    const lag = tracker();
    lag.polled(poll(true, START + 1_000, START + 5_000), START + 6_000);
    lag.committed({
      oldestPendingWriteMs: undefined,
      writeTimesMs: [START + 1_000, START + 5_000],
    });
    expect(lag.lagSeconds(START + 8_000)).toBe(3);
    lag.polled(poll(false), START + 9_000);
    expect(lag.lagSeconds(START + 9_500)).toBe(0);
  });

  it("measures a backlog written before the daemon started from its write time, not the start", () => {
    const lag = tracker();
    lag.polled(poll(true, START - 60_000, START - 30_000), START + 1_000);
    lag.committed({
      oldestPendingWriteMs: undefined,
      writeTimesMs: [START - 60_000, START - 30_000],
    });
    expect(lag.lagSeconds(START + 2_000)).toBe(32);
  });

  it("stays 0 while complete polls keep confirming, and rises when they stop", () => {
    const lag = tracker();
    let now = START;
    for (let i = 0; i < 100; i++) {
      now += 2_000;
      lag.polled(poll(false), now);
      expect(lag.lagSeconds(now + 1_000)).toBe(0);
    }
    expect(lag.lagSeconds(now + GRACE)).toBe(0);
    expect(lag.lagSeconds(now + GRACE + 1)).toBe((GRACE + 1) / 1000);
    expect(lag.lagSeconds(now + 600_000)).toBe(600);
  });

  it("after a gap or during a snapshot, measures from where reading stopped", () => {
    const lag = tracker();
    lag.polled(poll(false, START + 1_000), START + 2_000);
    lag.readingSuspended();
    expect(lag.lagSeconds(START + 5_000)).toBe(3);
    expect(lag.lagSeconds(START + 62_000)).toBe(60);
  });

  it("reads a write time ahead of the local clock as no lag rather than a negative one", () => {
    const lag = tracker();
    lag.polled(poll(false, START + 60_000), START + 1_000);
    expect(lag.lagSeconds(START + 2_000)).toBe(0);
  });
});
