import { describe, expect, it } from "vitest";
import {
  TransactionAssembler,
  type AssembledUnit,
  type TransactionUnit,
} from "../../../src/events/assemble-transactions.js";
import { abort, begin, commit, drop, op, remove, unknown } from "./marker-builders.js";

/** A compact picture of units: kind, tid, keys, end, and the tick range. */
function summary(units: readonly AssembledUnit[]): string[] {
  return units.map((unit) => {
    const ticks = `${unit.firstTick}-${unit.lastTick}@${unit.safeResumeTick}`;
    switch (unit.kind) {
      case "operation":
        return `op ${unit.operation.key} ${ticks}`;
      case "marker":
        return `marker ${unit.marker.kind} ${ticks}`;
      case "transaction": {
        const keys = unit.operations.map((operation) => operation.key).join(",");
        const flags = `${unit.begin}/${unit.end ?? "partial"}#${unit.part}`;
        return `tx ${unit.tid} [${keys}] ${flags} ${ticks}`;
      }
    }
  });
}

function transactions(units: readonly AssembledUnit[]): TransactionUnit[] {
  return units.filter((unit): unit is TransactionUnit => unit.kind === "transaction");
}

describe("TransactionAssembler: groups and single operations", () => {
  it("emits each standalone operation as its own unit", () => {
    const assembler = new TransactionAssembler();
    const units = assembler.pushAll([op(10, "0", "a"), remove(12, "0", "b")]);
    expect(summary(units)).toEqual(["op a 10-10@10", "op b 12-12@12"]);
    expect(assembler.safeResumeTick).toBe(12n);
  });

  it("holds a group until its commit, then emits it whole", () => {
    const assembler = new TransactionAssembler({ resumeTick: 5n });
    expect(assembler.pushAll([begin(20, "7"), op(20, "7", "a"), op(22, "7", "b")])).toEqual([]);
    expect(assembler.openGroup).toEqual({ tid: "7", operations: 2, groupFirstTick: 20n });
    expect(assembler.safeResumeTick).toBe(5n);
    const units = assembler.push(commit(22, "7"));
    expect(summary(units)).toEqual(["tx 7 [a,b] marker/commit#0 20-22@22"]);
    expect(assembler.openGroup).toBeUndefined();
    expect(assembler.safeResumeTick).toBe(22n);
  });

  it("keeps a group open across response boundaries while the server has more", () => {
    const assembler = new TransactionAssembler();
    const first = assembler.pushAll([begin(30, "8"), op(30, "8", "a")]);
    const second = assembler.pushAll([op(32, "8", "b"), commit(32, "8"), op(34, "0", "c")]);
    expect(first).toEqual([]);
    expect(summary(second)).toEqual(["tx 8 [a,b] marker/commit#0 30-32@32", "op c 34-34@34"]);
  });

  it("treats intermediate commits of one transaction as separate units", () => {
    const units = new TransactionAssembler().pushAll([
      begin(40, "9"),
      op(40, "9", "a"),
      commit(40, "9"),
      op(42, "0", "x"),
      begin(44, "9"),
      op(44, "9", "b"),
      op(46, "9", "c"),
      commit(46, "9"),
    ]);
    expect(summary(units)).toEqual([
      "tx 9 [a] marker/commit#0 40-40@40",
      "op x 42-42@42",
      "tx 9 [b,c] marker/commit#0 44-46@46",
    ]);
  });

  it("emits an empty group so the checkpoint can pass it", () => {
    const units = new TransactionAssembler().pushAll([begin(50, "3"), commit(50, "3")]);
    expect(summary(units)).toEqual(["tx 3 [] marker/commit#0 50-50@50"]);
  });
});

describe("TransactionAssembler: missing begin and commit markers (protocol §9, §13)", () => {
  it("accepts a continuation that arrives without its 2200", () => {
    const units = new TransactionAssembler({ resumeTick: 59n }).pushAll([
      op(60, "11", "b"),
      op(62, "11", "c"),
      commit(62, "11"),
    ]);
    expect(summary(units)).toEqual(["tx 11 [b,c] missing/commit#0 60-62@62"]);
  });

  it("closes a group whose 2201 was cut when a standalone operation follows", () => {
    const units = new TransactionAssembler().pushAll([
      begin(70, "12"),
      op(70, "12", "a"),
      op(72, "0", "b"),
    ]);
    expect(summary(units)).toEqual(["tx 12 [a] marker/next-marker#0 70-70@70", "op b 72-72@72"]);
  });

  it("closes the open group before a DDL marker", () => {
    const units = new TransactionAssembler().pushAll([
      begin(80, "13"),
      op(80, "13", "a"),
      drop(82),
    ]);
    expect(summary(units)).toEqual([
      "tx 13 [a] marker/next-marker#0 80-80@80",
      "marker collection-drop 82-82@82",
    ]);
  });

  it("closes the open group when a 2200 of another transaction starts", () => {
    const units = new TransactionAssembler().pushAll([
      begin(90, "14"),
      op(90, "14", "a"),
      begin(92, "15"),
      op(92, "15", "b"),
      commit(92, "15"),
    ]);
    expect(summary(units)).toEqual([
      "tx 14 [a] marker/next-marker#0 90-90@90",
      "tx 15 [b] marker/commit#0 92-92@92",
    ]);
  });

  it("closes the open group when a 2200 of the same transaction starts (intermediate commit)", () => {
    const units = new TransactionAssembler().pushAll([
      begin(100, "16"),
      op(100, "16", "a"),
      begin(102, "16"),
      op(102, "16", "b"),
      commit(102, "16"),
    ]);
    expect(transactions(units).map((unit) => unit.operations.map((o) => o.key))).toEqual([
      ["a"],
      ["b"],
    ]);
  });

  it("closes the open group when operations of another tid arrive without a 2200", () => {
    const units = new TransactionAssembler().pushAll([
      begin(110, "17"),
      op(110, "17", "a"),
      op(112, "18", "b"),
      commit(112, "18"),
    ]);
    expect(summary(units)).toEqual([
      "tx 17 [a] marker/next-marker#0 110-110@110",
      "tx 18 [b] missing/commit#0 112-112@112",
    ]);
  });

  it("closes the open group when the caller reports the stream caught up", () => {
    const assembler = new TransactionAssembler();
    expect(assembler.pushAll([begin(120, "19"), op(120, "19", "a")])).toEqual([]);
    expect(summary(assembler.endOfStream())).toEqual([
      "tx 19 [a] marker/end-of-stream#0 120-120@120",
    ]);
    expect(assembler.endOfStream()).toEqual([]);
    // Should more of the same transaction appear after all, it is a new unit of its own.
    expect(summary(assembler.pushAll([op(122, "19", "b"), commit(122, "19")]))).toEqual([
      "tx 19 [b] missing/commit#0 122-122@122",
    ]);
  });

  it("does not let a group cut right after its 2200 claim the tick its first operation shares", () => {
    const assembler = new TransactionAssembler({ resumeTick: 118n });
    expect(assembler.push(begin(124, "24"))).toEqual([]);
    const [unit] = assembler.endOfStream();
    expect(unit?.safeResumeTick).toBe(123n);
    expect(summary(assembler.pushAll([op(124, "24", "a"), commit(124, "24")]))).toEqual([
      "tx 24 [a] missing/commit#0 124-124@124",
    ]);
  });

  it("passes a commit with no open group through as a marker unit", () => {
    const units = new TransactionAssembler().pushAll([op(130, "0", "a"), commit(132, "20")]);
    expect(summary(units)).toEqual(["op a 130-130@130", "marker transaction-commit 132-132@132"]);
  });

  it("reports an aborted group with its operations and end abort", () => {
    const units = new TransactionAssembler().pushAll([
      begin(140, "21"),
      op(140, "21", "a"),
      abort(141, "21"),
    ]);
    expect(summary(units)).toEqual(["tx 21 [a] marker/abort#0 140-141@141"]);
  });
});

describe("TransactionAssembler: unknown marker types", () => {
  it("keeps an unknown marker carrying the open group's tid inside the group", () => {
    const units = new TransactionAssembler().pushAll([
      begin(150, "22"),
      op(150, "22", "a"),
      unknown(151, "22"),
      op(152, "22", "b"),
      commit(152, "22"),
    ]);
    const [unit] = transactions(units);
    expect(unit?.operations.map((o) => o.key)).toEqual(["a", "b"]);
    expect(unit?.unrecognized.map((marker) => marker.tick)).toEqual([151n]);
  });

  it("treats an unknown marker without the group's tid as outside the group", () => {
    const units = new TransactionAssembler().pushAll([
      begin(160, "23"),
      op(160, "23", "a"),
      unknown(161, undefined),
    ]);
    expect(summary(units)).toEqual([
      "tx 23 [a] marker/next-marker#0 160-160@160",
      "marker unknown 161-161@161",
    ]);
  });
});

describe("TransactionAssembler: bounded memory", () => {
  it("emits a group larger than the limit in parts; only the last one moves the checkpoint", () => {
    const assembler = new TransactionAssembler({ maxOperationsPerUnit: 2, resumeTick: 199n });
    const units = assembler.pushAll([
      begin(200, "30"),
      op(200, "30", "a"),
      op(202, "30", "b"),
      op(204, "30", "c"),
      op(206, "30", "d"),
      op(208, "30", "e"),
      commit(208, "30"),
    ]);
    expect(summary(units)).toEqual([
      "tx 30 [a,b] marker/partial#0 200-202@199",
      "tx 30 [c,d] marker/partial#1 204-206@199",
      "tx 30 [e] marker/commit#2 208-208@208",
    ]);
    expect(transactions(units).map((unit) => [unit.partial, unit.groupFirstTick])).toEqual([
      [true, 200n],
      [true, 200n],
      [false, 200n],
    ]);
  });

  it("does not split a group of exactly the limit", () => {
    const units = new TransactionAssembler({ maxOperationsPerUnit: 2 }).pushAll([
      begin(210, "31"),
      op(210, "31", "a"),
      op(212, "31", "b"),
      commit(212, "31"),
    ]);
    expect(summary(units)).toEqual(["tx 31 [a,b] marker/commit#0 210-212@212"]);
  });

  it("holds at most the limit of operations while a group is open", () => {
    const assembler = new TransactionAssembler({ maxOperationsPerUnit: 3 });
    assembler.push(begin(300, "32"));
    let emitted = 0;
    for (let index = 0; index < 10; index += 1) {
      emitted += transactions(assembler.push(op(300 + index, "32", `k${index}`))).length;
      expect(assembler.openGroup?.operations).toBeLessThanOrEqual(3);
    }
    expect(emitted).toBe(3);
  });

  it("rejects a limit below one", () => {
    expect(() => new TransactionAssembler({ maxOperationsPerUnit: 0 })).toThrow(RangeError);
  });
});
