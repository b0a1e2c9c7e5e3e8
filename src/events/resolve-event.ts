/**
 * Marker → `ChangeEvent`, resolving cuids through the catalog. Markers must be resolved in stream
 * order: a rename or drop changes how every later marker resolves, so the catalog travels with
 * the result.
 */
import type { CollectionCatalog } from "./collection-catalog.js";
import type { ChangeEvent, Marker } from "./events.js";

export type SkipReason =
  /** A document or collection marker whose cuid the catalog does not know. */
  | "unknown-collection"
  /** Begin/commit/abort: consumed by the transaction assembler, not an event of their own. */
  | "transaction-control"
  /** Index and view definitions, collection property changes, database creation. */
  | "ignored-ddl"
  /** A marker type this version does not know (logged by the caller, never fatal). */
  | "unknown-marker-type";

export type Resolution =
  | { readonly kind: "event"; readonly event: ChangeEvent; readonly catalog: CollectionCatalog }
  | { readonly kind: "skipped"; readonly reason: SkipReason; readonly catalog: CollectionCatalog };

export function resolveMarker(catalog: CollectionCatalog, marker: Marker): Resolution {
  const skip = (reason: SkipReason, after = catalog): Resolution => ({
    kind: "skipped",
    reason,
    catalog: after,
  });
  const event = (value: ChangeEvent, after = catalog): Resolution => ({
    kind: "event",
    event: value,
    catalog: after,
  });

  switch (marker.kind) {
    case "document-upsert": {
      const collection = catalog.nameOf(marker.cuid);
      if (collection === undefined) return skip("unknown-collection");
      return event({
        kind: "document-upserted",
        collection,
        key: marker.key,
        rev: marker.rev,
        tick: marker.tick,
        document: marker.document,
      });
    }
    case "document-remove": {
      const collection = catalog.nameOf(marker.cuid);
      if (collection === undefined) return skip("unknown-collection");
      return event({
        kind: "document-removed",
        collection,
        key: marker.key,
        rev: marker.rev,
        tick: marker.tick,
      });
    }
    case "collection-create":
      return event(
        {
          kind: "collection-created",
          collection: marker.name,
          cuid: marker.cuid,
          tick: marker.tick,
        },
        catalog.applyMarker(marker),
      );
    case "collection-rename":
      return event(
        {
          kind: "collection-renamed",
          cuid: marker.cuid,
          previousName: catalog.nameOf(marker.cuid),
          collection: marker.name,
          tick: marker.tick,
        },
        catalog.applyMarker(marker),
      );
    case "collection-drop": {
      const collection = catalog.nameOf(marker.cuid);
      if (collection === undefined) return skip("unknown-collection");
      return event(
        { kind: "collection-dropped", collection, cuid: marker.cuid, tick: marker.tick },
        catalog.applyMarker(marker),
      );
    }
    case "collection-truncate": {
      const collection = catalog.nameOf(marker.cuid);
      if (collection === undefined) return skip("unknown-collection");
      return event({
        kind: "collection-truncated",
        collection,
        cuid: marker.cuid,
        tick: marker.tick,
      });
    }
    case "database-drop":
      return event({ kind: "database-dropped", db: marker.db, tick: marker.tick });
    case "collection-change":
    case "database-create":
    case "ignored-ddl":
      return skip("ignored-ddl");
    case "transaction-begin":
    case "transaction-commit":
    case "transaction-abort":
      return skip("transaction-control");
    case "unknown":
      return skip("unknown-marker-type");
  }
}

/** Resolves markers in order; returns the events, the skipped markers and the final catalog. */
export function resolveMarkers(
  catalog: CollectionCatalog,
  markers: Iterable<Marker>,
): {
  readonly events: ChangeEvent[];
  readonly skipped: { readonly marker: Marker; readonly reason: SkipReason }[];
  readonly catalog: CollectionCatalog;
} {
  const events: ChangeEvent[] = [];
  const skipped: { marker: Marker; reason: SkipReason }[] = [];
  let current = catalog;
  for (const marker of markers) {
    const resolution = resolveMarker(current, marker);
    current = resolution.catalog;
    if (resolution.kind === "event") events.push(resolution.event);
    else skipped.push({ marker, reason: resolution.reason });
  }
  return { events, skipped, catalog: current };
}
