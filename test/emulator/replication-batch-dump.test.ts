/**
 * Dump batches, inventory and dump (arangodb-protocol.md §6.2–§6.6, §12;
 * RocksDBRestReplicationHandler.cpp, RocksDBReplicationContext.cpp, RocksDBReplicationManager.cpp,
 * api-replication-spec.rb): snapshot isolation, the consistent snapshot + tail hand-off, envelope
 * formats, the stateful cursor, TTLs and the error answers.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { StoredDocument } from "../../src/emulator/catalog.js";
import { type Emulator, type StartOptions, startEmulator } from "../../src/emulator/emulator.js";
import {
  type RawResponse,
  createCollection,
  header,
  insert,
  insertMany,
  json,
  markersOf,
  remove,
  request,
  tailAll,
  update,
} from "./replication-helpers.js";

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options: StartOptions = {}): Promise<Emulator> {
  emulator = await startEmulator({ port: 0, ...options });
  return emulator;
}

async function createBatch(
  url: string,
  body: unknown = { ttl: 600 },
  query = "",
): Promise<{ id: string; lastTick: string } & Record<string, unknown>> {
  const response = await request(url, `/_api/replication/batch${query}`, {
    method: "POST",
    body,
  });
  expect(response.status).toBe(200);
  return json(response) as { id: string; lastTick: string };
}

function documentsOf(response: RawResponse): Record<string, unknown>[] {
  return markersOf(response.text);
}

/** Dumps a collection to the end like §12 step 3. */
async function dumpAll(
  url: string,
  batchId: string,
  collection: string,
  query = "&useEnvelope=false",
): Promise<{ documents: Record<string, unknown>[]; responses: RawResponse[] }> {
  const documents: Record<string, unknown>[] = [];
  const responses: RawResponse[] = [];
  for (let round = 0; round < 1000; round++) {
    const response = await request(
      url,
      `/_api/replication/dump?batchId=${batchId}&collection=${collection}${query}`,
    );
    responses.push(response);
    documents.push(...documentsOf(response));
    if (response.status === 204) break;
    if (header(response, "x-arango-replication-checkmore") !== "true") break;
  }
  return { documents, responses };
}

describe("POST /_api/replication/batch", () => {
  it("answers string id and lastTick = the current last tick, and registers the client", async () => {
    const { state, url } = await start();
    createCollection(state, "c");
    const batch = await createBatch(url, { ttl: 600 }, "?syncerId=77&clientInfo=cdc");
    expect(Object.keys(batch)).toEqual(["id", "lastTick"]);
    expect(batch.id).toMatch(/^[0-9]+$/);
    expect(batch.lastTick).toBe(state.wal.lastSequence.toString());
    const clients = json(await request(url, "/_api/replication/logger-state"))["clients"];
    expect(clients).toMatchObject([
      { syncerId: "77", serverId: "0", clientInfo: "cdc", lastServedTick: batch.lastTick },
    ]);
  });

  it("adds the leader state with state=true", async () => {
    const { url } = await start();
    const batch = await createBatch(url, {}, "?state=true");
    const leader = batch["state"] as Record<string, Record<string, unknown>>;
    expect(Object.keys(leader)).toEqual(["state", "server", "clients"]);
    expect(leader["state"]?.["lastLogTick"]).toBe(batch.lastTick);
    expect(leader["server"]?.["engine"]).toBe("rocksdb");
  });

  it("defaults the TTL to 7200 s and expires an unused batch after its TTL", async () => {
    let now = Date.UTC(2025, 4, 23, 18, 0, 0);
    const { state, url } = await start({ now: () => now });
    createCollection(state, "c");
    const long = await createBatch(url, {}, "?syncerId=5");
    const short = await createBatch(url, { ttl: 2 });
    const clients = json(await request(url, "/_api/replication/logger-state"))["clients"] as {
      time: string;
      expires: string;
    }[];
    expect(Date.parse(clients[0]?.expires ?? "") - Date.parse(clients[0]?.time ?? "")).toBe(
      7200_000,
    );

    now += 3_000;
    const expired = await request(url, `/_api/replication/dump?batchId=${short.id}&collection=c`);
    expect(expired.status).toBe(404);
    const alive = await request(url, `/_api/replication/dump?batchId=${long.id}&collection=c`);
    expect(alive.status).toBe(204);

    now += 7_199_000;
    // Each use extends the batch by its TTL, so it is still there ...
    expect((await request(url, `/_api/replication/inventory?batchId=${long.id}`)).status).toBe(200);
    now += 7_201_000;
    // ... until it is not used for longer than that.
    expect((await request(url, `/_api/replication/inventory?batchId=${long.id}`)).status).toBe(404);
  });

  it("extends and deletes with 204, and answers 404/1600 for unknown ids", async () => {
    let now = Date.UTC(2025, 4, 23, 18, 0, 0);
    const { url } = await start({ now: () => now });
    const batch = await createBatch(url, { ttl: 10 });
    now += 8_000;
    const extended = await request(url, `/_api/replication/batch/${batch.id}`, {
      method: "PUT",
      body: { ttl: 60 },
    });
    expect(extended.status).toBe(204);
    expect(extended.text).toBe("");
    now += 50_000;
    expect((await request(url, `/_api/replication/inventory?batchId=${batch.id}`)).status).toBe(
      200,
    );

    const removed = await request(url, `/_api/replication/batch/${batch.id}`, {
      method: "DELETE",
    });
    expect(removed.status).toBe(204);
    for (const init of [{ method: "DELETE" }, { method: "PUT", body: { ttl: 5 } }]) {
      const response = await request(url, `/_api/replication/batch/${batch.id}`, init);
      expect(response.status).toBe(404);
      expect(json(response)).toEqual({
        code: 404,
        error: true,
        errorMessage: "cursor not found",
        errorNum: 1600,
      });
    }
  });

  it("rejects a body that is not a JSON object", async () => {
    const { url } = await start();
    const response = await request(url, "/_api/replication/batch", { method: "POST", body: [] });
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({ errorNum: 400, errorMessage: "invalid JSON" });
  });
});

describe("snapshot isolation and the snapshot + tail hand-off (§12)", () => {
  it("dumps the state at lastTick; the tail from lastTick has exactly the later writes", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    for (let i = 1; i <= 5; i++) insert(state, items, { _key: `a${i}`, value: i });

    // §12 step 1: the batch pins the snapshot.
    const batch = await createBatch(url, { ttl: 600 }, "?syncerId=9001");
    const snapshot = new Map(
      [...items.documents.values()].map((document) => [document._key, document]),
    );

    // Writes after the snapshot, some while the dump is under way.
    insert(state, items, { _key: "a6", value: 6 });
    update(state, items, "a1", { value: 100, note: "changed" });
    const firstChunk = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=items&useEnvelope=false&chunkSize=1`,
    );
    remove(state, items, "a2");
    insertMany(state, items, [{ _key: "a7" }, { _key: "a8" }]);

    // §12 step 2 and 3.
    const inventory = json(
      await request(url, `/_api/replication/inventory?batchId=${batch.id}&includeSystem=false`),
    );
    expect((inventory["state"] as Record<string, unknown>)["lastLogTick"]).toBe(batch.lastTick);
    const rest = await dumpAll(url, batch.id, "items");
    const dumped = [...documentsOf(firstChunk), ...rest.documents];
    expect(dumped).toEqual([...snapshot.values()].map((document) => ({ ...document })));

    // §12 step 4 and 5: tail from lastTick, apply over the dump.
    const { markers } = await tailAll(url, BigInt(batch.lastTick), {}, { lastScanned: 0n });
    expect(markers.every((marker) => BigInt(marker.tick) > BigInt(batch.lastTick))).toBe(true);
    const mirror = new Map<string, Record<string, unknown>>(
      dumped.map((document) => [String(document["_key"]), document]),
    );
    for (const marker of markers) {
      const data = marker["data"] as StoredDocument;
      if (marker.type === 2300) mirror.set(data._key, data);
      if (marker.type === 2302) mirror.delete(data._key);
    }
    const current = new Map<string, Record<string, unknown>>(
      [...items.documents.values()].map((document) => [document._key, { ...document }]),
    );
    expect(mirror).toEqual(current);
    // Nothing in the tail duplicates the dump: each write after the snapshot arrives once.
    expect(markers.filter((m) => m.type === 2300 || m.type === 2302)).toHaveLength(5);
  });

  it("shows collections created after the batch in the inventory with an empty dump", async () => {
    const { state, url } = await start();
    const batch = await createBatch(url);
    const late = createCollection(state, "late");
    insert(state, late, { _key: "x" });
    const inventory = json(await request(url, `/_api/replication/inventory?batchId=${batch.id}`));
    const names = (inventory["collections"] as { parameters: { name: string } }[]).map(
      (collection) => collection.parameters.name,
    );
    expect(names).toContain("late");
    const dump = await request(url, `/_api/replication/dump?batchId=${batch.id}&collection=late`);
    expect(dump.status).toBe(204);
  });
});

describe("GET /_api/replication/dump", () => {
  it("wraps documents in {type:2300,data} by default and not with useEnvelope=false", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const stored = insert(state, items, { _key: "k", nested: { a: 1 }, list: [1, "two"] });
    const batch = await createBatch(url);

    const enveloped = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=items`,
    );
    expect(enveloped.status).toBe(200);
    expect(header(enveloped, "content-type")).toBe("application/x-arango-dump");
    expect(enveloped.text).toBe(`${JSON.stringify({ type: 2300, data: stored })}\n`);

    const bare = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=${items.id}&useEnvelope=false`,
    );
    expect(bare.text).toBe(`${JSON.stringify(stored)}\n`);
    expect(Object.keys(JSON.parse(bare.text) as object)).toEqual([
      "_key",
      "_id",
      "_rev",
      "nested",
      "list",
    ]);
  });

  it("continues a per-(batch, collection) cursor chunk by chunk with an opaque counter", async () => {
    const { state, url } = await start();
    const items = createCollection(state, "items");
    const others = createCollection(state, "others");
    insertMany(
      state,
      items,
      Array.from({ length: 40 }, (_, i) => ({
        _key: `d${String(i).padStart(2, "0")}`,
        pad: "p".repeat(100),
      })),
    );
    insert(state, others, { _key: "o" });
    const batch = await createBatch(url);
    const query = "&useEnvelope=false&chunkSize=1024";

    const { documents, responses } = await dumpAll(url, batch.id, "items", query);
    expect(documents.map((document) => document["_key"])).toEqual([...items.documents.keys()]);
    expect(responses.length).toBeGreaterThan(3);
    const counters = responses.map((response) =>
      header(response, "x-arango-replication-lastincluded"),
    );
    const checkmore = responses.map((response) =>
      header(response, "x-arango-replication-checkmore"),
    );
    // The counter starts at 1 and grows with every chunk after which more remains.
    expect(counters.slice(0, -1)).toEqual(responses.slice(0, -1).map((_, i) => String(i + 2)));
    expect(counters[counters.length - 1]).toBe(counters[counters.length - 2]);
    expect(checkmore.slice(0, -1).every((value) => value === "true")).toBe(true);
    expect(checkmore[checkmore.length - 1]).toBe("false");
    // Each chunk stops once it reached chunkSize.
    for (const response of responses) expect(response.bytes).toBeLessThan(1024 + 200);

    // Another collection of the same batch has its own cursor.
    const other = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=others`,
    );
    expect(documentsOf(other).map((document) => document["data"])).toMatchObject([{ _key: "o" }]);

    // After the last chunk the cursor is released: the next call starts over (releaseDumpIterator).
    const again = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=items${query}`,
    );
    expect(documentsOf(again)[0]?.["_key"]).toBe("d00");
  });

  it("answers an empty collection with 204, lastincluded 0 and checkmore false", async () => {
    const { state, url } = await start();
    createCollection(state, "empty");
    const batch = await createBatch(url);
    const response = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=empty`,
    );
    expect(response.status).toBe(204);
    expect(response.text).toBe("");
    expect(header(response, "x-arango-replication-lastincluded")).toBe("0");
    expect(header(response, "x-arango-replication-checkmore")).toBe("false");
  });

  it("answers missing or unknown batches with 404 and errorNum 400", async () => {
    const { state, url } = await start();
    createCollection(state, "c");
    const missing = await request(url, "/_api/replication/dump?collection=c");
    expect(missing.status).toBe(404);
    expect(json(missing)).toEqual({
      code: 404,
      error: true,
      errorMessage: "replication dump - request misses batchId",
      errorNum: 400,
    });
    const unknown = await request(url, "/_api/replication/dump?collection=c&batchId=123456");
    expect(unknown.status).toBe(404);
    expect(json(unknown)).toMatchObject({
      errorNum: 400,
      errorMessage: "replication dump - unable to find context (it could be expired)",
    });
    // With authentication on, a missing collection fails the permission check first.
    const noCollection = await request(url, "/_api/replication/dump?batchId=1");
    expect(noCollection.status).toBe(404);
    expect(json(noCollection)).toMatchObject({ errorNum: 1203 });
  });

  it("answers 400 'invalid collection parameter' without authentication", async () => {
    const { url } = await start({ authentication: false });
    const response = await request(url, "/_api/replication/dump?batchId=1", {
      authorization: null,
    });
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({
      errorNum: 400,
      errorMessage: "invalid collection parameter",
    });
  });

  it("fails for collections dropped after the batch: 400 without a cursor, 404 with one", async () => {
    const { state, url } = await start();
    const untouched = createCollection(state, "untouched");
    const reading = createCollection(state, "reading");
    insert(state, untouched, { _key: "u" });
    insertMany(
      state,
      reading,
      Array.from({ length: 30 }, (_, i) => ({ _key: `r${i}`, pad: "x".repeat(200) })),
    );
    const batch = await createBatch(url);

    state.dropCollection(untouched);
    const gone = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=untouched`,
    );
    expect(gone.status).toBe(400);
    expect(json(gone)).toMatchObject({
      errorNum: 400,
      errorMessage: "replication dump - bad parameter",
    });

    const first = await request(
      url,
      `/_api/replication/dump?batchId=${batch.id}&collection=reading&chunkSize=1024`,
    );
    expect(header(first, "x-arango-replication-checkmore")).toBe("true");
    // Dropping a collection with an open cursor removes the whole batch (RocksDBReplicationManager::drop).
    state.dropCollection(reading);
    const after = await request(url, `/_api/replication/inventory?batchId=${batch.id}`);
    expect(after.status).toBe(404);
  });
});

describe("GET /_api/replication/inventory", () => {
  it("lists properties, collections sorted by type then name, views, state and tick", async () => {
    const { state, url } = await start();
    createCollection(state, "zeta");
    createCollection(state, "alpha");
    createCollection(state, "edges", undefined, 3);
    const batch = await createBatch(url, {}, "?serverId=4711");

    const response = await request(
      url,
      `/_api/replication/inventory?batchId=${batch.id}&includeSystem=false`,
    );
    expect(response.status).toBe(200);
    const inventory = json(response);
    expect(Object.keys(inventory)).toEqual(["properties", "collections", "views", "state", "tick"]);
    expect(inventory["properties"]).toEqual({ id: "1", name: "_system", isSystem: true });
    const collections = inventory["collections"] as {
      indexes: unknown[];
      parameters: Record<string, unknown>;
    }[];
    expect(collections.map((collection) => collection.parameters["name"])).toEqual([
      "alpha",
      "zeta",
      "edges",
    ]);
    for (const collection of collections) {
      expect(Object.keys(collection)).toEqual(["indexes", "parameters"]);
      expect(collection.indexes).toEqual([]);
      expect(collection.parameters).toMatchObject({ deleted: false, version: 9, isSystem: false });
      expect(collection.parameters["cid"]).toBe(collection.parameters["id"]);
      expect(collection.parameters["globallyUniqueId"]).toMatch(/^h[0-9A-F]+\/[0-9]+$/);
      expect(collection.parameters).not.toHaveProperty("objectId");
      expect(collection.parameters).not.toHaveProperty("statusString");
    }
    expect(inventory["views"]).toEqual([]);
    const stateField = inventory["state"] as Record<string, unknown>;
    expect(Object.keys(stateField)).toEqual([
      "running",
      "lastLogTick",
      "lastUncommittedLogTick",
      "totalEvents",
      "time",
    ]);
    expect(stateField["lastLogTick"]).toBe(batch.lastTick);
    expect(String(stateField["totalEvents"])).toBe(batch.lastTick);
    expect(inventory["tick"]).toMatch(/^[0-9]+$/);

    // The inventory registers the batch's client (its serverId) at the snapshot tick.
    const clients = json(await request(url, "/_api/replication/logger-state"))["clients"];
    expect(clients).toMatchObject([{ serverId: "4711", lastServedTick: batch.lastTick }]);
  });

  it("includes system collections by default, never _frontend, _jobs only with foxx queues", async () => {
    const { url } = await start();
    const batch = await createBatch(url);
    const names = async (query: string) =>
      (
        json(await request(url, `/_api/replication/inventory?batchId=${batch.id}${query}`))[
          "collections"
        ] as { parameters: { name: string } }[]
      ).map((collection) => collection.parameters.name);
    const all = await names("");
    expect(all).toContain("_users");
    expect(all).not.toContain("_frontend");
    expect(all).not.toContain("_jobs");
    expect(await names("&includeFoxxQueues=true")).toContain("_jobs");
    expect(await names("&includeSystem=false")).toEqual([]);
  });

  it("builds a global inventory on _system and refuses it elsewhere", async () => {
    const { state, url } = await start();
    const other = state.createDatabase("other");
    createCollection(state, "there", other);
    const batch = await createBatch(url);
    const global = json(
      await request(
        url,
        `/_api/replication/inventory?batchId=${batch.id}&global=true&includeSystem=false`,
      ),
    );
    expect(Object.keys(global)).toEqual(["databases", "state", "tick"]);
    const databases = global["databases"] as Record<string, { collections: unknown[] }>;
    expect(Object.keys(databases)).toEqual(["_system", "other"]);
    expect(databases["other"]?.collections).toHaveLength(1);

    const refused = await request(
      url,
      `/_db/other/_api/replication/inventory?batchId=${batch.id}&global=true`,
    );
    expect(refused.status).toBe(403);
    expect(json(refused)).toMatchObject({ errorNum: 11 });
  });

  it("answers 404/1600 without or with an unknown batchId", async () => {
    const { url } = await start();
    const missing = await request(url, "/_api/replication/inventory");
    expect(json(missing)).toEqual({
      code: 404,
      error: true,
      errorMessage: "batchId not specified",
      errorNum: 1600,
    });
    const unknown = await request(url, "/_api/replication/inventory?batchId=99999");
    expect(json(unknown)).toEqual({
      code: 404,
      error: true,
      errorMessage: "context was not found",
      errorNum: 1600,
    });
  });
});
