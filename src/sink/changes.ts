/**
 * What the pipeline hands the sink: changes already mapped to rows, in stream order. The sink
 * knows tables and rows, not ArangoDB: these types are its whole interface.
 */
import type { MappedRow } from "../mapping/compile-mapping.js";

export type Change =
  | {
      readonly kind: "upsert";
      readonly collection: string;
      readonly row: MappedRow;
      readonly rev: string;
      /** The document as received, for the journal; omitted when the journal is off. */
      readonly documentJson?: string;
    }
  | {
      readonly kind: "delete";
      readonly collection: string;
      readonly table: string;
      readonly key: string;
      readonly tick: bigint;
      readonly rev: string;
    }
  | {
      readonly kind: "truncate";
      readonly collection: string;
      readonly table: string;
      readonly tick: bigint;
    };

/** An event that cannot be applied: kept with its raw payload and a reason (invariant 4). */
export interface DeadLetter {
  readonly reason: string;
  readonly detail: string;
  readonly table?: string | undefined;
  readonly collection?: string | undefined;
  readonly key?: string | undefined;
  readonly tick?: bigint | undefined;
  /** The raw event as JSON text when it is JSON; otherwise `rawText`. */
  readonly rawJson?: string | undefined;
  readonly rawText?: string | undefined;
}

export type Phase = "snapshotting" | "streaming" | "resnapshotting" | "cutover" | "stopped";

/** The resume position committed with the rows it covers (invariant 1). */
export interface Checkpoint {
  readonly sourceDatabase: string;
  readonly phase: Phase;
  /** Every change up to and including this tick is applied; null before the first snapshot ends. */
  readonly appliedTick: bigint | null;
  readonly lastScanned: bigint | null;
  readonly snapshotTick: bigint | null;
  /** Per-collection snapshot progress. */
  readonly snapshot: Readonly<Record<string, SnapshotProgress>>;
}

export interface SnapshotProgress {
  readonly state: "pending" | "dumping" | "done";
  readonly documents: number;
  /** The tick of the batch this collection was (or is being) dumped at. */
  readonly tick: string;
}

export interface ControlEvent {
  readonly kind: string;
  readonly detail: Readonly<Record<string, unknown>>;
}
