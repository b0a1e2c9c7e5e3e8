/**
 * What `GET /_api/wal/tail` leaves out (arangodb-protocol.md §7.4; WalAccess.cpp
 * shouldHandleDB/shouldHandleCollection, TRI_ExcludeCollectionReplication): data of collections
 * dropped before the read, system collections, other collections with `collection=`, other
 * databases, and `global=true` from `_system`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import {
  createCollection,
  insert,
  insertMany,
  json,
  markersOf,
  request,
  systemDatabase,
  update,
} from "./replication-helpers.js";

let emulator: Emulator;
beforeEach(async () => {
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
});

async function tail(query: string, database = "_system") {
  return request(emulator.url, `/_db/${database}/_api/wal/tail?${query}`);
}

describe("collections gone at read time", () => {
  it("skips the data of a collection dropped before the read; only its 2001 remains", async () => {
    const { state } = emulator;
    const from = state.wal.lastSequence;
    const kept = createCollection(state, "kept");
    const gone = createCollection(state, "gone");
    insert(state, kept, { _key: "k" });
    insert(state, gone, { _key: "g" });
    insertMany(state, gone, [{ _key: "g2" }, { _key: "g3" }]);
    state.dropCollection(gone);

    const markers = markersOf((await tail(`from=${from}`)).text);
    const goneMarkers = markers.filter((m) => m["cuid"] === gone.globallyUniqueId);
    expect(goneMarkers.map((m) => m.type)).toEqual([2001]);
    expect(markers.filter((m) => m["cuid"] === kept.globallyUniqueId).map((m) => m.type)).toEqual([
      2000, 2300,
    ]);
    // The transaction of the dropped collection still shows its begin and commit markers.
    expect(markers.filter((m) => m.type === 2200)).toHaveLength(1);
    expect(markers.filter((m) => m.type === 2201)).toHaveLength(1);
  });

  it("resolves names and _id against the current catalog after a rename", async () => {
    const { state } = emulator;
    const from = state.wal.lastSequence;
    const before = createCollection(state, "before");
    insert(state, before, { _key: "x" });
    state.renameCollection(before, "after");
    const markers = markersOf((await tail(`from=${from}`)).text);
    const document = markers.find((m) => m.type === 2300);
    expect((document?.["data"] as { _id: string })._id).toBe("after/x");
    const rename = markers.find((m) => m.type === 2002);
    expect(rename?.["data"]).toEqual({ name: "after" });
    expect(Object.keys(rename ?? {})).toEqual(["tick", "db", "cuid", "type", "data"]);
  });
});

describe("system collections", () => {
  it("leaves _-collections out unless includeSystem=true; _jobs needs includeFoxxQueues", async () => {
    const { state } = emulator;
    const database = systemDatabase(state);
    const from = state.wal.lastSequence;
    insert(state, database.collection("_users"), { _key: "u1", user: "someone" });
    insert(state, database.collection("_jobs"), { _key: "j1" });
    insert(state, database.collection("_frontend"), { _key: "f1" });
    const names = (text: string) =>
      markersOf(text).map((m) => (m["data"] as { _id: string })._id.split("/")[0]);

    expect((await tail(`from=${from}`)).status).toBe(204);
    expect(names((await tail(`from=${from}&includeSystem=true`)).text)).toEqual(["_users"]);
    expect(
      names((await tail(`from=${from}&includeSystem=true&includeFoxxQueues=true`)).text),
    ).toEqual(["_users", "_jobs"]);
    // _frontend is never replicated.
    expect(
      names((await tail(`from=${from}&includeSystem=yes&includeFoxxQueues=1`)).text),
    ).not.toContain("_frontend");
  });
});

describe("collection= filter", () => {
  it("keeps one collection's markers, the transaction frame and drops of others", async () => {
    const { state } = emulator;
    const a = createCollection(state, "a");
    const b = createCollection(state, "b");
    const from = state.wal.lastSequence;
    insert(state, a, { _key: "a1" });
    insert(state, b, { _key: "b1" });
    update(state, a, "a1", { more: true, again: 1 });
    insertMany(state, b, [{ _key: "b2" }]);
    const c = createCollection(state, "c");
    state.dropCollection(c);

    for (const value of ["a", a.id, a.globallyUniqueId]) {
      const markers = markersOf(
        (await tail(`from=${from}&collection=${encodeURIComponent(value)}`)).text,
      );
      expect(markers.map((m) => m.type)).toEqual([2300, 2300, 2200, 2201, 2001]);
      expect(
        markers.filter((m) => m.type === 2300).every((m) => m["cuid"] === a.globallyUniqueId),
      ).toBe(true);
    }
  });

  it("answers 404/1203 for an unknown collection", async () => {
    for (const value of ["nope", "", "424242"]) {
      const response = await tail(`from=0&collection=${value}`);
      expect(response.status).toBe(404);
      expect(json(response)).toMatchObject({ error: true, errorNum: 1203, code: 404 });
    }
  });
});

describe("databases", () => {
  it("tails one database per request; global=true on _system sees all", async () => {
    const { state } = emulator;
    const from = state.wal.lastSequence;
    const other = state.createDatabase("other");
    const inOther = createCollection(state, "things", other);
    const inSystem = createCollection(state, "things");
    insert(state, inOther, { _key: "o" });
    insert(state, inSystem, { _key: "s" });

    const otherMarkers = markersOf((await tail(`from=${from}`, "other")).text);
    expect(otherMarkers.length).toBeGreaterThan(0);
    expect(otherMarkers.every((m) => m["db"] === "other")).toBe(true);
    expect(otherMarkers.some((m) => m["cuid"] === inOther.globallyUniqueId)).toBe(true);
    expect(otherMarkers.some((m) => m.type === 1100)).toBe(true);

    const systemMarkers = markersOf((await tail(`from=${from}`)).text);
    expect(systemMarkers.every((m) => m["db"] === "_system")).toBe(true);
    expect(systemMarkers.map((m) => m["cuid"])).toContain(inSystem.globallyUniqueId);

    const global = markersOf((await tail(`from=${from}&global=true`)).text);
    expect(new Set(global.map((m) => m["db"]))).toEqual(new Set(["_system", "other"]));
    expect(global.find((m) => m.type === 1100)).toMatchObject({
      db: "other",
      data: { id: other.id, name: "other" },
    });

    state.dropDatabase("other");
    const afterDrop = markersOf((await tail(`from=${from}&global=true`)).text);
    expect(afterDrop.filter((m) => m["db"] === "other").map((m) => m.type)).toEqual([1101]);
  });

  it("refuses global tailing outside _system with 403/11", async () => {
    emulator.state.createDatabase("other");
    const response = await tail("from=0&global=true", "other");
    expect(response.status).toBe(403);
    expect(json(response)).toEqual({
      code: 403,
      error: true,
      errorMessage: "global tailing is only possible from within _system database",
      errorNum: 11,
    });
  });
});
