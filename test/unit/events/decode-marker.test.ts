import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeMarker, type DecodeResult } from "../../../src/events/decode-marker.js";
import type { Marker } from "../../../src/events/events.js";
import { SHARED_DIR, readShared } from "../shared-reference.js";

/**
 * A documented marker file holds a `#` header, the pretty-printed example, a `#` line, the compact
 * wire form, and sometimes a trailing `#` note.
 */
function markerExample(file: string): { pretty: string; compact: string } {
  const lines = readShared("arangodb-examples", file).split("\n");
  const firstComment = lines.findIndex((line) => line.startsWith("#"));
  const compactHeader = lines.findIndex(
    (line, index) => index > firstComment && line.startsWith("# compact"),
  );
  const pretty = lines.slice(firstComment + 1, compactHeader).join("\n");
  const compact = lines[compactHeader + 1] ?? "";
  return { pretty, compact };
}

function decoded(line: string): Marker {
  const result = decodeMarker(line);
  if (!result.ok) throw new Error(`expected a marker, got ${result.reason}: ${result.detail}`);
  return result.marker;
}

function failure(result: DecodeResult): Extract<DecodeResult, { ok: false }> {
  if (result.ok) throw new Error(`expected a failure, got ${result.marker.kind}`);
  return result;
}

const SYSTEM = "_system";

/** What each documented marker must decode to (values from the files themselves). */
const GOLDEN: Record<string, Partial<Record<string, unknown>>> = {
  "1100": {
    kind: "database-create",
    tick: 2103n,
    db: "test",
    data: { database: 337, id: "337", name: "test" },
  },
  "1101": { kind: "database-drop", tick: 3453n, db: "test" },
  "2000": {
    kind: "collection-create",
    tick: 3702n,
    db: SYSTEM,
    cuid: "hC0CF79DA83B4/555",
    name: "test",
    collectionType: undefined,
  },
  "2001": { kind: "collection-drop", tick: 154n, db: SYSTEM, cuid: "hD15F8FE99859/555" },
  "2002": {
    kind: "collection-rename",
    tick: 385n,
    db: SYSTEM,
    cuid: "hD15F8FE99859/135",
    name: "other",
  },
  "2003": {
    kind: "collection-change",
    tick: 154n,
    db: SYSTEM,
    cuid: "hD15F8FE99859/555",
    data: { waitForSync: true },
  },
  "2004": { kind: "collection-truncate", tick: 154n, db: SYSTEM, cuid: "hD15F8FE99859/555" },
  "2100": { kind: "ignored-ddl", type: 2100, tick: 1327n, cuid: "hD15F8FE99859/555" },
  "2101": { kind: "ignored-ddl", type: 2101, tick: 1522n, cuid: "hD15F8FE99859/555" },
  "2110": { kind: "ignored-ddl", type: 2110, tick: 1833n, cuid: "hD15F8FE99859/322" },
  "2111": { kind: "ignored-ddl", type: 2111, tick: 3113n, cuid: "hD15F8FE99859/322" },
  "2112": { kind: "ignored-ddl", type: 2112, tick: 3014n, cuid: "hD15F8FE99859/457" },
  "2200": { kind: "transaction-begin", tick: 3651n, db: SYSTEM, tid: "556" },
  "2201": { kind: "transaction-commit", tick: 3652n, db: SYSTEM, tid: "556" },
  "2202": { kind: "transaction-abort", tick: 3654n, db: SYSTEM, tid: "556" },
  "2300": {
    kind: "document-upsert",
    tick: 196n,
    db: SYSTEM,
    tid: "0",
    cuid: "hE0E3D7BE511D/119",
    key: "194",
    rev: "_XUJFD3C---",
    document: { _id: "users/194", _key: "194", _rev: "_XUJFD3C---", value: "test" },
  },
  "2302": {
    kind: "document-remove",
    tick: 397n,
    db: SYSTEM,
    tid: "0",
    cuid: "hE0E3D7BE511D/119",
    key: "194",
    rev: "_XUJIbS---_",
  },
};

describe("decodeMarker: the documented marker examples (docs-hugo 3.12)", () => {
  const files = readdirSync(`${SHARED_DIR}/arangodb-examples`).filter((name) =>
    /^docs-hugo-3\.12-wal-marker-\d{4}-.*\.json\.txt$/.test(name),
  );

  it("covers all 17 documented marker types", () => {
    expect(files).toHaveLength(17);
    const types = files.map((name) => /marker-(\d{4})-/.exec(name)?.[1]);
    expect(new Set(types)).toEqual(new Set(Object.keys(GOLDEN)));
  });

  it.each(files)("%s decodes to the documented fields, pretty or compact", (file) => {
    const type = /marker-(\d{4})-/.exec(file)?.[1] ?? "";
    const { pretty, compact } = markerExample(file);
    const fromCompact = decoded(compact);
    const fromPretty = decoded(JSON.stringify(JSON.parse(pretty)));
    expect(fromPretty).toEqual(fromCompact);
    expect(fromCompact.type).toBe(Number(type));
    expect(fromCompact).toMatchObject(GOLDEN[type] ?? { missing: true });
  });
});

describe("decodeMarker: real server output", () => {
  it("decodes the real 2001 lines quoted in the protocol notes (3.8, 3.10, 3.11, 3.12)", () => {
    const protocol = readShared("arangodb-protocol.md");
    const real = [
      ...protocol.matchAll(/^(\{"tick":"\d+","type":2001,[^\s]*\})\s+\((3\.[\d.]+)\)$/gm),
    ];
    const markers = real.map((match) => decoded(match[1] ?? ""));
    expect(real.map((match) => match[2])).toEqual(["3.8.9", "3.10", "3.11.14", "3.12.10"]);
    expect(markers.map((marker) => marker.tick)).toEqual([180374n, 186287n, 189313n, 184793n]);
    expect(markers.map((marker) => (marker.kind === "collection-drop" ? marker.cuid : ""))).toEqual(
      ["h92B84384354F/68960", "h1617A8BD8EEE/71303", "h68138D6305DA/72385", "h5C3DDE5391BF/74577"],
    );
  });

  it("decodes the recorded 3.11 tail body (one marker, content-length 74)", () => {
    const exchange = readShared(
      "arangodb-examples",
      "docs-hugo-3.11-rest-wal-access-tailing-some.txt",
    );
    const pretty = exchange.slice(exchange.lastIndexOf("\n{"));
    const wire = `${JSON.stringify(JSON.parse(pretty))}\n`;
    expect(Buffer.byteLength(wire)).toBe(74);
    expect(decoded(wire.trimEnd())).toEqual({
      kind: "collection-drop",
      type: 2001,
      tick: 189313n,
      db: "_system",
      cuid: "h68138D6305DA/72385",
    });
  });
});

describe("decodeMarker: bad input is reported, never thrown", () => {
  const cases: [string, string, string][] = [
    ["not JSON", '{"tick":"1",', "invalid-json"],
    ["a JSON array", "[1,2]", "not-an-object"],
    ["a JSON string", '"x"', "not-an-object"],
    ["no type", '{"tick":"1","db":"d"}', "invalid-type"],
    ["a fractional type", '{"tick":"1","type":2300.5}', "invalid-type"],
    ["a numeric tick", '{"tick":1,"type":2001,"db":"d","cuid":"c"}', "invalid-tick"],
    ["a negative tick", '{"tick":"-1","type":2001,"db":"d","cuid":"c"}', "invalid-tick"],
    [
      "a tick above uint64",
      '{"tick":"18446744073709551616","type":2001,"db":"d","cuid":"c"}',
      "invalid-tick",
    ],
    ["a leading-zero tick", '{"tick":"01","type":2001,"db":"d","cuid":"c"}', "invalid-tick"],
    [
      "a 2300 without data",
      '{"tick":"5","type":2300,"db":"d","cuid":"c","tid":"0"}',
      "invalid-field",
    ],
    [
      "a 2300 without _rev",
      '{"tick":"5","type":2300,"db":"d","cuid":"c","tid":"0","data":{"_key":"k"}}',
      "invalid-field",
    ],
    [
      "a 2300 with a numeric tid",
      '{"tick":"5","type":2300,"db":"d","cuid":"c","tid":0,"data":{"_key":"k","_rev":"r"}}',
      "invalid-field",
    ],
    [
      "a 2302 without cuid",
      '{"tick":"5","type":2302,"db":"d","tid":"0","data":{"_key":"k","_rev":"r"}}',
      "invalid-field",
    ],
    ["a 2200 without tid", '{"tick":"5","type":2200,"db":"d"}', "invalid-field"],
    [
      "a 2002 without data.name",
      '{"tick":"5","type":2002,"db":"d","cuid":"c","data":{}}',
      "invalid-field",
    ],
    [
      "the legacy logger-follow format",
      '{"tick":"189261","type":2001,"database":"1","cuid":"h68138D6305DA/72362","cid":"72362","data":{"id":"72362","name":""}}',
      "legacy-format",
    ],
  ];

  it.each(cases)("%s → %s", (_name, line, reason) => {
    const result = failure(decodeMarker(line));
    expect(result.reason).toBe(reason);
    expect(result.line).toBe(line);
    expect(result.detail.length).toBeGreaterThan(0);
    expect(result.detail).not.toContain("\n");
  });

  it("names the marker type and field in the detail", () => {
    const result = failure(
      decodeMarker('{"tick":"5","type":2300,"db":"d","tid":"0","data":{"_key":"k","_rev":"r"}}'),
    );
    expect(result.detail).toBe('2300 marker: "cuid" must be a non-empty string');
  });
});

describe("decodeMarker: types this version does not know", () => {
  it("decodes them as unknown, keeping tick, db, tid and the raw object", () => {
    const marker = decoded('{"tick":"77","type":2301,"db":"d","tid":"9","data":{"x":1}}');
    expect(marker).toEqual({
      kind: "unknown",
      type: 2301,
      tick: 77n,
      db: "d",
      tid: "9",
      raw: { tick: "77", type: 2301, db: "d", tid: "9", data: { x: 1 } },
    });
  });
});

describe("decodeMarker: ticks, tids and big numbers", () => {
  it("keeps a uint64 tick and tid exact", () => {
    const marker = decoded(
      '{"tick":"18446744073709551615","type":2200,"db":"d","tid":"18446744073709551557"}',
    );
    expect(marker.tick).toBe(18446744073709551615n);
    expect(marker.kind === "transaction-begin" ? marker.tid : "").toBe("18446744073709551557");
  });

  it("rounds a document integer beyond 2^53 to the nearest double (documented, protocol §10)", () => {
    const marker = decoded(
      '{"tick":"9","type":2300,"db":"d","cuid":"c","tid":"0","data":{"_key":"k","_rev":"r","n":9007199254740993,"d":1152921504606846976.0}}',
    );
    const document = marker.kind === "document-upsert" ? marker.document : {};
    expect(document["n"]).toBe(9007199254740992);
    expect(document["d"]).toBe(2 ** 60);
  });

  it("accepts markers with keys in any order", () => {
    const marker = decoded(
      '{"data":{"_rev":"_XUJIbS---_","_key":"194"},"type":2302,"tid":"0","tick":"397","db":"_system","cuid":"hE0E3D7BE511D/119"}',
    );
    expect(marker).toMatchObject({ kind: "document-remove", key: "194", tick: 397n });
  });
});
