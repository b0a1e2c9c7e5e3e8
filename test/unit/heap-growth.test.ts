import { describe, expect, it } from "vitest";
import { decideHeapGrowth } from "../../src/observe/heap-growth.js";

describe("decideHeapGrowth", () => {
  const none = { execArgv: [], nodeOptions: undefined };

  it("sets the configured growth when Node was given none", () => {
    expect(decideHeapGrowth(20, none)).toEqual({ applied: true, percent: 20 });
    expect(
      decideHeapGrowth(35, {
        execArgv: ["--enable-source-maps"],
        nodeOptions: "--max-old-space-size=256",
      }),
    ).toEqual({ applied: true, percent: 35 });
  });

  it("leaves V8's heuristics alone when the setting is 0", () => {
    expect(decideHeapGrowth(0, none)).toEqual({ applied: false, reason: "off" });
  });

  it("lets the operator's own flag win, from the command line or NODE_OPTIONS, in either spelling", () => {
    const operator = { applied: false, reason: "set-by-operator" };
    expect(
      decideHeapGrowth(20, { execArgv: ["--heap-growing-percent=50"], nodeOptions: undefined }),
    ).toEqual(operator);
    expect(
      decideHeapGrowth(20, { execArgv: [], nodeOptions: "--trace-gc  --heap_growing_percent=10" }),
    ).toEqual(operator);
  });
});
