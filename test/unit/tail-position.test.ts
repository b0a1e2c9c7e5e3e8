import { describe, expect, it } from "vitest";
import { PollBackoff, nextTailPosition } from "../../src/source/tail-position.js";

const headers = (h: Partial<Parameters<typeof nextTailPosition>[1]>) => ({
  lastIncluded: 0n,
  lastScanned: 0n,
  lastTick: 0n,
  fromPresent: true,
  checkMore: false,
  ...h,
});

describe("next tail position (ArangoDB's TailingSyncer rules)", () => {
  it("advances from to lastIncluded and passes lastScanned back", () => {
    const step = nextTailPosition(
      { from: 100n, lastScanned: 0n },
      headers({ lastIncluded: 150n, lastScanned: 160n, lastTick: 160n, checkMore: true }),
    );
    expect(step.next).toEqual({ from: 150n, lastScanned: 160n });
    expect(step.progressed).toBe(true);
    expect(step.pollAgainNow).toBe(true);
  });

  it("skips over filtered-out WAL with lastScanned - 1 when nothing was included", () => {
    const step = nextTailPosition(
      { from: 100n, lastScanned: 0n },
      headers({ lastScanned: 130n, lastTick: 130n }),
    );
    expect(step.next.from).toBe(129n);
    expect(step.progressed).toBe(true);
    expect(step.pollAgainNow).toBe(false);
  });

  it("stays put on an empty answer whose lastScanned is below from (real TailingEmpty)", () => {
    // Recorded 3.11 exchange: from=189297, lastscanned=189294, lastincluded=0, 204.
    const step = nextTailPosition(
      { from: 189297n, lastScanned: 0n },
      headers({ lastScanned: 189294n, lastTick: 189297n }),
    );
    expect(step.next).toEqual({ from: 189297n, lastScanned: 189294n });
    expect(step.progressed).toBe(false);
  });

  it("reports a gap when from is no longer present, except from 0", () => {
    expect(
      nextTailPosition({ from: 5n, lastScanned: 0n }, headers({ fromPresent: false })).gap,
    ).toBe(true);
    expect(
      nextTailPosition({ from: 0n, lastScanned: 0n }, headers({ fromPresent: false })).gap,
    ).toBe(false);
  });

  it("does not poll again at once when checkmore is set but nothing moved", () => {
    const step = nextTailPosition(
      { from: 200n, lastScanned: 0n },
      headers({ lastIncluded: 200n, lastScanned: 190n, lastTick: 210n, checkMore: true }),
    );
    expect(step.pollAgainNow).toBe(false);
  });

  it("compares ticks beyond 2^53 exactly", () => {
    const big = 2n ** 60n;
    const step = nextTailPosition(
      { from: big, lastScanned: 0n },
      headers({ lastIncluded: big + 1n, lastTick: big + 9n }),
    );
    expect(step.next.from).toBe(big + 1n);
  });
});

describe("poll back-off", () => {
  it("grows while idle up to its cap and resets on progress", () => {
    const backoff = new PollBackoff(undefined, () => 1);
    const waits = Array.from({ length: 400 }, () => backoff.idle());
    // The first 50 empty answers (a second) are polled every 20 ms: latency stays low.
    expect(waits.slice(0, 50).every((w) => w === 20)).toBe(true);
    expect(waits[50]).toBe(40);
    expect(waits[100]).toBe(80);
    // Capped at a second, reached after about a minute of idleness.
    const idleMs = (n: number): number => waits.slice(0, n).reduce((sum, w) => sum + w, 0);
    const firstCapped = waits.indexOf(1000);
    expect(firstCapped).toBeGreaterThan(0);
    expect(idleMs(firstCapped)).toBeGreaterThan(30_000);
    expect(idleMs(firstCapped)).toBeLessThan(120_000);
    expect(Math.max(...waits)).toBe(1000);
    backoff.busy();
    expect(backoff.idle()).toBe(20);
  });

  it("backs off exponentially after failures, bounded, with jitter", () => {
    const backoff = new PollBackoff(undefined, () => 0);
    const first = backoff.failed();
    const waits = [first.waitMs, ...Array.from({ length: 10 }, () => backoff.failed().waitMs)];
    expect(first.consecutiveFailures).toBe(1);
    expect(waits[0]).toBe(375);
    expect(waits.at(-1)).toBe(22500);
  });
});
