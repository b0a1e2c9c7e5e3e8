/**
 * The seam between the pipeline and everything that watches it: a typed `"subject:action"` event
 * map and a tiny synchronous emitter. The pipeline reports facts (a poll answered, a batch
 * committed, a gap found); metrics, logs and health subscribe and derive their own views, so the
 * pipeline never imports prom-client or formats a log line.
 *
 * No I/O and no dependency beyond plain types: any module may import this file.
 *
 * Conventions:
 * - ticks are `bigint` (they are uint64, events/tick.ts); subscribers decide how to print them;
 * - times are milliseconds since 1970 (`…Ms`, like `Date.now()` and `revisionTimeMs()`), durations
 *   are milliseconds (`durationMs`);
 * - collection and table names are the ones in the mapping config; anything else a subscriber
 *   receives is folded into a fixed label value, never used as a label itself.
 */
import type { SyncErrorCode } from "../errors.js";
import type { Tick } from "../events/tick.js";

/**
 * The daemon's phases, as operators see them (`phase{phase}`, `/status`). Kept separate from
 * internal state names so they stay stable.
 */
export const PIPELINE_PHASES = [
  "starting",
  "snapshotting",
  "streaming",
  "resnapshotting",
  "cutover",
  "stopped",
] as const;
export type PipelinePhase = (typeof PIPELINE_PHASES)[number];

/** What a WAL marker did to a document collection (2300, 2302, 2004). */
export const EVENT_OPS = ["upsert", "remove", "truncate"] as const;
export type EventOp = (typeof EVENT_OPS)[number];

/** What the sink did to target rows (an upsert counts only rows that won their tick guard). */
export const ROW_OPS = ["upsert", "delete", "truncate"] as const;
export type RowOp = (typeof ROW_OPS)[number];

/**
 * The `kind` label of `source_errors_total`: how a failed call of the pipeline to ArangoDB was
 * classified, or `heartbeat` for a failed heartbeat write (whatever its class, which its log line
 * gives). The heartbeat has a kind of its own because its failures say nothing about the stream:
 * they neither mark ArangoDB unreachable nor affect readiness.
 */
export const SOURCE_ERROR_KINDS = [
  "unavailable",
  "auth",
  "protocol",
  "batch_expired",
  "other",
  "heartbeat",
] as const;
/** How a failed call to ArangoDB was classified (`source:error`). */
export type SourceErrorKind = Exclude<(typeof SOURCE_ERROR_KINDS)[number], "heartbeat">;

/**
 * The `kind` label of `target_errors_total`. `conflict`: serialization failures and deadlocks
 * (40001, 40P01), retried by the sink. `change_stream`: the change-stream monitor could not read
 * PostgreSQL's change stream (connection lost or refused, slot unusable); like the heartbeat's,
 * these failures do not mark the target unreachable, since the mirror itself is still written.
 */
export const TARGET_ERROR_KINDS = [
  "unavailable",
  "rejected",
  "conflict",
  "other",
  "change_stream",
] as const;
/** How a failed PostgreSQL operation of the pipeline was classified (`target:error`). */
export type TargetErrorKind = Exclude<(typeof TARGET_ERROR_KINDS)[number], "change_stream">;

/**
 * Why an event was dead-lettered: the sink's own codes, the mapping's row failure reasons
 * (mapping/compile-mapping.ts, written with `_` instead of `-`), and `other` for anything a later
 * version adds before this list learns it. Metrics label with these and nothing else.
 */
export const DEAD_LETTER_REASONS = [
  "missing_parent",
  "park_timeout",
  "constraint_violation",
  "undecodable",
  "missing_required",
  "wrong_type",
  "not_in_enum",
  "too_long",
  "invalid_uuid",
  "invalid_timestamp",
  "not_an_object",
  "out_of_range",
  "non_finite_number",
  "unstorable_text",
  "unencodable",
  "other",
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * How a row disagrees between the two databases, once rows still in flight (newer in ArangoDB
 * than the applied tick) are set aside: present in ArangoDB only, in PostgreSQL only, with another
 * `_rev`, or with the same `_rev` but different mapped content.
 */
export const DRIFT_KINDS = ["missing", "extra", "revision", "content"] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export const VERIFY_MODES = ["sample", "full"] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** For events that carry nothing but the fact that they happened. */
export type NoPayload = Readonly<Record<string, never>>;

export interface SourcePolled {
  /** The `from` this request was sent with. */
  readonly from: Tick;
  readonly lastIncluded: Tick;
  readonly lastScanned: Tick;
  /** The server's newest tick (`x-arango-replication-lasttick`): server-wide, all databases. */
  readonly lastTick: Tick;
  /** The server has more right now; false means everything written before the call was read. */
  readonly checkMore: boolean;
  readonly fromPresent: boolean;
  /** Size of the response body. */
  readonly bytes: number;
  /** Markers in the body, of every type, before any filtering. */
  readonly markers: number;
  /**
   * Write times (decoded `_rev`) of the oldest and newest change in this response that the
   * pipeline will process; undefined when it carried none.
   */
  readonly oldestChangeWriteMs: number | undefined;
  readonly newestChangeWriteMs: number | undefined;
  readonly durationMs: number;
}

export interface TableOpCount {
  readonly table: string;
  readonly op: RowOp;
  readonly count: number;
}

export interface CollectionOpCount {
  readonly collection: string;
  readonly op: EventOp;
  readonly count: number;
}

export interface BatchCommitted {
  /** Snapshot batches carry dumped documents, not changes: no events, no latency. */
  readonly origin: "snapshot" | "stream";
  /** From BEGIN to the end of COMMIT. */
  readonly durationMs: number;
  readonly committedAtMs: number;
  /**
   * The checkpoint committed with this batch; undefined while the first snapshot is still
   * dumping (nothing is applied up to a tick before it ends).
   */
  readonly appliedTick: Tick | undefined;
  readonly rows: readonly TableOpCount[];
  /** Change events the batch covered, including those dead-lettered or parked. */
  readonly events: readonly CollectionOpCount[];
  /**
   * Write time (decoded `_rev`) of every change applied by this batch, for the end-to-end latency
   * histogram. Changes whose `_rev` carries no time (legacy decimal revisions) are left out.
   */
  readonly writeTimesMs: readonly number[];
  /**
   * Write time of the oldest change already fetched and still waiting after this commit;
   * undefined when nothing fetched is waiting.
   */
  readonly oldestPendingWriteMs: number | undefined;
}

export interface DeadLettered {
  /** Undefined when the event never got as far as a table (an undecodable marker). */
  readonly table: string | undefined;
  readonly collection: string | undefined;
  /** A `DeadLetterReason`, or a code this list does not know yet (labelled `other`). */
  readonly reason: string;
  /** The document key: logged at debug level only. */
  readonly key?: string | undefined;
  readonly tick?: Tick | undefined;
}

export interface ConsistencyChecked {
  readonly mode: VerifyMode;
  readonly checkedAtMs: number;
  /** Every table the check covered; a table missing here keeps its previous result. */
  readonly tables: readonly {
    readonly table: string;
    /** Rows compared. */
    readonly checked: number;
    /** Rows set aside because ArangoDB has a change the applier has not reached yet. */
    readonly inFlight: number;
    /** Rows per drift kind; a kind not listed had no drift. */
    readonly drift: readonly { readonly kind: DriftKind; readonly rows: number }[];
  }[];
}

/** Every event the pipeline reports, by name. */
export interface SyncEventMap {
  /** The daemon entered a phase. */
  "pipeline:phase": {
    readonly phase: PipelinePhase;
    readonly previous: PipelinePhase | undefined;
    readonly reason?: string | undefined;
  };
  /** The main loop is making progress (also while waiting): the liveness heartbeat. */
  "pipeline:alive": NoPayload;
  /** Shutdown began; readiness goes to 503 first (anchors-style §2.3). */
  "pipeline:stopping": { readonly reason: string };
  /** Changes fetched from the WAL and not yet applied (back-pressure, DESIGN.md §2.6). */
  "pipeline:queue": {
    readonly events: number;
    readonly bytes: number;
    /** The bound at which the tailer stops fetching. */
    readonly capacityBytes?: number | undefined;
  };

  /** A call to ArangoDB outside the WAL tail succeeded (version check, inventory). */
  "source:connected": { readonly serverVersion?: string | undefined };
  /** One `wal/tail` call answered. */
  "source:polled": SourcePolled;
  /** A call to ArangoDB failed; retryable ones are retried within a budget. */
  "source:error": {
    readonly kind: SourceErrorKind;
    readonly retryable: boolean;
    readonly message: string;
    /** Consecutive failures so far. */
    readonly attempt?: number | undefined;
  };
  /** The resume tick is no longer in the server's WAL: changes were lost to us (§2.5). */
  "source:walGap": {
    readonly from: Tick;
    readonly tickMin?: Tick | undefined;
    /** The collections that will be re-snapshotted. */
    readonly collections: readonly string[];
  };
  /** `wal/range`: the oldest tick the server still holds, against our resume position. */
  "source:walRange": { readonly tickMin: Tick; readonly tickMax: Tick; readonly from: Tick };
  /** A heartbeat document was written (`sync.heartbeat`). */
  "source:heartbeatWritten": NoPayload;
  /**
   * A heartbeat write failed; the next one is tried at the next interval. Counted apart from the
   * pipeline's calls (`source_errors_total{kind="heartbeat"}`): it does not change `source_up`
   * or readiness.
   */
  "source:heartbeatFailed": {
    /** How the failure was classified. */
    readonly kind: SourceErrorKind;
    readonly message: string;
    /** Consecutive failures so far, this one included. */
    readonly attempt: number;
  };

  /** A connection to PostgreSQL was made or checked. */
  "target:connected": NoPayload;
  "target:error": {
    readonly kind: TargetErrorKind;
    readonly retryable: boolean;
    readonly message: string;
  };
  /** A transaction changed a mirrored table without touching our checkpoint: not ours. */
  "target:foreignWrite": {
    readonly table: string;
    readonly key?: string | undefined;
    /** The commit LSN, as PostgreSQL prints it (`0/16B3748`). */
    readonly lsn?: string | undefined;
  };
  /**
   * One of the daemon's own transactions arrived on PostgreSQL's logical replication stream: its
   * rows are now visible to every consumer of PostgreSQL, logical ones included.
   */
  "target:visible": {
    /** The commit LSN, as PostgreSQL prints it. */
    readonly lsn: string | undefined;
    /** PostgreSQL's commit timestamp. */
    readonly committedAtMs: number;
    /** When the monitor received the commit. */
    readonly visibleAtMs: number;
    /**
     * Write times (decoded `legacy_rev`) of the rows the transaction wrote while streaming;
     * empty for snapshot chunks (dumped documents are not changes) and bookkeeping commits.
     */
    readonly writeTimesMs: readonly number[];
  };
  /**
   * The change-stream monitor started reading, or stopped reading while it is meant to read
   * (foreign writes are seen only while up). Never emitted when the change stream is off (no
   * slot): `change_stream_up` then stays NaN rather than reading as down.
   */
  "target:changeStream": { readonly up: boolean; readonly reason?: string | undefined };
  /**
   * Reading PostgreSQL's change stream failed: the replication connection could not be made or
   * was lost (the monitor reconnects with back-off), or the slot could not be looked up. Counted
   * as `target_errors_total{kind="change_stream"}`; `target_up` and readiness are not affected.
   */
  "target:changeStreamFailed": {
    readonly message: string;
    /** Consecutive failures so far, this one included. */
    readonly attempt: number;
  };

  /** A snapshot (initial, or after a gap) pinned a batch at `tick`. */
  "snapshot:started": {
    readonly tick: Tick;
    readonly resnapshot: boolean;
    /** Each collection with its document count when the snapshot started. */
    readonly collections: readonly { readonly collection: string; readonly documents: number }[];
  };
  /** A dump chunk was applied. */
  "snapshot:progress": {
    readonly collection: string;
    /** Documents in this chunk. */
    readonly documents: number;
    /** Documents of this collection still to dump (never below 0). */
    readonly remaining: number;
  };
  "snapshot:finished": { readonly tick: Tick; readonly durationMs: number };

  /** One PostgreSQL transaction committed: rows, journal, dead letters and the checkpoint. */
  "apply:batchCommitted": BatchCommitted;
  /**
   * A staged large transaction is being applied (one PostgreSQL transaction that can take
   * minutes): reported after each chunk. Progress of the loop for `/healthz`, which would
   * otherwise see no turn of the loop until the commit ends.
   */
  "apply:stagedProgress": {
    /** Changes of the transaction applied so far, in its still uncommitted PostgreSQL transaction. */
    readonly appliedChanges: number;
    readonly totalChanges: number;
  };
  /** One event was dead-lettered (in the batch that just committed). */
  "apply:deadLettered": DeadLettered;
  /** Rows of a table were parked (parent missing) or left the parking (parent arrived). */
  "apply:parked": { readonly table: string; readonly parked: number; readonly unparked: number };

  /**
   * The dead letters currently held, recounted from PostgreSQL (at start, after a retry or a
   * discard). Replaces what `apply:deadLettered` accumulated; a combination missing here is 0.
   * Dead letters that never reached a table are counted under `_none` (metrics.ts `NO_TABLE`).
   */
  "deadLetters:counted": {
    readonly counts: readonly {
      readonly table: string;
      readonly reason: string;
      readonly count: number;
    }[];
  };
  /** Parked rows currently held, recounted from PostgreSQL; a table missing here has none. */
  "parked:counted": {
    readonly counts: readonly { readonly table: string; readonly count: number }[];
  };

  /** A consistency check (sampled or full) finished. */
  "verify:checked": ConsistencyChecked;
}

export type SyncEventName = keyof SyncEventMap;
export type SyncEventListener<E extends SyncEventName> = (payload: SyncEventMap[E]) => void;

/** Called with a listener's error; the other listeners still run. */
export type ListenerErrorHandler = (error: unknown, event: SyncEventName) => void;

/**
 * A synchronous, typed emitter. `emit` calls every listener in subscription order before it
 * returns, so a subscriber sees events in the order the pipeline reported them and a test can
 * assert right after emitting.
 *
 * A throwing listener must not stop the pipeline (a metrics bug is not a reason to stop
 * replicating): its error goes to `onListenerError`. Without a handler, `emit` rethrows after all
 * listeners ran, so a bug is never silent.
 */
export class SyncEvents {
  private readonly listeners = new Map<SyncEventName, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError?: ListenerErrorHandler) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends SyncEventName>(event: E, listener: SyncEventListener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    // A wrapper per subscription: the same function subscribed twice is two subscriptions,
    // and each unsubscribe removes exactly its own.
    const entry = (payload: never): void => {
      listener(payload);
    };
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  emit<E extends SyncEventName>(event: E, payload: SyncEventMap[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) return;
    const errors: unknown[] = [];
    // A snapshot: a listener that unsubscribes during emit does not disturb this round.
    for (const listener of [...set]) {
      try {
        (listener as SyncEventListener<E>)(payload);
      } catch (error) {
        if (this.onListenerError === undefined) errors.push(error);
        else this.onListenerError(error, event);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1)
      throw new AggregateError(errors, `${errors.length} listeners of ${event} failed`);
  }

  listenerCount(event: SyncEventName): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}

/** The `kind` label of a source failure, from the error the source layer classified. */
export function sourceErrorKind(code: SyncErrorCode | undefined): SourceErrorKind {
  switch (code) {
    case "SOURCE_UNAVAILABLE":
      return "unavailable";
    case "SOURCE_AUTH":
      return "auth";
    case "SOURCE_PROTOCOL":
      return "protocol";
    case "SOURCE_BATCH_EXPIRED":
      return "batch_expired";
    default:
      return "other";
  }
}

/** A dead-letter reason as a label value: known codes (either spelling), otherwise `other`. */
export function deadLetterReasonLabel(reason: string): DeadLetterReason {
  const normalized = reason.replaceAll("-", "_");
  return (DEAD_LETTER_REASONS as readonly string[]).includes(normalized)
    ? (normalized as DeadLetterReason)
    : "other";
}
