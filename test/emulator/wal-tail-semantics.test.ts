/**
 * `GET /_api/wal/tail` semantics of arangodb-protocol.md §4 and §9: exclusive `from`, 204 frames,
 * the checkmore rule, whole write batches per response, transaction cuts with `lastScanned`
 * (MyWALDumper::Continue), and ticks above 2^53 handled as exact integers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import type { CollectionState } from "../../src/emulator/catalog.js";
import {
  createCollection,
  header,
  insert,
  insertMany,
  json,
  markersOf,
  request,
  streamTransaction,
  tailAll,
  tickHeader,
} from "./replication-helpers.js";

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options: Parameters<typeof startEmulator>[0] = {}): Promise<Emulator> {
  emulator = await startEmulator({ port: 0, ...options });
  return emulator;
}

describe("from, lastincluded and checkmore", () => {
  it("treats from as exclusive", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    insert(state, items, { _key: "a" });
    const docTick = state.wal.lastSequence - 1n; // insert = document write + primary index write

    const below = await request(url, `/_api/wal/tail?from=${docTick - 1n}`);
    expect(markersOf(below.text).map((m) => m.tick)).toEqual([docTick.toString()]);

    const at = await request(url, `/_api/wal/tail?from=${docTick}`);
    expect(at.status).toBe(204);
    expect(at.text).toBe("");
    expect(header(at, "content-length")).toBe("0");
    expect(header(at, "content-type")).toBe("application/x-arango-dump");
    expect(header(at, "x-arango-replication-lastincluded")).toBe("0");
    expect(header(at, "x-arango-replication-checkmore")).toBe("false");
  });

  it("sets checkmore iff 0 < lastincluded < lasttick", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const from = state.wal.lastSequence;

    // A single insert is printed at its document write; its index write follows.
    insert(state, items, { _key: "single" });
    const single = await request(url, `/_api/wal/tail?from=${from}`);
    expect(tickHeader(single, "lastincluded")).toBeLessThan(tickHeader(single, "lasttick"));
    expect(header(single, "x-arango-replication-checkmore")).toBe("true");

    // A transaction's commit marker carries the last sequence of its batch.
    const afterSingle = state.wal.lastSequence;
    insertMany(state, items, [{ _key: "m1" }, { _key: "m2" }]);
    const group = await request(url, `/_api/wal/tail?from=${afterSingle}`);
    expect(markersOf(group.text).map((m) => m.type)).toEqual([2200, 2300, 2300, 2201]);
    expect(tickHeader(group, "lastincluded")).toBe(tickHeader(group, "lasttick"));
    expect(header(group, "x-arango-replication-checkmore")).toBe("false");

    // Writes without markers move lasttick on.
    state.wal.appendSilentWrites(3);
    const again = await request(url, `/_api/wal/tail?from=${afterSingle}`);
    expect(tickHeader(again, "lasttick")).toBe(tickHeader(group, "lasttick") + 3n);
    expect(header(again, "x-arango-replication-checkmore")).toBe("true");
  });

  it("answers a from beyond the last tick with 204 and lastscanned 0 (RocksDB NotFound)", async () => {
    const { state, url } = await start();
    const last = state.wal.lastSequence;
    const response = await request(url, `/_api/wal/tail?from=${last * 10_000n}`);
    expect(response.status).toBe(204);
    expect(header(response, "x-arango-replication-lastincluded")).toBe("0");
    expect(header(response, "x-arango-replication-lastscanned")).toBe("0");
    expect(tickHeader(response, "lasttick")).toBe(last);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
  });

  it("reports frompresent false for from=0 on a WAL starting at 1", async () => {
    const { url } = await start();
    const response = await request(url, "/_api/wal/tail?from=0&includeSystem=true");
    expect(response.status).toBe(200);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
    const types = markersOf(response.text).map((m) => m.type);
    // The _system database's own creation, then its system collections.
    expect(types.slice(0, 3)).toEqual([1100, 2000, 2000]);
  });

  it("honours to as an inclusive bound on write batches", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const from = state.wal.lastSequence;
    insert(state, items, { _key: "a" });
    const firstEnd = state.wal.lastSequence;
    insert(state, items, { _key: "b" });
    const response = await request(url, `/_api/wal/tail?from=${from}&to=${firstEnd - 1n}`);
    expect(markersOf(response.text).map((m) => (m["data"] as { _key: string })._key)).toEqual([
      "a",
    ]);
  });
});

function bigDocuments(count: number, size: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({ _key: `k${i}`, pad: "x".repeat(size) }));
}

describe("write batches and transaction cuts", () => {
  it("returns a multi-document request's group whole when lastScanned is not sent", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const from = state.wal.lastSequence;
    insertMany(state, items, bigDocuments(100, 500)); // ~55 KB, far above chunkSize

    const response = await request(url, `/_api/wal/tail?from=${from}&chunkSize=16384`);
    const markers = markersOf(response.text);
    expect(markers[0]?.type).toBe(2200);
    expect(markers[markers.length - 1]?.type).toBe(2201);
    expect(markers.filter((m) => m.type === 2300)).toHaveLength(100);
    // The size check stopped the scan after the batch: lastscanned stays at its start.
    expect(tickHeader(response, "lastscanned")).toBe(BigInt(markers[0]?.tick ?? "0"));
    expect(response.bytes).toBeGreaterThan(16384);
  });

  it("never splits a group in the middle without lastScanned, even across responses", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const from = state.wal.lastSequence;
    for (let i = 0; i < 5; i++)
      insertMany(
        state,
        items,
        bigDocuments(20, 400).map((d) => ({ ...d, _key: `g${i}-${String(d["_key"])}` })),
      );
    let cursor = from;
    const groups: number[][] = [];
    for (let round = 0; round < 20; round++) {
      const response = await request(url, `/_api/wal/tail?from=${cursor}&chunkSize=16384`);
      if (response.status === 204) break;
      const types = markersOf(response.text).map((m) => m.type);
      groups.push(types);
      expect(types[0]).toBe(2200);
      expect(types[types.length - 1]).toBe(2201);
      cursor = tickHeader(response, "lastincluded");
    }
    expect(groups.flat().filter((t) => t === 2300)).toHaveLength(100);
  });

  it("splits a ~3 MB stream transaction with lastScanned: one 2200, one 2201, every op once, in order", async () => {
    const { state, url } = await start();
    const items: CollectionState = createCollection(state, "items");
    const from = state.wal.lastSequence;
    const count = 3000;
    const tid = streamTransaction(state, items, (put) => {
      for (let i = 0; i < count; i++) put({ _key: `doc${i}`, pad: "y".repeat(1000) });
    });

    const { markers, responses } = await tailAll(url, from, { chunkSize: "16384" });

    expect(responses.length).toBeGreaterThan(10);
    expect(markers.filter((m) => m.type === 2200)).toHaveLength(1);
    expect(markers.filter((m) => m.type === 2201)).toHaveLength(1);
    expect(markers[0]?.type).toBe(2200);
    expect(markers[markers.length - 1]?.type).toBe(2201);
    const keys = markers
      .filter((m) => m.type === 2300)
      .map((m) => (m["data"] as { _key: string })._key);
    expect(keys).toEqual(Array.from({ length: count }, (_, i) => `doc${i}`));
    expect(new Set(markers.map((m) => m["tid"]))).toEqual(new Set([tid]));
    // Ticks never go backwards along the stream.
    for (let i = 1; i < markers.length; i++) {
      expect(BigInt(markers[i]?.tick ?? "0") >= BigInt(markers[i - 1]?.tick ?? "0")).toBe(true);
    }
    // Cut responses keep lastscanned at the transaction's batch start and stay near chunkSize.
    const batchStart = BigInt(markers[0]?.tick ?? "0");
    for (const response of responses.slice(0, -1)) {
      expect(tickHeader(response, "lastscanned")).toBe(batchStart);
      expect(response.bytes).toBeLessThan(16384 + 4096);
    }
  });

  it("cuts one WAL entry after the limit is crossed (MyWALDumper::Continue)", async () => {
    // Ticks and transaction ids keep their width, so marker sizes can be calibrated.
    const { state, url } = await start({ firstSequence: 1_000_000n });
    const items = createCollection(state, "items");
    for (const key of ["r1", "r2", "r3", "r4"]) insert(state, items, { _key: key });
    const types = (response: { text: string }): number[] =>
      markersOf(response.text).map((m) => m.type);
    const cut = (from: bigint) =>
      request(url, `/_api/wal/tail?from=${from}&lastScanned=${from}&chunkSize=16384`);

    let from = state.wal.lastSequence;
    streamTransaction(state, items, (put, drop) => {
      put({ _key: "c0", pad: "" });
      drop("r1");
    });
    const calibration = (await request(url, `/_api/wal/tail?from=${from}`)).text.split("\n");
    const [beginSize = 0, insertSize = 0] = calibration.map((line) => line.length + 1);
    // With this pad, begin + insert leave the response 10 bytes below the limit.
    const pad = "p".repeat(16384 - beginSize - insertSize - 10);

    // A remove crosses the limit and the commit follows: the commit entry is still processed.
    from = state.wal.lastSequence;
    streamTransaction(state, items, (put, drop) => {
      put({ _key: "c1", pad });
      drop("r2");
    });
    const removeThenCommit = await cut(from);
    expect(types(removeThenCommit)).toEqual([2200, 2300, 2302, 2201]);

    // A remove crosses the limit and an insert follows: its document write is still printed.
    from = state.wal.lastSequence;
    streamTransaction(state, items, (put, drop) => {
      put({ _key: "c2", pad });
      drop("r3");
      put({ _key: "c3" });
    });
    const removeThenInsert = await cut(from);
    expect(types(removeThenInsert)).toEqual([2200, 2300, 2302, 2300]);
    expect(header(removeThenInsert, "x-arango-replication-checkmore")).toBe("true");
    expect(tickHeader(removeThenInsert, "lastscanned")).toBe(from + 1n);
    const rest = await tailAll(
      url,
      tickHeader(removeThenInsert, "lastincluded"),
      {},
      {
        lastScanned: tickHeader(removeThenInsert, "lastscanned"),
      },
    );
    expect(rest.markers.map((m) => m.type)).toEqual([2201]);

    // An insert crosses the limit: its index write is the one more entry, the commit is cut off
    // and arrives with the next call (its tick is above the insert's).
    from = state.wal.lastSequence;
    streamTransaction(state, items, (put) => {
      put({ _key: "c4", pad: `${pad}${"q".repeat(20)}` });
    });
    const insertThenCommit = await cut(from);
    expect(types(insertThenCommit)).toEqual([2200, 2300]);
    const commit = await tailAll(
      url,
      tickHeader(insertThenCommit, "lastincluded"),
      {},
      {
        lastScanned: tickHeader(insertThenCommit, "lastscanned"),
      },
    );
    expect(commit.markers.map((m) => m.type)).toEqual([2201]);
  });
});

describe("ticks above 2^53", () => {
  it("keeps every tick exact when the WAL starts above Number.MAX_SAFE_INTEGER", async () => {
    const firstSequence = 2n ** 53n + 10n;
    const { state, url } = await start({ firstSequence });
    const items = createCollection(state, "items");
    const from = state.wal.lastSequence;
    insert(state, items, { _key: "big" });
    insertMany(state, items, [{ _key: "b1" }, { _key: "b2" }]);

    const response = await request(url, `/_api/wal/tail?from=${from}`);
    const ticks = markersOf(response.text).map((m) => BigInt(m.tick));
    expect(ticks.every((tick) => tick > 2n ** 53n)).toBe(true);
    expect(ticks[0]).toBe(from + 1n);
    expect(tickHeader(response, "lasttick")).toBe(state.wal.lastSequence);
    expect(tickHeader(response, "lastincluded")).toBe(state.wal.lastSequence);

    const range = json(await request(url, "/_api/wal/range"));
    expect(range["tickMin"]).toBe(firstSequence.toString());

    // totalEvents is a JSON number: written as an exact integer literal, not rounded.
    const loggerState = await request(url, "/_api/replication/logger-state");
    expect(loggerState.text).toContain(`"totalEvents":${state.wal.lastSequence.toString()}`);

    const next = await request(url, `/_api/wal/tail?from=${tickHeader(response, "lastincluded")}`);
    expect(next.status).toBe(204);
  });
});
