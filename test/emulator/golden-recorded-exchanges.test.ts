/**
 * Replays the exchanges recorded from real ArangoDB 3.10 and 3.11 servers (docs-hugo caches in
 * /work/shared/arangodb-examples/) against the emulator: the same operations as each example
 * script, then the same request. Status, the x-arango-replication-* header set, content type,
 * body layout (keys, key order, value kinds, marker types) and the relations between ticks must
 * match; tick values themselves differ from run to run.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import {
  type RawResponse,
  createCollection,
  header,
  insert,
  json,
  lastLogTick,
  markersOf,
  remove,
  replicationHeaderNames,
  request,
  systemDatabase,
  tickHeader,
  update,
} from "./replication-helpers.js";

const EXAMPLES = "/work/shared/arangodb-examples";

interface Recorded {
  status: number;
  headers: Map<string, string>;
  /** The body as the server sent it: compact JSON (plus "\n" per line for dumps). */
  body: string;
  request: string;
}

/** Parses a recorded exchange: curl request line, status line, headers, pretty-printed body. */
function recorded(file: string): Recorded {
  const text = readFileSync(path.join(EXAMPLES, file), "utf8");
  const requestLine = /^curl .*$/m.exec(text.slice(text.indexOf("## request:")))?.[0] ?? "";
  const response = text.slice(text.indexOf("## response:\n") + "## response:\n".length);
  const blank = response.indexOf("\n\n");
  const head = blank < 0 ? response.trimEnd() : response.slice(0, blank);
  const rawBody = blank < 0 ? "" : response.slice(blank + 2).trim();
  const [statusLine = "", ...headerLines] = head.split("\n");
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const contentType = headers.get("content-type") ?? "";
  let body = "";
  if (rawBody !== "") {
    const compact = JSON.stringify(JSON.parse(rawBody));
    body = contentType === "application/x-arango-dump" ? `${compact}\n` : compact;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body, request: requestLine };
}

/** A structural signature: keys in order, value kinds, decimal strings told apart. */
function layout(value: unknown): unknown {
  if (Array.isArray(value)) return ["array", value.length === 0 ? null : layout(value[0])];
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([key, inner]) => [key, layout(inner)]);
  }
  if (typeof value === "string") return /^[0-9]+$/.test(value) ? "decimal" : "string";
  return typeof value;
}

function recordedHeaderNames(exchange: Recorded): string[] {
  return [...exchange.headers.keys()]
    .filter((name) => name.startsWith("x-arango-replication-"))
    .sort();
}

function recordedTick(exchange: Recorded, field: string): bigint {
  return BigInt(exchange.headers.get(`x-arango-replication-${field}`) ?? "");
}

function expectSameFrame(actual: RawResponse, expected: Recorded): void {
  expect(actual.status).toBe(expected.status);
  expect(replicationHeaderNames(actual)).toEqual(recordedHeaderNames(expected));
  expect(header(actual, "content-type")).toBe(expected.headers.get("content-type"));
  expect(Number(header(actual, "content-length"))).toBe(actual.bytes);
}

const versions = ["3.10", "3.11"];

let emulator: Emulator;
beforeEach(async () => {
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
});

describe("the recorded exchanges parse as the wire format", () => {
  it.each(versions)("%s: compact bodies have the recorded content-length", (version) => {
    for (const name of ["tailing-some", "tailing-buffer-limit", "first-tick", "tick-range"]) {
      const exchange = recorded(`docs-hugo-${version}-rest-wal-access-${name}.txt`);
      expect(Buffer.byteLength(exchange.body)).toBe(Number(exchange.headers.get("content-length")));
    }
    const state = recorded(`docs-hugo-${version}-rest-replication-logger-state-active.txt`);
    expect(Buffer.byteLength(state.body)).toBe(Number(state.headers.get("content-length")));
  });
});

/**
 * RestWalAccessTailingSome / RestWalAccessTailingBufferLimit: create `products`, save p1 and p2,
 * remove p1, update p2, drop `products`, then tail from the lastLogTick taken before.
 */
async function productsScenario(): Promise<{ from: bigint; guid: string }> {
  const from = await lastLogTick(emulator.url);
  const { state } = emulator;
  const products = createCollection(state, "products");
  insert(state, products, { _key: "p1", name: "flux compensator" });
  insert(state, products, { _key: "p2", name: "hybrid hovercraft", hp: 5100 });
  remove(state, products, "p1");
  update(state, products, "p2", { name: "broken hovercraft" });
  state.dropCollection(products);
  return { from: BigInt(from), guid: products.globallyUniqueId };
}

describe.each(versions)("golden %s wal/tail", (version) => {
  for (const [name, query] of [
    ["tailing-some", ""],
    ["tailing-buffer-limit", "&chunkSize=400"],
  ] as const) {
    it(`${name}: only the drop marker remains, checkmore true, lastscanned == lasttick`, async () => {
      const expected = recorded(`docs-hugo-${version}-rest-wal-access-${name}.txt`);
      expect(expected.request).toContain(query === "" ? "/_api/wal/tail?from=" : "chunkSize=400");
      const { from, guid } = await productsScenario();

      const actual = await request(emulator.url, `/_api/wal/tail?from=${from}${query}`);

      expectSameFrame(actual, expected);
      const markers = markersOf(actual.text);
      const recordedMarkers = markersOf(expected.body);
      expect(markers.map((m) => m.type)).toEqual(recordedMarkers.map((m) => m.type));
      expect(markers.map(layout)).toEqual(recordedMarkers.map(layout));
      expect(markers[0]).toMatchObject({ type: 2001, db: "_system", cuid: guid });
      expect(guid).toMatch(/^h[0-9A-F]+\/[0-9]+$/);

      // Relations of the recorded headers, with the emulator's own ticks.
      expect(recordedTick(expected, "lastscanned")).toBe(recordedTick(expected, "lasttick"));
      expect(recordedTick(expected, "lastincluded")).toBeLessThan(
        recordedTick(expected, "lasttick"),
      );
      expect(tickHeader(actual, "lastscanned")).toBe(tickHeader(actual, "lasttick"));
      expect(tickHeader(actual, "lastincluded")).toBeLessThan(tickHeader(actual, "lasttick"));
      expect(BigInt(markers[0]?.tick ?? "0")).toBe(tickHeader(actual, "lastincluded"));
      expect(tickHeader(actual, "lastincluded")).toBeGreaterThan(from);
      expect(header(actual, "x-arango-replication-checkmore")).toBe(
        expected.headers.get("x-arango-replication-checkmore"),
      );
      expect(header(actual, "x-arango-replication-frompresent")).toBe("true");

      // "the next call would return 204"
      const next = await request(
        emulator.url,
        `/_api/wal/tail?from=${tickHeader(actual, "lastincluded")}`,
      );
      expect(next.status).toBe(204);
    });
  }

  it("tailing-empty: from = lastLogTick answers 204 with lastscanned below from", async () => {
    const expected = recorded(`docs-hugo-${version}-rest-wal-access-tailing-empty.txt`);
    // Whatever ran before the recorded call left a write batch of several sequence numbers.
    const earlier = createCollection(emulator.state, "earlier");
    insert(emulator.state, earlier, { value: 1 });
    const from = BigInt(await lastLogTick(emulator.url));

    const actual = await request(emulator.url, `/_api/wal/tail?from=${from}`);

    expectSameFrame(actual, expected);
    expect(actual.text).toBe("");
    for (const name of ["checkmore", "frompresent", "lastincluded"]) {
      expect(header(actual, `x-arango-replication-${name}`)).toBe(
        expected.headers.get(`x-arango-replication-${name}`),
      );
    }
    const recordedFrom = BigInt(/from=([0-9]+)/.exec(expected.request)?.[1] ?? "0");
    expect(recordedTick(expected, "lastscanned")).toBeLessThan(recordedFrom);
    expect(recordedTick(expected, "lasttick")).toBe(recordedFrom);
    expect(tickHeader(actual, "lastscanned")).toBeLessThan(from);
    expect(tickHeader(actual, "lasttick")).toBe(from);
  });
});

describe.each(versions)("golden %s lastTick, range, logger-state", (version) => {
  it("wal/lastTick (RestWalAccessFirstTick): layout and tick = logger-state lastLogTick", async () => {
    const expected = recorded(`docs-hugo-${version}-rest-wal-access-first-tick.txt`);
    createCollection(emulator.state, "something");
    const actual = await request(emulator.url, "/_api/wal/lastTick");
    expectSameFrame(actual, expected);
    const body = json(actual);
    expect(layout(body)).toEqual(layout(JSON.parse(expected.body)));
    expect(body["tick"]).toBe(await lastLogTick(emulator.url));
    expect(body["time"]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(body["server"]).toEqual({
      version: emulator.state.version,
      serverId: emulator.state.serverId.toString(),
    });
  });

  it("wal/range (RestWalAccessTickRange): tickMin 1 on an unpruned WAL, tickMax the last tick", async () => {
    const expected = recorded(`docs-hugo-${version}-rest-wal-access-tick-range.txt`);
    const actual = await request(emulator.url, "/_api/wal/range");
    expectSameFrame(actual, expected);
    const body = json(actual);
    const recordedBody = JSON.parse(expected.body) as Record<string, unknown>;
    expect(layout(body)).toEqual(layout(recordedBody));
    expect(body["tickMin"]).toBe(recordedBody["tickMin"]);
    expect(body["tickMax"]).toBe(await lastLogTick(emulator.url));
  });

  it("logger-state (RestReplicationLoggerStateActive): layout and tick relations", async () => {
    const expected = recorded(`docs-hugo-${version}-rest-replication-logger-state-active.txt`);
    const actual = await request(emulator.url, "/_api/replication/logger-state");
    expectSameFrame(actual, expected);
    const body = json(actual);
    const recordedBody = JSON.parse(expected.body) as Record<string, Record<string, unknown>>;
    expect(layout(body)).toEqual(layout(recordedBody));
    for (const candidate of [body as Record<string, Record<string, unknown>>, recordedBody]) {
      const state = candidate["state"] ?? {};
      expect(state["lastUncommittedLogTick"]).toBe(state["lastLogTick"]);
      expect(String(state["totalEvents"])).toBe(state["lastLogTick"]);
      expect(state["running"]).toBe(true);
    }
    expect((body["server"] as Record<string, unknown>)["engine"]).toBe("rocksdb");
    expect(body["clients"]).toEqual([]);
    expect(systemDatabase(emulator.state).name).toBe("_system");
  });
});
