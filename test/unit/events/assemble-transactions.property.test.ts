import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TransactionAssembler,
  type AssembledUnit,
} from "../../../src/events/assemble-transactions.js";
import type { Marker } from "../../../src/events/events.js";
import { begin, commit, drop, keysOf, op, remove } from "./marker-builders.js";

/** One item of a generated stream: a standalone operation, a DDL marker, or a transaction group. */
type Item =
  | { readonly kind: "single"; readonly remove: boolean }
  | { readonly kind: "ddl" }
  | {
      readonly kind: "group";
      /** Few distinct tids, so intermediate commits (same tid, consecutive groups) happen. */
      readonly tid: string;
      readonly operations: number;
      readonly dropBegin: boolean;
      readonly dropCommit: boolean;
    };

interface GroupInfo {
  readonly tid: string;
  readonly keys: readonly string[];
  readonly ticks: readonly bigint[];
  readonly complete: boolean;
  /** Index of its first and last marker in the stream. */
  readonly first: number;
  readonly last: number;
}

interface Stream {
  readonly markers: readonly Marker[];
  readonly groups: readonly GroupInfo[];
}

const item: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("single" as const), remove: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("ddl" as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("group" as const),
      tid: fc.constantFrom("101", "102", "103"),
      operations: fc.integer({ min: 0, max: 7 }),
      dropBegin: fc.boolean(),
      dropCommit: fc.boolean(),
    }),
  },
);

/** Lays items out as markers with ticks as RocksDB assigns them (protocol §8). */
function buildStream(items: readonly Item[]): Stream {
  const markers: Marker[] = [];
  const groups: GroupInfo[] = [];
  let tick = 100;
  let keyCounter = 0;
  const nextKey = (): string => `k${(keyCounter += 1)}`;
  for (const entry of items) {
    if (entry.kind === "single") {
      tick += 2;
      const key = nextKey();
      markers.push(entry.remove ? remove(tick, "0", key) : op(tick, "0", key));
    } else if (entry.kind === "ddl") {
      tick += 1;
      markers.push(drop(tick));
    } else {
      const first = markers.length;
      const firstTick = tick + 2;
      const keys: string[] = [];
      const ticks: bigint[] = [];
      if (!entry.dropBegin) markers.push(begin(firstTick, entry.tid));
      for (let index = 0; index < entry.operations; index += 1) {
        tick += 2;
        const key = nextKey();
        keys.push(key);
        ticks.push(BigInt(tick));
        markers.push(index % 3 === 2 ? remove(tick, entry.tid, key) : op(tick, entry.tid, key));
      }
      // The commit carries the tick of the batch's last write (protocol §8).
      tick = Math.max(tick, firstTick);
      if (!entry.dropCommit) markers.push(commit(tick, entry.tid));
      if (markers.length > first) {
        groups.push({
          tid: entry.tid,
          keys,
          ticks,
          complete: !entry.dropBegin && !entry.dropCommit,
          first,
          last: markers.length - 1,
        });
      }
    }
  }
  return { markers, groups };
}

function unitKeys(units: readonly AssembledUnit[]): string[] {
  return units.flatMap((unit) => {
    if (unit.kind === "operation") return [unit.operation.key];
    if (unit.kind === "transaction") return unit.operations.map((operation) => operation.key);
    return [];
  });
}

/** Feeds the stream; at each cut that says so, the caller reports the stream caught up. */
function assemble(stream: Stream, limit: number, flushes: ReadonlySet<number>): AssembledUnit[] {
  const assembler = new TransactionAssembler({ maxOperationsPerUnit: limit });
  const units: AssembledUnit[] = [];
  stream.markers.forEach((marker, index) => {
    if (flushes.has(index)) units.push(...assembler.endOfStream());
    units.push(...assembler.push(marker));
  });
  units.push(...assembler.endOfStream());
  return units;
}

const scenario = fc.record({
  items: fc.array(item, { maxLength: 30 }),
  limit: fc.integer({ min: 1, max: 5 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
});

describe("TransactionAssembler properties", () => {
  it("emits every operation exactly once, in order, and never mixes two tids in a unit", () => {
    fc.assert(
      fc.property(scenario, ({ items, limit, cuts }) => {
        const stream = buildStream(items);
        const flushes = new Set(cuts.map((cut) => cut % (stream.markers.length + 1)));
        const units = assemble(stream, limit, flushes);

        expect(unitKeys(units)).toEqual(keysOf(stream.markers));

        for (const unit of units) {
          if (unit.kind === "operation") expect(unit.operation.tid).toBe("0");
          if (unit.kind === "transaction") {
            expect(unit.tid).not.toBe("0");
            for (const operation of unit.operations) expect(operation.tid).toBe(unit.tid);
            expect(unit.operations.length).toBeLessThanOrEqual(limit);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps tick ranges ordered and the safe resume tick out of open groups", () => {
    fc.assert(
      fc.property(scenario, ({ items, limit, cuts }) => {
        const stream = buildStream(items);
        const flushes = new Set(cuts.map((cut) => cut % (stream.markers.length + 1)));
        const units = assemble(stream, limit, flushes);
        let previous: AssembledUnit | undefined;
        for (const unit of units) {
          expect(unit.firstTick).toBeLessThanOrEqual(unit.lastTick);
          const partial = unit.kind === "transaction" && unit.partial;
          // A group cut off right after its 2200 shares that tick with its first operation.
          const onlyBegin =
            unit.kind === "transaction" &&
            unit.operations.length === 0 &&
            unit.begin === "marker" &&
            (unit.end === "next-marker" || unit.end === "end-of-stream");
          if (partial) expect(unit.safeResumeTick).toBeLessThan(unit.firstTick);
          else if (onlyBegin) expect(unit.safeResumeTick).toBe(unit.lastTick - 1n);
          else expect(unit.safeResumeTick).toBe(unit.lastTick);
          if (previous !== undefined) {
            expect(previous.lastTick).toBeLessThanOrEqual(unit.firstTick);
            expect(previous.safeResumeTick).toBeLessThanOrEqual(unit.safeResumeTick);
          }
          previous = unit;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("follows every partial part with the next part of the same group", () => {
    fc.assert(
      fc.property(scenario, ({ items, limit, cuts }) => {
        const stream = buildStream(items);
        const flushes = new Set(cuts.map((cut) => cut % (stream.markers.length + 1)));
        const units = assemble(stream, limit, flushes);
        units.forEach((unit, index) => {
          if (unit.kind !== "transaction" || !unit.partial) return;
          const next = units[index + 1];
          expect(next?.kind).toBe("transaction");
          if (next?.kind !== "transaction") return;
          expect([next.tid, next.groupFirstTick, next.part]).toEqual([
            unit.tid,
            unit.groupFirstTick,
            unit.part + 1,
          ]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it("emits a complete group that fits the limit as exactly one committed unit", () => {
    fc.assert(
      fc.property(scenario, ({ items, limit, cuts }) => {
        const stream = buildStream(items);
        const flushes = new Set(cuts.map((cut) => cut % (stream.markers.length + 1)));
        const units = assemble(stream, limit, flushes);
        for (const group of stream.groups) {
          const interrupted = [...flushes].some((cut) => cut > group.first && cut <= group.last);
          if (!group.complete || interrupted || group.keys.length > limit) continue;
          const matching = units.filter(
            (unit) =>
              unit.kind === "transaction" && unit.firstTick === stream.markers[group.first]?.tick,
          );
          expect(matching).toHaveLength(1);
          const [unit] = matching;
          if (unit?.kind !== "transaction") continue;
          expect(unit.operations.map((operation) => operation.key)).toEqual(group.keys);
          expect([unit.begin, unit.end, unit.partial]).toEqual(["marker", "commit", false]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("resumes after a crash from the safe tick without losing an operation or splitting a group", () => {
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 4 }),
        (items, limit, crashAt, cuts) => {
          const stream = buildStream(items);
          const crash = crashAt % (stream.markers.length + 1);
          const flushes = new Set(cuts.map((cut) => cut % (stream.markers.length + 1)));

          // Before the crash: units are applied as they come; partial parts stay staged
          // until their group's last part, so staged parts of an unfinished group are lost.
          const first = new TransactionAssembler({ maxOperationsPerUnit: limit });
          const emitted: AssembledUnit[] = [];
          stream.markers.slice(0, crash).forEach((marker, index) => {
            if (flushes.has(index)) emitted.push(...first.endOfStream());
            emitted.push(...first.push(marker));
          });
          const lastFinal = emitted.findLastIndex(
            (unit) => !(unit.kind === "transaction" && unit.partial),
          );
          const applied = unitKeys(emitted.slice(0, lastFinal + 1));
          const checkpoint = first.safeResumeTick;

          // After the restart the server serves every marker with tick > checkpoint.
          const second = new TransactionAssembler({
            maxOperationsPerUnit: limit,
            resumeTick: checkpoint,
          });
          const replayed = second.pushAll(
            stream.markers.filter((marker) => marker.tick > checkpoint),
          );
          replayed.push(...second.endOfStream());

          const operations = stream.markers.filter(
            (marker) => marker.kind === "document-upsert" || marker.kind === "document-remove",
          );
          const after = keysOf(operations.filter((marker) => marker.tick > checkpoint));
          const before = keysOf(operations.filter((marker) => marker.tick <= checkpoint));
          expect(unitKeys(replayed)).toEqual(after);
          for (const key of before) expect(applied).toContain(key);
          // A group is never split by the checkpoint, unless the caller itself declared the
          // stream caught up in the middle of it.
          for (const group of stream.groups) {
            const interrupted = [...flushes].some((cut) => cut > group.first && cut <= group.last);
            if (interrupted) continue;
            const inside = group.ticks.filter((tick) => tick <= checkpoint).length;
            expect([0, group.ticks.length]).toContain(inside);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
