/**
 * Assembled units → the sink's changes. Resolves cuids through the catalog in stream order (a
 * rename or a drop changes how every later marker resolves), builds rows through the mapping,
 * and turns everything that cannot become a row into a dead letter with its raw event, so that
 * nothing is lost (DESIGN.md §2 invariant 4). Pure: no I/O.
 */
import type { AssembledUnit } from "../events/assemble-transactions.js";
import type { CollectionCatalog } from "../events/collection-catalog.js";
import type { ChangeEvent, DocumentMarker, Marker } from "../events/events.js";
import { resolveMarker } from "../events/resolve-event.js";
import type { CompiledMapping } from "../mapping/compile-mapping.js";
import type { Change, ControlEvent, DeadLetter } from "../sink/changes.js";

/** Truncates are rare: counted only when there was one. */
export interface CollectionEventCounts {
  upsert: number;
  remove: number;
  truncate?: number;
}

export interface MappedUnits {
  readonly changes: Change[];
  readonly deadLetters: DeadLetter[];
  readonly controlEvents: ControlEvent[];
  readonly catalog: CollectionCatalog;
  /** Change events per collection and operation, for metrics (mapped or not). */
  readonly events: Map<string, CollectionEventCounts>;
  /** Markers skipped, by reason (unknown collection, unknown type, aborted group…). */
  readonly skipped: Map<string, number>;
  /**
   * `_rev` strings of the documents written (upserts), for latency metrics. Removals are left out:
   * a remove marker carries the removed document's `_rev` (protocol §7.3), whose time is that of
   * the last write before the removal, not of the removal.
   */
  readonly revisions: string[];
}

export function mapUnits(
  units: readonly AssembledUnit[],
  catalog: CollectionCatalog,
  mapping: CompiledMapping,
  options: { journal: boolean },
): MappedUnits {
  const out: MappedUnits = {
    changes: [],
    deadLetters: [],
    controlEvents: [],
    catalog,
    events: new Map(),
    skipped: new Map(),
    revisions: [],
  };
  let current = catalog;
  const skip = (reason: string, count = 1): void => {
    out.skipped.set(reason, (out.skipped.get(reason) ?? 0) + count);
  };
  const handle = (marker: Marker): void => {
    const resolution = resolveMarker(current, marker);
    current = resolution.catalog;
    if (resolution.kind === "skipped") {
      if (resolution.reason !== "transaction-control") skip(resolution.reason);
      return;
    }
    mapEvent(resolution.event, marker, mapping, options, out);
  };
  for (const unit of units) {
    if (unit.kind === "operation") {
      handle(unit.operation);
    } else if (unit.kind === "transaction") {
      if (unit.end === "abort") {
        // RocksDB never writes aborted work to the WAL (protocol §9); a 2202 would come from
        // another engine, and its operations must not be applied.
        skip("aborted-transaction", unit.operations.length);
        continue;
      }
      for (const operation of unit.operations) handle(operation);
      if (unit.unrecognized.length > 0) skip("unknown-marker-type", unit.unrecognized.length);
    } else {
      handle(unit.marker);
    }
  }
  return { ...out, catalog: current };
}

function mapEvent(
  event: ChangeEvent,
  marker: Marker,
  mapping: CompiledMapping,
  options: { journal: boolean },
  out: MappedUnits,
): void {
  switch (event.kind) {
    case "document-upserted":
    case "document-removed": {
      const counts = out.events.get(event.collection) ?? { upsert: 0, remove: 0 };
      counts[event.kind === "document-upserted" ? "upsert" : "remove"] += 1;
      out.events.set(event.collection, counts);
      if (event.kind === "document-upserted") out.revisions.push(event.rev);
      const table = mapping.forCollection(event.collection);
      if (table === undefined) return;
      if (event.kind === "document-removed") {
        out.changes.push({
          kind: "delete",
          collection: event.collection,
          table: table.table,
          key: event.key,
          tick: event.tick,
          rev: event.rev,
        });
        return;
      }
      const built = table.buildRow({
        key: event.key,
        rev: event.rev,
        tick: event.tick,
        document: event.document,
      });
      if (built.ok) {
        out.changes.push({
          kind: "upsert",
          collection: event.collection,
          row: built.row,
          rev: event.rev,
          ...(options.journal ? { documentJson: JSON.stringify(event.document) } : {}),
        });
      } else {
        out.deadLetters.push({
          reason: built.reason,
          detail: `${built.column}: ${built.detail}`,
          table: table.table,
          collection: event.collection,
          key: event.key,
          tick: event.tick,
          rawJson: rawMarkerJson(marker),
        });
      }
      return;
    }
    case "collection-truncated":
    case "collection-dropped": {
      const table = mapping.forCollection(event.collection);
      if (event.kind === "collection-truncated") {
        const counts = out.events.get(event.collection) ?? { upsert: 0, remove: 0 };
        counts.truncate = (counts.truncate ?? 0) + 1;
        out.events.set(event.collection, counts);
      }
      out.controlEvents.push({
        kind:
          event.kind === "collection-dropped"
            ? "source:collectionDropped"
            : "source:collectionTruncated",
        detail: {
          collection: event.collection,
          tick: event.tick.toString(),
          mapped: table !== undefined,
        },
      });
      // A dropped collection holds no documents any more: its table is emptied the same way.
      if (table !== undefined) {
        out.changes.push({
          kind: "truncate",
          collection: event.collection,
          table: table.table,
          tick: event.tick,
        });
      }
      return;
    }
    case "collection-renamed":
      out.controlEvents.push({
        kind: "source:collectionRenamed",
        detail: {
          from: event.previousName ?? null,
          to: event.collection,
          tick: event.tick.toString(),
          mappedBefore:
            event.previousName !== undefined &&
            mapping.forCollection(event.previousName) !== undefined,
          mappedAfter: mapping.forCollection(event.collection) !== undefined,
        },
      });
      return;
    case "collection-created":
      out.controlEvents.push({
        kind: "source:collectionCreated",
        detail: { collection: event.collection, tick: event.tick.toString() },
      });
      return;
    case "database-dropped":
      out.controlEvents.push({
        kind: "source:databaseDropped",
        detail: { db: event.db, tick: event.tick.toString() },
      });
      return;
  }
}

/** The marker as JSON for a dead letter (ticks are bigint in memory, strings on the wire). */
function rawMarkerJson(marker: Marker | DocumentMarker): string {
  return JSON.stringify(marker, (_, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
}
