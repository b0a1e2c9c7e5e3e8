/**
 * `persistPath`: an emulator started again from its file serves the same databases, documents
 * and retained WAL, so a tail from a tick taken before the restart returns identical markers.
 */
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import { decodeRevision } from "../../src/source/revision.js";
import {
  createCollection,
  insert,
  insertMany,
  json,
  markersOf,
  remove,
  request,
  streamTransaction,
  tailAll,
  update,
} from "./replication-helpers.js";

/** A `_rev` as its hybrid-logical-clock value; fails the test when it does not decode. */
function revisionValue(rev: string): bigint {
  const value = decodeRevision(rev);
  if (value === undefined) throw new Error(`not a revision: ${rev}`);
  return value;
}

let directory: string;
let emulator: Emulator | undefined;
beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), "emulator-persistence-"));
});
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await rm(directory, { recursive: true, force: true });
});

describe("persistence across emulator processes", () => {
  it("restarts from the file with the same data, WAL and markers", async () => {
    const persistPath = path.join(directory, "state.json");
    const first = await startEmulator({ port: 0, persistPath, persistIntervalMs: 3_600_000 });
    emulator = first;
    const { state } = first;
    const from = state.wal.lastSequence;
    const items = createCollection(state, "items");
    const edges = createCollection(state, "links", undefined, 3);
    insert(state, items, { _key: "a", nested: { x: 1 } });
    insertMany(state, items, [{ _key: "b" }, { _key: "c" }]);
    update(state, items, "a", { nested: { y: 2 }, more: "yes" });
    remove(state, items, "b");
    insert(state, edges, { _key: "e", _from: "items/a", _to: "items/c" });
    streamTransaction(state, items, (put) => put({ _key: "t" }));
    const other = state.database("_system");
    const dropped = createCollection(state, "dropped", other);
    insert(state, dropped, { _key: "z" });
    state.dropCollection(dropped);
    state.renameCollection(edges, "renamed");
    const other2 = state.createDatabase("second");
    insert(state, createCollection(state, "there", other2), { _key: "s" });

    const before = await tailAll(first.url, from, { global: "true", includeSystem: "true" });
    const beforeState = json(await request(first.url, "/_api/replication/logger-state"));
    const serverId = state.serverId;
    const documents = [...items.documents.values()];
    await first.close();
    emulator = undefined;
    // Written atomically: only the final file is left behind.
    expect(await readdir(directory)).toEqual(["state.json"]);
    expect(JSON.parse(await readFile(persistPath, "utf8"))).toMatchObject({
      format: "arango-emulator-state/1",
    });

    const second = await startEmulator({ port: 0, persistPath, persistIntervalMs: 3_600_000 });
    emulator = second;
    expect(second.state.serverId).toBe(serverId);
    const after = await tailAll(second.url, from, { global: "true", includeSystem: "true" });
    expect(after.responses.map((response) => response.text)).toEqual(
      before.responses.map((response) => response.text),
    );
    expect(after.markers.length).toBeGreaterThan(10);
    const afterState = json(await request(second.url, "/_api/replication/logger-state"));
    expect(afterState["state"]).toMatchObject({
      lastLogTick: (beforeState["state"] as Record<string, unknown>)["lastLogTick"],
    });

    const restored = second.state.database("_system").collection("items");
    expect([...restored.documents.values()]).toEqual(documents);
    expect(second.state.database("_system").findCollection("renamed")?.type).toBe(3);
    expect(second.state.database("second").findCollection("there")?.documents.size).toBe(1);

    // New writes continue the tick sequence and ids without reusing any.
    const lastTick = second.state.wal.lastSequence;
    const fresh = createCollection(second.state, "fresh");
    expect(BigInt(fresh.id)).toBeGreaterThan(BigInt(items.id));
    const next = insert(second.state, restored, { _key: "new" });
    // Revision order is the order of the decoded clock values: the base-64 alphabet is not in
    // ASCII order ("_" sorts after "A" in it, before it as text) and lengths may differ.
    const newest = documents
      .map((document) => revisionValue(document._rev))
      .reduce((a, b) => (b > a ? b : a), 0n);
    expect(revisionValue(next._rev)).toBeGreaterThan(newest);
    const tail = await request(second.url, `/_api/wal/tail?from=${lastTick}`);
    expect(markersOf(tail.text).map((marker) => marker.type)).toEqual([2000, 2300]);
  });

  it("starts a fresh server when the file does not exist yet, and saves on demand", async () => {
    const persistPath = path.join(directory, "new.json");
    emulator = await startEmulator({ port: 0, persistPath, persistIntervalMs: 3_600_000 });
    expect(emulator.state.wal.firstSequence).toBe(1n);
    await emulator.save();
    const saved = JSON.parse(await readFile(persistPath, "utf8")) as { lastSequence: string };
    expect(saved.lastSequence).toBe(emulator.state.wal.lastSequence.toString());
  });
});
