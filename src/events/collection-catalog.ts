/**
 * The cuid → collection-name map. WAL markers name collections by `cuid` (globallyUniqueId,
 * protocol §7.5); mappings name them by name. The catalog is learnt from the snapshot's
 * inventory and kept current by the create (2000), rename (2002) and drop (2001) markers, applied
 * in stream order so every document marker is resolved with the names valid at its position.
 *
 * Immutable: every change returns a new catalog. DDL is rare, so copying the maps is cheap, and a
 * unit of work can be resolved against a catalog without fear of a later marker changing it.
 */
import { z } from "zod";
import type { CollectionType, Marker } from "./events.js";

export interface CatalogEntry {
  readonly cuid: string;
  readonly name: string;
  readonly type: CollectionType | undefined;
}

export type InventoryResult =
  | { readonly ok: true; readonly catalog: CollectionCatalog }
  | { readonly ok: false; readonly problems: readonly string[] };

const inventoryCollection = z.looseObject({
  parameters: z.looseObject({
    globallyUniqueId: z.string().min(1),
    name: z.string().min(1),
    type: z.union([z.literal(2), z.literal(3)], { error: "must be 2 (document) or 3 (edge)" }),
    deleted: z.boolean().optional(),
  }),
});

export class CollectionCatalog {
  private constructor(
    private readonly byCuid: ReadonlyMap<string, CatalogEntry>,
    private readonly byName: ReadonlyMap<string, CatalogEntry>,
  ) {}

  static empty(): CollectionCatalog {
    return new CollectionCatalog(new Map(), new Map());
  }

  static fromEntries(entries: Iterable<CatalogEntry>): CollectionCatalog {
    let catalog = CollectionCatalog.empty();
    for (const entry of entries) catalog = catalog.withCollection(entry);
    return catalog;
  }

  /**
   * Builds the catalog from the `collections` array of `GET /_api/replication/inventory`
   * (protocol §6.5). Deleted collections are skipped; each malformed entry is one problem line.
   */
  static fromInventory(collections: unknown): InventoryResult {
    if (!Array.isArray(collections)) {
      return { ok: false, problems: ["inventory.collections: expected an array"] };
    }
    const problems: string[] = [];
    const entries: CatalogEntry[] = [];
    collections.forEach((item: unknown, index) => {
      const parsed = inventoryCollection.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const where = ["inventory.collections", String(index), ...issue.path.map(String)];
          problems.push(`${where.join(".")}: ${issue.message}`);
        }
        return;
      }
      const { globallyUniqueId, name, type, deleted } = parsed.data.parameters;
      if (deleted === true) return;
      entries.push({ cuid: globallyUniqueId, name, type: type === 2 ? "document" : "edge" });
    });
    if (problems.length > 0) return { ok: false, problems };
    return { ok: true, catalog: CollectionCatalog.fromEntries(entries) };
  }

  get size(): number {
    return this.byCuid.size;
  }

  nameOf(cuid: string): string | undefined {
    return this.byCuid.get(cuid)?.name;
  }

  entryOf(cuid: string): CatalogEntry | undefined {
    return this.byCuid.get(cuid);
  }

  cuidOf(name: string): string | undefined {
    return this.byName.get(name)?.cuid;
  }

  entries(): CatalogEntry[] {
    return [...this.byCuid.values()];
  }

  /** Adds or replaces a collection (a create marker for a known cuid replaces its entry). */
  withCollection(entry: CatalogEntry): CollectionCatalog {
    const byCuid = new Map(this.byCuid);
    const byName = new Map(this.byName);
    const previous = byCuid.get(entry.cuid);
    if (previous !== undefined && byName.get(previous.name)?.cuid === entry.cuid) {
      byName.delete(previous.name);
    }
    byCuid.set(entry.cuid, entry);
    byName.set(entry.name, entry);
    return new CollectionCatalog(byCuid, byName);
  }

  /**
   * A rename marker carries the name at read time (protocol §7.3), so an unknown cuid is added
   * under that name rather than ignored: later markers of the collection then resolve.
   */
  renamed(cuid: string, name: string): CollectionCatalog {
    const previous = this.byCuid.get(cuid);
    if (previous?.name === name) return this;
    return this.withCollection({ cuid, name, type: previous?.type });
  }

  /** Dropping an unknown cuid is a no-op: collections dropped before the inventory (§12). */
  dropped(cuid: string): CollectionCatalog {
    const previous = this.byCuid.get(cuid);
    if (previous === undefined) return this;
    const byCuid = new Map(this.byCuid);
    const byName = new Map(this.byName);
    byCuid.delete(cuid);
    if (byName.get(previous.name)?.cuid === cuid) byName.delete(previous.name);
    return new CollectionCatalog(byCuid, byName);
  }

  /** The catalog after `marker`; the same instance when the marker is not a catalog change. */
  applyMarker(marker: Marker): CollectionCatalog {
    switch (marker.kind) {
      case "collection-create":
        return this.withCollection({
          cuid: marker.cuid,
          name: marker.name,
          type: marker.collectionType,
        });
      case "collection-rename":
        return this.renamed(marker.cuid, marker.name);
      case "collection-drop":
        return this.dropped(marker.cuid);
      default:
        return this;
    }
  }
}
