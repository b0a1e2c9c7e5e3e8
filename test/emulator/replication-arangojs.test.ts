/**
 * The replication routes through the unchanged arangojs driver (arangodb-protocol.md §14), with
 * `db.request(…, false)` as the daemon's source uses it: a dump content type arrives as a string,
 * a 204 without a body, errors as ArangoError with errorNum.
 */
import { Database } from "arangojs";
import type { ProcessedResponse } from "arangojs/connection";
import { isArangoError } from "arangojs/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import { createCollection, insert, markersOf } from "./replication-helpers.js";

let emulator: Emulator;
let db: Database;
beforeEach(async () => {
  emulator = await startEmulator({ port: 0 });
  db = new Database({
    url: emulator.url,
    databaseName: "_system",
    auth: { username: "root", password: "" },
  });
});
afterEach(async () => {
  db.close();
  await emulator.close();
});

function send(
  method: string,
  pathname: string,
  options: { search?: Record<string, string>; body?: unknown } = {},
): Promise<ProcessedResponse> {
  return db.request({ method, pathname, ...options }, false);
}

describe("replication through arangojs requests", () => {
  it("snapshots with batch, inventory and dump, then tails from the batch tick", async () => {
    const { state } = emulator;
    const items = createCollection(state, "items");
    insert(state, items, { _key: "one", value: 1 });

    const batch = await send("POST", "/_api/replication/batch", {
      body: { ttl: 600 },
      search: { syncerId: "123" },
    });
    const { id, lastTick } = batch.parsedBody as { id: string; lastTick: string };

    const inventory = await send("GET", "/_api/replication/inventory", {
      search: { batchId: id, includeSystem: "false" },
    });
    const collections = (
      inventory.parsedBody as { collections: { parameters: { name: string } }[] }
    ).collections;
    expect(collections.map((collection) => collection.parameters.name)).toEqual(["items"]);

    const dump = await send("GET", "/_api/replication/dump", {
      search: { batchId: id, collection: "items", useEnvelope: "false" },
    });
    expect(dump.status).toBe(200);
    expect(typeof dump.parsedBody).toBe("string");
    expect(markersOf(dump.parsedBody as string)).toMatchObject([{ _key: "one", value: 1 }]);
    expect(dump.headers.get("x-arango-replication-checkmore")).toBe("false");

    insert(state, items, { _key: "two", value: 2 });
    const tail = await send("GET", "/_api/wal/tail", {
      search: { from: lastTick, syncerId: "123", chunkSize: "1048576" },
    });
    expect(tail.status).toBe(200);
    expect(markersOf(tail.parsedBody as string)).toMatchObject([
      { type: 2300, data: { _key: "two" } },
    ]);
    const lastIncluded = tail.headers.get("x-arango-replication-lastincluded") ?? "";

    const empty = await send("GET", "/_api/wal/tail", {
      search: { from: lastIncluded, syncerId: "123" },
    });
    expect(empty.status).toBe(204);
    expect(empty.parsedBody).toBeUndefined();

    const deleted = await send("DELETE", `/_api/replication/batch/${id}`);
    expect(deleted.status).toBe(204);
  });

  it("surfaces errors as ArangoError with the server's errorNum", async () => {
    const error: unknown = await send("GET", "/_api/wal/tail", {
      search: { from: "10", to: "1" },
    }).catch((caught: unknown) => caught);
    expect(isArangoError(error)).toBe(true);
    expect(error).toMatchObject({ errorNum: 400, code: 400, message: "invalid from/to values" });
  });
});
