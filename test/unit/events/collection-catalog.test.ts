import { describe, expect, it } from "vitest";
import { CollectionCatalog } from "../../../src/events/collection-catalog.js";
import { decodeMarker } from "../../../src/events/decode-marker.js";
import type { Marker } from "../../../src/events/events.js";

function marker(line: string): Marker {
  const result = decodeMarker(line);
  if (!result.ok) throw new Error(result.detail);
  return result.marker;
}

/** The shape of `GET /_api/replication/inventory` collections (protocol §6.5), trimmed. */
const inventory = [
  {
    indexes: [],
    parameters: {
      globallyUniqueId: "h68138D6305DA/100",
      id: "100",
      name: "resumes",
      type: 2,
      deleted: false,
      isSystem: false,
    },
  },
  {
    indexes: [],
    parameters: { globallyUniqueId: "h68138D6305DA/101", id: "101", name: "jobs", type: 2 },
  },
  {
    indexes: [],
    parameters: { globallyUniqueId: "h68138D6305DA/102", name: "job_research", type: 3 },
  },
  {
    indexes: [],
    parameters: { globallyUniqueId: "h68138D6305DA/103", name: "gone", type: 2, deleted: true },
  },
];

function fromInventory(): CollectionCatalog {
  const result = CollectionCatalog.fromInventory(inventory);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.catalog;
}

describe("CollectionCatalog", () => {
  it("is built from inventory entries, skipping deleted collections", () => {
    const catalog = fromInventory();
    expect(catalog.size).toBe(3);
    expect(catalog.nameOf("h68138D6305DA/100")).toBe("resumes");
    expect(catalog.entryOf("h68138D6305DA/102")).toEqual({
      cuid: "h68138D6305DA/102",
      name: "job_research",
      type: "edge",
    });
    expect(catalog.nameOf("h68138D6305DA/103")).toBeUndefined();
    expect(catalog.cuidOf("jobs")).toBe("h68138D6305DA/101");
  });

  it("reports each malformed inventory entry on its own line", () => {
    const result = CollectionCatalog.fromInventory([
      { parameters: { globallyUniqueId: "c/1", name: "a", type: 2 } },
      { parameters: { name: "b", type: 2 } },
      { parameters: { globallyUniqueId: "c/3", name: "c", type: 9 } },
    ]);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      "inventory.collections.1.parameters.globallyUniqueId: Invalid input: expected string, received undefined",
      "inventory.collections.2.parameters.type: must be 2 (document) or 3 (edge)",
    ]);
    expect(CollectionCatalog.fromInventory({})).toEqual({
      ok: false,
      problems: ["inventory.collections: expected an array"],
    });
  });

  it("learns a collection from a create marker", () => {
    const before = fromInventory();
    const after = before.applyMarker(
      marker(
        '{"tick":"3702","db":"atspro","cuid":"hC0CF79DA83B4/555","type":2000,"data":{"globallyUniqueId":"hC0CF79DA83B4/555","name":"documents","type":2}}',
      ),
    );
    expect(after.nameOf("hC0CF79DA83B4/555")).toBe("documents");
    expect(after.entryOf("hC0CF79DA83B4/555")?.type).toBe("document");
    expect(before.nameOf("hC0CF79DA83B4/555")).toBeUndefined();
  });

  it("follows a rename (data.name is the current name) and frees the old name", () => {
    const after = fromInventory().applyMarker(
      marker(
        '{"tick":"385","db":"atspro","cuid":"h68138D6305DA/101","type":2002,"data":{"name":"postings"}}',
      ),
    );
    expect(after.nameOf("h68138D6305DA/101")).toBe("postings");
    expect(after.cuidOf("postings")).toBe("h68138D6305DA/101");
    expect(after.cuidOf("jobs")).toBeUndefined();
    expect(after.entryOf("h68138D6305DA/101")?.type).toBe("document");
  });

  it("adds an unknown cuid seen in a rename, so later markers of it resolve", () => {
    const after = CollectionCatalog.empty().renamed("c/9", "late");
    expect(after.nameOf("c/9")).toBe("late");
  });

  it("forgets a dropped collection and ignores drops of unknown ones", () => {
    const catalog = fromInventory();
    const after = catalog.applyMarker(
      marker('{"tick":"154","type":2001,"db":"atspro","cuid":"h68138D6305DA/100"}'),
    );
    expect(after.nameOf("h68138D6305DA/100")).toBeUndefined();
    expect(after.cuidOf("resumes")).toBeUndefined();
    expect(after.size).toBe(2);
    expect(catalog.size).toBe(3);
    expect(after.dropped("h0/unknown")).toBe(after);
  });

  it("keeps a recreated name pointing at the new collection when the old one is dropped", () => {
    const recreated = fromInventory().withCollection({
      cuid: "h68138D6305DA/200",
      name: "resumes",
      type: "document",
    });
    const after = recreated.dropped("h68138D6305DA/100");
    expect(after.cuidOf("resumes")).toBe("h68138D6305DA/200");
  });

  it("returns the same instance for markers that do not change the catalog", () => {
    const catalog = fromInventory();
    const upsert = marker(
      '{"tick":"196","type":2300,"db":"atspro","tid":"0","cuid":"h68138D6305DA/100","data":{"_key":"a","_rev":"_XUJFD3C---"}}',
    );
    expect(catalog.applyMarker(upsert)).toBe(catalog);
  });
});
