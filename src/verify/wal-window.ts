/**
 * What ArangoDB's WAL says about a few keys between two ticks: the check reads it to tell a
 * change still in flight (written in ArangoDB, not applied in PostgreSQL yet) from drift.
 *
 * The window is `(from, to]`, split at the snapshot tick T: for each key asked about, the last
 * operation at or before T (upsert or remove; a truncate or drop of the collection counts as a
 * remove), and whether anything happened to it after T. Only the keys asked about are recorded,
 * so memory follows their number, never the length of the window; the WAL itself is read one
 * `wal/tail` response at a time.
 */
import { SyncError } from "../errors.js";
import type { CollectionCatalog } from "../events/collection-catalog.js";
import { decodeMarker, splitLines } from "../events/decode-marker.js";
import type { ReplicationApi } from "../source/replication-api.js";
import { nextTailPosition } from "../source/tail-position.js";

export interface KeyHistory {
  /** The last operation on the key in `(from, T]`; undefined when there was none. */
  readonly upToSnapshot: "upsert" | "remove" | undefined;
  /** Something happened to the key after T (up to `to`). */
  readonly afterSnapshot: boolean;
}

export interface WalWindowOptions {
  /** Exclusive lower bound: PostgreSQL's applied tick, or T when that is not behind T. */
  readonly from: bigint;
  /** T, the tick of the snapshot being compared. */
  readonly snapshotTick: bigint;
  /** Inclusive upper bound (at least T). */
  readonly to: bigint;
  /** cuid → collection name at the start of the window; kept current by DDL markers. */
  readonly catalog: CollectionCatalog;
  /** collection → the keys to report on. */
  readonly keys: ReadonlyMap<string, ReadonlySet<string>>;
  /** Bytes asked per `wal/tail` response. */
  readonly chunkSize: number;
}

export interface WalWindow {
  history(collection: string, key: string): KeyHistory;
  /** `wal/tail` calls made. */
  readonly calls: number;
}

const NOTHING: KeyHistory = { upToSnapshot: undefined, afterSnapshot: false };

export async function readWalWindow(
  api: ReplicationApi,
  options: WalWindowOptions,
): Promise<WalWindow> {
  const histories = new Map<
    string,
    Map<string, { upTo: KeyHistory["upToSnapshot"]; after: boolean }>
  >();
  for (const [collection, keys] of options.keys) {
    histories.set(
      collection,
      new Map([...keys].map((k) => [k, { upTo: undefined, after: false }])),
    );
  }
  const record = (
    collection: string,
    key: string | undefined,
    op: "upsert" | "remove",
    tick: bigint,
  ): void => {
    const keys = histories.get(collection);
    if (keys === undefined) return;
    const entries =
      key === undefined ? [...keys.values()] : [keys.get(key)].filter((e) => e !== undefined);
    for (const entry of entries) {
      if (tick <= options.snapshotTick) entry.upTo = op;
      else entry.after = true;
    }
  };

  let calls = 0;
  let catalog = options.catalog;
  let position = { from: options.from, lastScanned: 0n };
  while (position.from < options.to) {
    const response = await api.tail({
      from: position.from,
      // As the daemon's tailer does: a huge transaction may then be split across responses.
      lastScanned: position.lastScanned > 0n ? position.lastScanned : position.from,
      chunkSize: options.chunkSize,
    });
    calls += 1;
    const step = nextTailPosition(position, response);
    if (step.gap) {
      throw new SyncError(
        "WAL_GAP",
        `ArangoDB no longer holds its WAL after tick ${position.from}, so changes not yet applied in PostgreSQL cannot be told from drift; let the daemon re-snapshot, then verify again`,
      );
    }
    const { lines, torn } = splitLines(response.body);
    if (torn !== undefined) {
      throw new SyncError("SOURCE_UNAVAILABLE", "wal/tail body ended mid-line", {
        retryable: true,
      });
    }
    for (const line of lines) {
      const decoded = decodeMarker(line);
      if (!decoded.ok) continue;
      const marker = decoded.marker;
      if (marker.tick <= position.from || marker.tick > options.to) continue;
      switch (marker.kind) {
        case "document-upsert":
        case "document-remove": {
          const collection = catalog.nameOf(marker.cuid);
          if (collection !== undefined) {
            record(
              collection,
              marker.key,
              marker.kind === "document-upsert" ? "upsert" : "remove",
              marker.tick,
            );
          }
          break;
        }
        case "collection-truncate":
        case "collection-drop": {
          const collection = catalog.nameOf(marker.cuid);
          if (collection !== undefined) record(collection, undefined, "remove", marker.tick);
          break;
        }
        default:
          break;
      }
      catalog = catalog.applyMarker(marker);
    }
    position = step.next;
    if (!step.pollAgainNow) break;
  }
  return {
    calls,
    history: (collection, key) => {
      const entry = histories.get(collection)?.get(key);
      return entry === undefined
        ? NOTHING
        : { upToSnapshot: entry.upTo, afterSnapshot: entry.after };
    },
  };
}
