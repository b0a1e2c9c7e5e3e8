/**
 * Regression (property test seed -392341761): a removal followed in the same batch by a newer
 * image of the key was folded away; when that image parked on a missing parent, the removed row
 * stayed in PostgreSQL. Both must reach the sink: the delete first, then the newer upsert.
 */
import { describe, expect, it } from "vitest";
import { planChanges } from "../../../src/sink/apply-batch.js";
import type { Change } from "../../../src/sink/changes.js";

describe("planChanges", () => {
  it("keeps a removal that a newer image of the same key follows", () => {
    const remove: Change = {
      kind: "delete",
      collection: "documents",
      table: "optimization_results",
      key: "d6",
      tick: 10n,
      rev: "r1",
    };
    const upsert: Change = {
      kind: "upsert",
      collection: "documents",
      rev: "r2",
      row: { table: "optimization_results", key: "d6", tick: 12n, values: ["d6"], parents: [] },
    };
    const plan = planChanges([remove, upsert]).get("optimization_results");
    expect(plan?.deletes.get("d6")?.tick).toBe(10n);
    expect(plan?.upserts.get("d6")?.row.tick).toBe(12n);
  });

  it("lets a removal replace an earlier image of the same key", () => {
    const upsert: Change = {
      kind: "upsert",
      collection: "documents",
      rev: "r1",
      row: { table: "optimization_results", key: "d6", tick: 10n, values: ["d6"], parents: [] },
    };
    const remove: Change = {
      kind: "delete",
      collection: "documents",
      table: "optimization_results",
      key: "d6",
      tick: 12n,
      rev: "r1",
    };
    const plan = planChanges([upsert, remove]).get("optimization_results");
    expect(plan?.upserts.has("d6")).toBe(false);
    expect(plan?.deletes.get("d6")?.tick).toBe(12n);
  });
});
