/**
 * WAL retention (arangodb-protocol.md §4.3 last bullet, §6.2, §11; ReplicationClients.cpp,
 * RocksDBBackgroundThread.cpp, RocksDBEngine.cpp determinePrunableWalFiles/pruneWalFiles):
 * registered clients hold the WAL from their lastServedTick; unregistered or expired ones do not;
 * a forced prune makes an old `from` answer `frompresent: false` while the tail still answers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Emulator, type StartOptions, startEmulator } from "../../src/emulator/emulator.js";
import {
  createCollection,
  header,
  insert,
  json,
  markersOf,
  request,
  tickHeader,
} from "./replication-helpers.js";

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** Pruning without the start-up grace period or the file timeout; passes are run by the test. */
async function start(options: StartOptions = {}): Promise<Emulator> {
  emulator = await startEmulator({
    port: 0,
    replication: { walFileTimeoutInitialMs: 0, walFileTimeoutMs: 0, pruneIntervalMs: 3_600_000 },
    ...options,
  });
  return emulator;
}

function writeSome(e: Emulator, count: number): void {
  const items =
    e.state.database("_system").findCollection("items") ?? createCollection(e.state, "items");
  for (let i = 0; i < count; i++) insert(e.state, items, { value: i });
}

async function tickMin(url: string): Promise<bigint> {
  return BigInt(String(json(await request(url, "/_api/wal/range"))["tickMin"]));
}

describe("registered clients", () => {
  it("a tail call with a syncerId holds the WAL from its from tick", async () => {
    const e = await start();
    writeSome(e, 3);
    const from = e.state.wal.lastSequence;
    await request(e.url, `/_api/wal/tail?from=${from}&syncerId=42&clientInfo=daemon`);
    writeSome(e, 5);

    e.replication.runRetention();

    expect(await tickMin(e.url)).toBeLessThanOrEqual(from);
    const response = await request(e.url, `/_api/wal/tail?from=${from}&syncerId=42`);
    expect(header(response, "x-arango-replication-frompresent")).toBe("true");
    expect(markersOf(response.text)).toHaveLength(5);
    const clients = json(await request(e.url, "/_api/replication/logger-state"))["clients"];
    expect(clients).toMatchObject([
      { syncerId: "42", serverId: "0", clientInfo: "daemon", lastServedTick: from.toString() },
    ]);
  });

  it("registers a tail client in every database, keyed by serverId without a syncerId", async () => {
    const e = await start();
    e.state.createDatabase("other");
    await request(e.url, "/_db/other/_api/wal/tail?from=5&serverId=123");
    for (const database of ["_system", "other"]) {
      const clients = json(await request(e.url, `/_db/${database}/_api/replication/logger-state`))[
        "clients"
      ];
      expect(clients).toMatchObject([{ syncerId: "0", serverId: "123", lastServedTick: "5" }]);
    }
  });

  it("keeps the lastServedTick when a later call sends from=0", async () => {
    const e = await start();
    await request(e.url, "/_api/wal/tail?from=7&syncerId=3");
    await request(e.url, "/_api/wal/tail?from=0&syncerId=3");
    const clients = json(await request(e.url, "/_api/replication/logger-state"))["clients"];
    expect(clients).toMatchObject([{ lastServedTick: "7" }]);
  });

  it("a batch created with a syncerId holds the WAL from its snapshot tick", async () => {
    const e = await start();
    writeSome(e, 2);
    const batch = json(
      await request(e.url, "/_api/replication/batch?syncerId=8", { method: "POST", body: {} }),
    );
    writeSome(e, 4);
    e.replication.runRetention();
    const response = await request(e.url, `/_api/wal/tail?from=${String(batch["lastTick"])}`);
    expect(header(response, "x-arango-replication-frompresent")).toBe("true");
    expect(markersOf(response.text)).toHaveLength(4);
  });
});

describe("clients that do not hold the WAL", () => {
  it("an unregistered reader finds its old from pruned: frompresent false, data still served", async () => {
    const e = await start();
    writeSome(e, 3);
    const from = e.state.wal.lastSequence;
    await request(e.url, `/_api/wal/tail?from=${from}`); // no syncerId, no serverId: not tracked
    writeSome(e, 4);

    const result = e.replication.runRetention();

    expect(result.removed).toBeGreaterThan(0);
    expect(await tickMin(e.url)).toBeGreaterThan(from);
    const response = await request(e.url, `/_api/wal/tail?from=${from}`);
    expect(response.status).toBe(200);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
    // Only the newest write batch is left; its marker is still returned.
    expect(markersOf(response.text)).toHaveLength(1);
  });

  it("an expired client no longer holds the WAL", async () => {
    let now = Date.UTC(2025, 4, 23, 18, 0, 0);
    const e = await start({ now: () => now });
    writeSome(e, 2);
    const batch = json(
      await request(e.url, "/_api/replication/batch?syncerId=11", {
        method: "POST",
        body: { ttl: 30 },
      }),
    );
    writeSome(e, 3);
    e.replication.runRetention();
    expect(await tickMin(e.url)).toBeLessThanOrEqual(BigInt(String(batch["lastTick"])));

    now += 31_000;
    e.replication.runRetention();
    expect(json(await request(e.url, "/_api/replication/logger-state"))["clients"]).toEqual([]);
    expect(await tickMin(e.url)).toBeGreaterThan(BigInt(String(batch["lastTick"])));
    const response = await request(e.url, `/_api/wal/tail?from=${String(batch["lastTick"])}`);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
  });
});

describe("timeouts and forced pruning", () => {
  it("prunes nothing during wal-file-timeout-initial, and only wal-file-timeout after marking", async () => {
    let now = Date.UTC(2025, 4, 23, 18, 0, 0);
    const e = await start({
      now: () => now,
      replication: {
        walFileTimeoutInitialMs: 60_000,
        walFileTimeoutMs: 10_000,
        pruneIntervalMs: 3_600_000,
      },
    });
    writeSome(e, 3);
    expect(e.replication.runRetention().removed).toBe(0);
    now += 61_000;
    expect(e.replication.runRetention().removed).toBe(0); // marked prunable now
    now += 9_000;
    expect(e.replication.runRetention().removed).toBe(0);
    now += 2_000;
    expect(e.replication.runRetention().removed).toBeGreaterThan(0);
    expect(await tickMin(e.url)).toBeGreaterThan(1n);
  });

  it("the background timer prunes on its own with shrunk timeouts", async () => {
    const e = await start({
      replication: { walFileTimeoutInitialMs: 0, walFileTimeoutMs: 0, pruneIntervalMs: 20 },
    });
    writeSome(e, 3);
    const deadline = Date.now() + 10_000;
    while ((await tickMin(e.url)) === 1n && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await tickMin(e.url)).toBeGreaterThan(1n);
  });

  it("a forced prune ignores registered clients (issue #4692 behaviour: frompresent false)", async () => {
    const e = await start({ controlApi: true });
    writeSome(e, 2);
    const from = e.state.wal.lastSequence;
    await request(e.url, `/_api/wal/tail?from=${from}&syncerId=1`);
    writeSome(e, 3);

    const pruned = await request(e.url, "/_emulator/wal/prune", {
      method: "POST",
      body: { force: true },
    });
    expect(pruned.status).toBe(200);
    const result = json(pruned);
    expect(Number(result["removed"])).toBeGreaterThan(0);
    expect(result["tickMin"]).toBe((await tickMin(e.url)).toString());

    const response = await request(e.url, `/_api/wal/tail?from=${from}&syncerId=1`);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
    expect(tickHeader(response, "lastincluded")).toBe(e.state.wal.lastSequence - 1n);
  });

  it("pruneWal({force, below}) removes only the batches ending below the tick", async () => {
    const e = await start();
    writeSome(e, 4);
    const keepFrom = e.state.wal.lastSequence - 3n; // start of the previous insert's batch
    const result = e.pruneWal({ force: true, below: keepFrom });
    expect(result.tickMin).toBe(keepFrom);
    expect(await tickMin(e.url)).toBe(keepFrom);
  });
});
