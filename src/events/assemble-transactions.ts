/**
 * Groups markers into the units the sink applies atomically (DESIGN.md §2 invariant 3).
 *
 * What the stream guarantees and what it does not (arangodb-protocol.md §9, §13):
 * - a standalone operation is one 2300/2302 with tid "0";
 * - everything else is a group `2200 … ops … 2201` with one tid; groups never interleave;
 * - an intermediate commit splits one transaction into several groups with the same tid, each
 *   with its own 2200 and 2201; each is its own unit, because ArangoDB commits them separately;
 * - a continuation can arrive without its 2200 (resume inside a group, or a huge group split
 *   across responses), and a group's 2201 can be missing when the server cut the response right
 *   after the group's last operation.
 *
 * So a group is closed by its 2201, by any marker outside it (tid "0", DDL, another 2200, a
 * marker of another tid), or by `endOfStream()` when the caller knows the server is caught up
 * (`checkmore: false` and `lastincluded == lasttick`). A group never waits across a caught-up
 * boundary for a 2201 that may never come.
 *
 * Memory stays bounded: a group holding more than `maxOperationsPerUnit` operations is emitted in
 * parts marked `partial: true`; the sink stages them and applies the group when its final part
 * (`partial: false`) arrives. A partial part's `safeResumeTick` is the tick before the group, so a
 * checkpoint written with it never points into the middle of a group.
 */
import {
  SINGLE_OPERATION_TID,
  type DocumentMarker,
  type Marker,
  type UnknownMarker,
} from "./events.js";
import { maxTick, type Tick } from "./tick.js";

interface UnitTicks {
  /** Tick of the first marker the unit covers (the 2200 when it was seen). */
  readonly firstTick: Tick;
  /** Tick of the last marker the unit covers (the 2201 when it was seen). */
  readonly lastTick: Tick;
  /**
   * The tick to store as checkpoint once this unit is applied: everything at or before it is
   * covered and no group is open there. Equal to `lastTick` except for partial parts (the tick
   * before the group) and a group cut off right after its 2200 (one below the 2200's tick).
   */
  readonly safeResumeTick: Tick;
}

/** A standalone single-document operation (tid "0"). */
export interface OperationUnit extends UnitTicks {
  readonly kind: "operation";
  readonly tid: string;
  readonly operation: DocumentMarker;
}

/** How a transaction unit ended; `undefined` for a partial part (more parts follow). */
export type GroupEnd =
  /** Its 2201 arrived. */
  | "commit"
  /** A 2202 arrived: never produced by RocksDB; the sink must not apply the operations. */
  | "abort"
  /** A marker outside the group arrived first: the 2201 was cut at a response boundary. */
  | "next-marker"
  /** The caller reported the stream caught up while the group was open. */
  | "end-of-stream";

export interface TransactionUnit extends UnitTicks {
  readonly kind: "transaction";
  readonly tid: string;
  /** In stream order; may be empty (a group whose operations were all filtered by the server). */
  readonly operations: readonly DocumentMarker[];
  /** Whether the group's 2200 was seen; "missing" for a continuation. */
  readonly begin: "marker" | "missing";
  readonly end: GroupEnd | undefined;
  /** Index of this part within its group (0 for the first or only part). */
  readonly part: number;
  /** True when more parts of the same group follow: stage, do not commit yet. */
  readonly partial: boolean;
  /** Tick of the group's first marker: with `tid`, identifies the group across its parts. */
  readonly groupFirstTick: Tick;
  /** Markers of unknown types that carried this group's tid (logged and skipped by the caller). */
  readonly unrecognized: readonly UnknownMarker[];
}

/** Any other marker: DDL, ignored DDL, unknown types, and commit/abort markers with no open group. */
export interface MarkerUnit extends UnitTicks {
  readonly kind: "marker";
  readonly marker: Marker;
}

export type AssembledUnit = OperationUnit | TransactionUnit | MarkerUnit;

export interface AssemblerOptions {
  /** Operations held in memory per group before a partial part is emitted. */
  readonly maxOperationsPerUnit?: number;
  /** The checkpoint the stream resumes from: the safe resume tick until a unit moves it. */
  readonly resumeTick?: Tick;
}

export const DEFAULT_MAX_OPERATIONS_PER_UNIT = 10_000;

interface OpenGroup {
  readonly tid: string;
  readonly begin: "marker" | "missing";
  readonly groupFirstTick: Tick;
  /** The safe resume tick before the group started: what partial parts report. */
  readonly safeBefore: Tick;
  firstTick: Tick;
  lastTick: Tick;
  part: number;
  operations: DocumentMarker[];
  unrecognized: UnknownMarker[];
}

export class TransactionAssembler {
  private readonly maxOperations: number;
  private open: OpenGroup | undefined;
  private safeTick: Tick;

  constructor(options: AssemblerOptions = {}) {
    const max = options.maxOperationsPerUnit ?? DEFAULT_MAX_OPERATIONS_PER_UNIT;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxOperationsPerUnit must be a positive integer, got ${max}`);
    }
    this.maxOperations = max;
    this.safeTick = options.resumeTick ?? 0n;
  }

  /** The checkpoint that is safe after every unit emitted so far has been applied. */
  get safeResumeTick(): Tick {
    return this.safeTick;
  }

  /** The group held in memory, if any (for metrics and logs). */
  get openGroup():
    | { readonly tid: string; readonly operations: number; readonly groupFirstTick: Tick }
    | undefined {
    const open = this.open;
    if (open === undefined) return undefined;
    return {
      tid: open.tid,
      operations: open.operations.length,
      groupFirstTick: open.groupFirstTick,
    };
  }

  /**
   * The operations of the group held in memory, in stream order: read, and not part of any unit
   * emitted yet (the daemon reports their write times as waiting).
   */
  get heldOperations(): readonly DocumentMarker[] {
    return this.open?.operations ?? [];
  }

  /** Feeds one marker; returns the units it completes, in stream order. */
  push(marker: Marker): AssembledUnit[] {
    switch (marker.kind) {
      case "transaction-begin": {
        const units = this.close("next-marker");
        this.open = this.startGroup(marker.tid, "marker", marker.tick);
        return units;
      }
      case "transaction-commit":
      case "transaction-abort": {
        const open = this.open;
        if (open?.tid === marker.tid) {
          open.lastTick = marker.tick;
          return this.close(marker.kind === "transaction-commit" ? "commit" : "abort");
        }
        return [...this.close("next-marker"), this.markerUnit(marker)];
      }
      case "document-upsert":
      case "document-remove":
        return this.pushOperation(marker);
      case "unknown": {
        const open = this.open;
        if (open !== undefined && marker.tid === open.tid) {
          open.unrecognized.push(marker);
          open.lastTick = marker.tick;
          return [];
        }
        return [...this.close("next-marker"), this.markerUnit(marker)];
      }
      default:
        return [...this.close("next-marker"), this.markerUnit(marker)];
    }
  }

  /** Feeds markers in order; returns every unit they complete. */
  pushAll(markers: Iterable<Marker>): AssembledUnit[] {
    const units: AssembledUnit[] = [];
    for (const marker of markers) units.push(...this.push(marker));
    return units;
  }

  /**
   * The server is caught up (`checkmore: false`, `lastincluded == lasttick`): close the open
   * group instead of waiting for a 2201 that a cut response will not repeat (protocol §9).
   */
  endOfStream(): AssembledUnit[] {
    return this.close("end-of-stream");
  }

  private pushOperation(operation: DocumentMarker): AssembledUnit[] {
    if (operation.tid === SINGLE_OPERATION_TID) {
      const units = this.close("next-marker");
      this.safeTick = operation.tick;
      units.push({
        kind: "operation",
        tid: operation.tid,
        operation,
        firstTick: operation.tick,
        lastTick: operation.tick,
        safeResumeTick: operation.tick,
      });
      return units;
    }
    let units: AssembledUnit[] = [];
    let open = this.open;
    if (open?.tid !== operation.tid) {
      // A continuation whose 2200 we never saw, or a group whose predecessor lost its 2201.
      units = this.close("next-marker");
      open = this.startGroup(operation.tid, "missing", operation.tick);
      this.open = open;
    }
    if (open.operations.length >= this.maxOperations) {
      units.push(this.partialPart(open));
      open.firstTick = operation.tick;
    }
    open.operations.push(operation);
    open.lastTick = operation.tick;
    return units;
  }

  private startGroup(tid: string, begin: "marker" | "missing", tick: Tick): OpenGroup {
    return {
      tid,
      begin,
      groupFirstTick: tick,
      safeBefore: this.safeTick,
      firstTick: tick,
      lastTick: tick,
      part: 0,
      operations: [],
      unrecognized: [],
    };
  }

  private partialPart(open: OpenGroup): TransactionUnit {
    const unit: TransactionUnit = {
      kind: "transaction",
      tid: open.tid,
      operations: open.operations,
      begin: open.begin,
      end: undefined,
      part: open.part,
      partial: true,
      groupFirstTick: open.groupFirstTick,
      unrecognized: open.unrecognized,
      firstTick: open.firstTick,
      lastTick: open.lastTick,
      safeResumeTick: open.safeBefore,
    };
    open.part += 1;
    open.operations = [];
    open.unrecognized = [];
    return unit;
  }

  private close(end: GroupEnd): AssembledUnit[] {
    const open = this.open;
    if (open === undefined) return [];
    this.open = undefined;
    // A group cut off right after its 2200 has covered nothing at that tick yet: the 2200
    // carries the tick of the group's first operation (protocol §8), which is still to come.
    const onlyBegin =
      open.begin === "marker" &&
      open.operations.length === 0 &&
      open.lastTick === open.groupFirstTick &&
      (end === "next-marker" || end === "end-of-stream");
    const safe = onlyBegin ? maxTick(open.safeBefore, open.lastTick - 1n) : open.lastTick;
    this.safeTick = safe;
    return [
      {
        kind: "transaction",
        tid: open.tid,
        operations: open.operations,
        begin: open.begin,
        end,
        part: open.part,
        partial: false,
        groupFirstTick: open.groupFirstTick,
        unrecognized: open.unrecognized,
        firstTick: open.firstTick,
        lastTick: open.lastTick,
        safeResumeTick: safe,
      },
    ];
  }

  private markerUnit(marker: Marker): MarkerUnit {
    this.safeTick = marker.tick;
    return {
      kind: "marker",
      marker,
      firstTick: marker.tick,
      lastTick: marker.tick,
      safeResumeTick: marker.tick,
    };
  }
}
