import { describe, expect, it } from "vitest";
import { deserializeChange, serializeChange } from "../../../src/sink/apply-batch.js";
import type { Change } from "../../../src/sink/changes.js";

describe("staged change serialization", () => {
  it("round-trips ticks beyond 2^53 exactly and leaves look-alike text values alone", () => {
    const upsert: Change = {
      kind: "upsert",
      collection: "resumes",
      rev: "_jt3aMJe---",
      documentJson: '{"note":"5n"}',
      row: {
        table: "resumes",
        key: "k1",
        tick: 2n ** 60n + 7n,
        values: ["k1", "5n", null, '{"a":"12n"}'],
        parents: [],
      },
    };
    const remove: Change = {
      kind: "delete",
      collection: "resumes",
      table: "resumes",
      key: "k2",
      tick: 2n ** 63n,
      rev: "r",
    };
    const truncate: Change = { kind: "truncate", collection: "jobs", table: "jobs", tick: 9n };
    for (const change of [upsert, remove, truncate]) {
      expect(deserializeChange(serializeChange(change))).toEqual(change);
    }
  });
});
