/**
 * `/status`: what the daemon is doing, for people and for the `status` and `cutover` commands.
 * The pipeline implements `StatusSource`; `renderStatus` turns its answer into JSON: exact ticks
 * as decimal strings (a JSON number would round them above 2^53), the lag as `lag_seconds`
 * reports it, and every string passed through the redactor, so a connection string that slips
 * into a detail field cannot carry its password out.
 */
import type { Tick } from "../events/tick.js";
import type { Redactor } from "./redact.js";
import type { DriftKind, PipelinePhase, VerifyMode } from "./sync-events.js";

export interface CollectionStatus {
  readonly collection: string;
  readonly table: string;
  readonly snapshot: {
    readonly state: "pending" | "dumping" | "done";
    readonly documents: number;
    readonly remaining: number;
  };
  /** Change events applied from the stream since the daemon started. */
  readonly events: number;
  /** Rows in the target table, when the pipeline counted them. */
  readonly rows?: number | undefined;
}

export interface SyncStatus {
  readonly phase: PipelinePhase;
  readonly ticks: {
    /** The server's newest tick, from the latest wal/tail. */
    readonly source: Tick | undefined;
    /** The last checkpoint committed to PostgreSQL. */
    readonly applied: Tick | undefined;
    /** The tick of the snapshot the stream continued from. */
    readonly snapshot: Tick | undefined;
    /** The oldest tick the server still holds (wal/range). */
    readonly walOldest?: Tick | undefined;
  };
  readonly collections: readonly CollectionStatus[];
  /** Collections the mapping does not list: counted and skipped. */
  readonly unmappedCollections: readonly { readonly collection: string; readonly events: number }[];
  readonly deadLetters: readonly {
    readonly table: string | undefined;
    readonly reason: string;
    readonly count: number;
  }[];
  readonly parkedRows: readonly { readonly table: string; readonly count: number }[];
  readonly lastConsistencyCheck:
    | {
        readonly mode: VerifyMode;
        readonly finishedAtMs: number;
        readonly drift: readonly {
          readonly table: string;
          readonly kind: DriftKind;
          readonly rows: number;
        }[];
      }
    | undefined;
}

/** Implemented by the pipeline: its current state, read on every `/status` request. */
export interface StatusSource {
  status(): SyncStatus | Promise<SyncStatus>;
}

export interface RenderStatusOptions {
  readonly lagSeconds: () => number;
  readonly redactor: Redactor;
  readonly clock?: () => number;
}

/** The `/status` JSON document. */
export async function renderStatus(
  source: StatusSource,
  options: RenderStatusOptions,
): Promise<unknown> {
  const status = await source.status();
  const clock = options.clock ?? Date.now;
  const check = status.lastConsistencyCheck;
  const document = {
    generatedAt: new Date(clock()).toISOString(),
    phase: status.phase,
    lagSeconds: options.lagSeconds(),
    ticks: {
      source: tickText(status.ticks.source),
      applied: tickText(status.ticks.applied),
      snapshot: tickText(status.ticks.snapshot),
      walOldest: tickText(status.ticks.walOldest),
    },
    collections: status.collections,
    unmappedCollections: status.unmappedCollections,
    deadLetters: {
      total: status.deadLetters.reduce((sum, d) => sum + d.count, 0),
      byTable: status.deadLetters.map((d) => ({ ...d, table: d.table ?? null })),
    },
    parkedRows: {
      total: status.parkedRows.reduce((sum, p) => sum + p.count, 0),
      byTable: status.parkedRows,
    },
    lastConsistencyCheck:
      check === undefined
        ? null
        : {
            mode: check.mode,
            finishedAt: new Date(check.finishedAtMs).toISOString(),
            driftRows: check.drift.reduce((sum, d) => sum + d.rows, 0),
            drift: check.drift,
          },
  };
  return options.redactor.value(document);
}

function tickText(tick: Tick | undefined): string | null {
  return tick === undefined ? null : tick.toString();
}
