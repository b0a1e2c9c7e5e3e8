import { describe, expect, expectTypeOf, it } from "vitest";
import type { RowFailureReason } from "../../src/mapping/compile-mapping.js";
import type { ApplyCounts } from "../../src/sink/apply-batch.js";
import type { Phase } from "../../src/sink/changes.js";
import {
  DEAD_LETTER_REASONS,
  PIPELINE_PHASES,
  SyncEvents,
  deadLetterReasonLabel,
  sourceErrorKind,
  type DeadLetterReason,
  type PipelinePhase,
  type RowOp,
  type SyncEventMap,
} from "../../src/observe/sync-events.js";

type Snake<S extends string> = S extends `${infer A}-${infer B}` ? Snake<`${A}_${B}`> : S;

describe("SyncEvents", () => {
  it("delivers each payload to the listeners of its event, in subscription order", () => {
    const events = new SyncEvents();
    const seen: string[] = [];
    events.on("pipeline:phase", (e) => seen.push(`first ${e.phase}`));
    events.on("pipeline:phase", (e) => seen.push(`second ${e.phase}`));
    events.on("pipeline:stopping", (e) => seen.push(`stopping ${e.reason}`));
    events.emit("pipeline:phase", { phase: "streaming", previous: "snapshotting" });
    expect(seen).toEqual(["first streaming", "second streaming"]);
  });

  it("stops delivering to a listener once it unsubscribed, and only to that subscription", () => {
    const events = new SyncEvents();
    const seen: number[] = [];
    const listener = (e: SyncEventMap["pipeline:queue"]): void => {
      seen.push(e.events);
    };
    const offFirst = events.on("pipeline:queue", listener);
    events.on("pipeline:queue", listener);
    events.emit("pipeline:queue", { events: 1, bytes: 10 });
    offFirst();
    events.emit("pipeline:queue", { events: 2, bytes: 20 });
    expect(seen).toEqual([1, 1, 2]);
    expect(events.listenerCount("pipeline:queue")).toBe(1);
  });

  it("hands a listener's error to the handler and still runs the other listeners", () => {
    const failures: [unknown, string][] = [];
    const events = new SyncEvents((error, event) => failures.push([error, event]));
    let reached = false;
    events.on("pipeline:alive", () => {
      throw new Error("metrics bug");
    });
    events.on("pipeline:alive", () => {
      reached = true;
    });
    events.emit("pipeline:alive", {});
    expect(reached).toBe(true);
    expect(failures).toHaveLength(1);
    expect((failures[0]?.[0] as Error).message).toBe("metrics bug");
    expect(failures[0]?.[1]).toBe("pipeline:alive");
  });

  it("rethrows after every listener ran when no handler is set, so a bug is never silent", () => {
    const events = new SyncEvents();
    let reached = false;
    events.on("pipeline:alive", () => {
      throw new Error("one");
    });
    events.on("pipeline:alive", () => {
      reached = true;
    });
    expect(() => events.emit("pipeline:alive", {})).toThrow("one");
    expect(reached).toBe(true);

    events.on("pipeline:alive", () => {
      throw new Error("two");
    });
    expect(() => events.emit("pipeline:alive", {})).toThrow(AggregateError);
  });

  it("emits to nobody without error", () => {
    expect(() => new SyncEvents().emit("pipeline:alive", {})).not.toThrow();
  });
});

describe("labels from event fields", () => {
  it("maps dead-letter reasons of the sink and the mapping onto the fixed list, others to 'other'", () => {
    expect(deadLetterReasonLabel("missing_parent")).toBe("missing_parent");
    expect(deadLetterReasonLabel("not-in-enum")).toBe("not_in_enum");
    expect(deadLetterReasonLabel("user not found")).toBe("other");
    expect(deadLetterReasonLabel('value "x" of key k1')).toBe("other");
    expect(new Set(DEAD_LETTER_REASONS).size).toBe(DEAD_LETTER_REASONS.length);
  });

  it("classifies source failures by the error's code", () => {
    expect(sourceErrorKind("SOURCE_UNAVAILABLE")).toBe("unavailable");
    expect(sourceErrorKind("SOURCE_AUTH")).toBe("auth");
    expect(sourceErrorKind("SOURCE_PROTOCOL")).toBe("protocol");
    expect(sourceErrorKind("SOURCE_BATCH_EXPIRED")).toBe("batch_expired");
    expect(sourceErrorKind("INTERNAL")).toBe("other");
    expect(sourceErrorKind(undefined)).toBe("other");
  });

  it("keeps the fixed lists in step with the pipeline's own types (checked by tsc)", () => {
    // The sink's checkpoint phases are phases operators see; the mapping's row failures and the
    // sink's row operations are label values, so a new one must be added here on purpose.
    expectTypeOf<Phase>().toExtend<PipelinePhase>();
    expectTypeOf<Snake<RowFailureReason>>().toExtend<DeadLetterReason>();
    expectTypeOf<
      keyof (ApplyCounts["rows"] extends Map<string, infer V> ? V : never)
    >().toExtend<RowOp>();
    expect(PIPELINE_PHASES).toContain("starting");
  });
});
