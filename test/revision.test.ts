import { describe, expect, it } from "vitest";
import {
  HybridLogicalClock,
  decodeRevision,
  encodeRevision,
  revisionCounter,
  revisionTimeMs,
} from "../src/source/revision.js";

describe("_rev codec", () => {
  it("decodes real revisions to the time of the documentation run that produced them", () => {
    // From docs-hugo-3.11 logger-follow output (arangodb-protocol.md §10).
    expect(new Date(revisionTimeMs("_jt3aMJe---") ?? 0).toISOString()).toBe(
      "2025-05-23T18:16:18.872Z",
    );
    expect(revisionCounter(decodeRevision("_jt3aJ3m--_") ?? 0n)).toBe(1);
  });

  it("round-trips and preserves order as strings of equal length", () => {
    const a = decodeRevision("_jt3aMJe---") ?? 0n;
    for (const delta of [1n, 63n, 64n, 1n << 20n, 12345678n]) {
      const text = encodeRevision(a + delta);
      expect(decodeRevision(text)).toBe(a + delta);
      expect(text > "_jt3aMJe---").toBe(true);
    }
  });

  it("treats legacy decimal revisions as revisions without a time", () => {
    expect(revisionTimeMs("1234567")).toBeUndefined();
    expect(decodeRevision("not a rev!")).toBeUndefined();
  });

  it("never goes backwards, even when the wall clock does", () => {
    let now = 1_700_000_000_000;
    const clock = new HybridLogicalClock(() => now);
    const first = clock.next();
    now -= 5_000;
    const second = clock.next();
    now += 10_000;
    const third = clock.next();
    expect(second).toBe(first + 1n);
    expect(third > second).toBe(true);
    expect(revisionCounter(third)).toBe(0);
  });
});
