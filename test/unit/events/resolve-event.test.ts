import { describe, expect, it } from "vitest";
import { CollectionCatalog } from "../../../src/events/collection-catalog.js";
import { decodeMarker } from "../../../src/events/decode-marker.js";
import type { Marker } from "../../../src/events/events.js";
import { resolveMarker, resolveMarkers } from "../../../src/events/resolve-event.js";

function marker(line: string): Marker {
  const result = decodeMarker(line);
  if (!result.ok) throw new Error(result.detail);
  return result.marker;
}

const RESUMES = "h68138D6305DA/100";
const catalog = CollectionCatalog.fromEntries([
  { cuid: RESUMES, name: "resumes", type: "document" },
]);

const upsert = (tick: number, cuid: string, key: string): Marker =>
  marker(
    `{"tick":"${tick}","type":2300,"db":"atspro","tid":"0","cuid":"${cuid}","data":{"_key":"${key}","_id":"x/${key}","_rev":"_kJVIf5W---","status":"parsed"}}`,
  );

describe("resolveMarker", () => {
  it("names the collection of a document upsert", () => {
    const resolution = resolveMarker(catalog, upsert(10, RESUMES, "r1"));
    expect(resolution).toEqual({
      kind: "event",
      catalog,
      event: {
        kind: "document-upserted",
        collection: "resumes",
        key: "r1",
        rev: "_kJVIf5W---",
        tick: 10n,
        document: { _key: "r1", _id: "x/r1", _rev: "_kJVIf5W---", status: "parsed" },
      },
    });
  });

  it("turns a remove into DocumentRemoved with the removed revision", () => {
    const resolution = resolveMarker(
      catalog,
      marker(
        `{"tick":"11","type":2302,"db":"atspro","tid":"0","cuid":"${RESUMES}","data":{"_key":"r1","_rev":"_kJVIf5W--_"}}`,
      ),
    );
    expect(resolution.kind === "event" ? resolution.event : undefined).toEqual({
      kind: "document-removed",
      collection: "resumes",
      key: "r1",
      rev: "_kJVIf5W--_",
      tick: 11n,
    });
  });

  it("skips document markers of collections the catalog does not know", () => {
    expect(resolveMarker(catalog, upsert(12, "h0/999", "x"))).toEqual({
      kind: "skipped",
      reason: "unknown-collection",
      catalog,
    });
  });

  it("classifies transaction control, ignored DDL and unknown types as skipped", () => {
    const reasons = [
      '{"tick":"1","type":2200,"db":"atspro","tid":"5"}',
      '{"tick":"1","type":2100,"db":"atspro","cuid":"c","data":{}}',
      `{"tick":"1","type":2003,"db":"atspro","cuid":"${RESUMES}","data":{"waitForSync":true}}`,
      '{"tick":"1","type":1100,"db":"other","data":{}}',
      '{"tick":"1","type":4242,"db":"atspro"}',
    ].map((line) => {
      const resolution = resolveMarker(catalog, marker(line));
      return resolution.kind === "skipped" ? resolution.reason : resolution.kind;
    });
    expect(reasons).toEqual([
      "transaction-control",
      "ignored-ddl",
      "ignored-ddl",
      "ignored-ddl",
      "unknown-marker-type",
    ]);
  });

  it("reports truncate, drop and database drop as events", () => {
    const truncate = resolveMarker(
      catalog,
      marker(`{"tick":"20","type":2004,"db":"atspro","cuid":"${RESUMES}"}`),
    );
    expect(truncate.kind === "event" ? truncate.event : undefined).toEqual({
      kind: "collection-truncated",
      collection: "resumes",
      cuid: RESUMES,
      tick: 20n,
    });
    const dropDb = resolveMarker(catalog, marker('{"tick":"21","type":1101,"db":"atspro"}'));
    expect(dropDb.kind === "event" ? dropDb.event : undefined).toEqual({
      kind: "database-dropped",
      db: "atspro",
      tick: 21n,
    });
  });
});

describe("resolveMarkers", () => {
  it("resolves each marker with the names valid at its position in the stream", () => {
    const jobsCuid = "h68138D6305DA/101";
    const {
      events,
      skipped,
      catalog: after,
    } = resolveMarkers(catalog, [
      upsert(1, jobsCuid, "before-create"),
      marker(
        `{"tick":"2","db":"atspro","cuid":"${jobsCuid}","type":2000,"data":{"name":"jobs","type":2}}`,
      ),
      upsert(3, jobsCuid, "j1"),
      marker(
        `{"tick":"4","db":"atspro","cuid":"${jobsCuid}","type":2002,"data":{"name":"postings"}}`,
      ),
      upsert(5, jobsCuid, "j2"),
      marker(`{"tick":"6","type":2001,"db":"atspro","cuid":"${jobsCuid}"}`),
      upsert(7, jobsCuid, "after-drop"),
    ]);
    expect(
      events.map((event) =>
        event.kind === "document-upserted" ? `${event.collection}/${event.key}` : event.kind,
      ),
    ).toEqual([
      "collection-created",
      "jobs/j1",
      "collection-renamed",
      "postings/j2",
      "collection-dropped",
    ]);
    expect(events[2]).toMatchObject({ previousName: "jobs", collection: "postings" });
    expect(skipped.map((item) => [item.marker.tick, item.reason])).toEqual([
      [1n, "unknown-collection"],
      [7n, "unknown-collection"],
    ]);
    expect(after.nameOf(jobsCuid)).toBeUndefined();
    expect(after.nameOf(RESUMES)).toBe("resumes");
  });
});
