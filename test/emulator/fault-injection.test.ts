/**
 * The emulator's test-only fault surface (DESIGN.md §9): latency, injected status codes, torn
 * bodies and dropped connections as a client sees them, the `/_emulator/*` control routes (only
 * with `controlApi: true`), and restarts with and without the data.
 */
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type Emulator, type StartOptions, startEmulator } from "../../src/emulator/emulator.js";
import {
  ROOT,
  createCollection,
  header,
  insert,
  json,
  markersOf,
  request,
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

/** A GET with node:http that reports what arrived before the connection ended, however it ended. */
function rawGet(
  url: string,
  path: string,
): Promise<{ status: number | undefined; declared: number; received: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let declared = -1;
    let settled = false;
    const finish = (complete: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ status, declared, received: Buffer.concat(chunks), complete });
    };
    const req = http.get(
      `${url}${path}`,
      { headers: { authorization: ROOT }, agent: false },
      (res) => {
        status = res.statusCode;
        declared = Number(res.headers["content-length"] ?? -1);
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => finish(res.complete));
        res.on("aborted", () => finish(false));
        res.on("error", () => finish(false));
        res.on("close", () => finish(res.complete));
      },
    );
    req.on("error", () => finish(false));
  });
}

function seed(e: Emulator): bigint {
  const items = createCollection(e.state, "items");
  const from = e.state.wal.lastSequence;
  for (let i = 0; i < 5; i++) insert(e.state, items, { _key: `k${i}`, text: "some text" });
  return from;
}

describe("fault kinds", () => {
  it("latency delays the answer", async () => {
    const e = await start();
    e.faults.add({
      pathPrefix: "/_api/wal/lastTick",
      action: { kind: "latency", ms: 300 },
      times: 1,
    });
    const started = Date.now();
    const response = await request(e.url, "/_api/wal/lastTick");
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(e.faults.list()).toEqual([]);
  });

  it("status answers with an injected error the given number of times", async () => {
    const e = await start();
    e.faults.add({
      pathPrefix: "/_api/wal/tail",
      action: { kind: "status", status: 503 },
      times: 2,
    });
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await request(e.url, "/_api/wal/tail?from=1")).status);
    expect(statuses.slice(0, 2)).toEqual([503, 503]);
    expect([200, 204]).toContain(statuses[2]);
  });

  it("tear cuts an NDJSON body: fewer bytes than content-length, last line incomplete", async () => {
    const e = await start();
    const from = seed(e);
    const intact = await request(e.url, `/_api/wal/tail?from=${from}`);
    expect(markersOf(intact.text)).toHaveLength(5);

    e.faults.add({ pathPrefix: "/_api/wal/tail", action: { kind: "tear", afterBytes: 150 } });
    const torn = await rawGet(e.url, `/_api/wal/tail?from=${from}`);
    expect(torn.status).toBe(200);
    expect(torn.complete).toBe(false);
    expect(torn.declared).toBe(intact.bytes);
    expect(torn.received.length).toBeLessThan(torn.declared);
    const text = torn.received.toString("utf8");
    expect(text.endsWith("\n")).toBe(false);
    expect(() => markersOf(text)).toThrow();
    // fetch (arangojs' transport) rejects a body that ends early.
    await expect(
      fetch(`${e.url}/_api/wal/tail?from=${from}`, { headers: { authorization: ROOT } }).then((r) =>
        r.text(),
      ),
    ).rejects.toThrow();
  });

  it("drop closes the connection before anything is sent", async () => {
    const e = await start();
    e.faults.add({ pathPrefix: "/_api/wal", action: { kind: "drop" }, times: 1 });
    const dropped = await rawGet(e.url, "/_api/wal/lastTick");
    expect(dropped.status).toBeUndefined();
    expect(dropped.received.length).toBe(0);
    expect((await request(e.url, "/_api/wal/lastTick")).status).toBe(200);
  });
});

describe("the /_emulator control routes", () => {
  it("do not exist unless controlApi is set", async () => {
    const e = await start();
    const response = await request(e.url, "/_emulator/faults", { method: "POST", body: {} });
    expect(response.status).toBe(404);
  });

  it("add, list and clear fault rules over HTTP", async () => {
    const e = await start({ controlApi: true });
    const added = await request(e.url, "/_emulator/faults", {
      method: "POST",
      body: [
        { pathPrefix: "/_api/replication/logger-state", action: { kind: "status", status: 500 } },
      ],
    });
    expect(added.status).toBe(201);
    expect(json(added)["faults"]).toHaveLength(1);
    expect((await request(e.url, "/_api/replication/logger-state")).status).toBe(500);
    expect(json(await request(e.url, "/_emulator/faults"))["faults"]).toHaveLength(1);

    const cleared = await request(e.url, "/_emulator/faults", { method: "DELETE" });
    expect(json(cleared)).toEqual({ faults: [] });
    expect((await request(e.url, "/_api/replication/logger-state")).status).toBe(200);
  });

  it("refuse malformed rules and rules that would hit the control routes", async () => {
    const e = await start({ controlApi: true });
    for (const body of [
      { pathPrefix: "/", action: { kind: "drop" } },
      { pathPrefix: "/_emulator/faults", action: { kind: "drop" } },
      { pathPrefix: "/_api", action: { kind: "explode" } },
      { pathPrefix: "/_api", action: { kind: "latency", ms: -1 } },
      { pathPrefix: "/_api", action: { kind: "status", status: 42 } },
      { pathPrefix: "/_api", action: { kind: "drop" }, times: 0 },
    ]) {
      const response = await request(e.url, "/_emulator/faults", { method: "POST", body });
      expect(response.status).toBe(400);
    }
    expect(e.faults.list()).toEqual([]);
  });
});

describe("restart", () => {
  /** Requests after a restart go on new connections: fetch's pool may still hold a cut one. */
  const FRESH = { newConnection: true } as const;

  it("keepState: same data and WAL; batches, clients and tokens are lost", async () => {
    const e = await start({ controlApi: true });
    const from = seed(e);
    const before = await request(e.url, `/_api/wal/tail?from=${from}&syncerId=5`);
    const batch = json(
      await request(e.url, "/_api/replication/batch", { method: "POST", body: {} }),
    );
    const token = e.http.issueToken("root");
    const bearer = `Bearer ${token}`;
    expect((await request(e.url, "/_api/wal/lastTick", { authorization: bearer })).status).toBe(
      200,
    );
    e.faults.add({ pathPrefix: "/_api/version", action: { kind: "status", status: 502 } });
    const url = e.url;
    const frontBefore = e.http;

    const answer = await request(url, "/_emulator/restart", {
      method: "POST",
      body: { keepState: true },
    });
    expect(answer.status).toBe(202);
    // The restart is done when a new HTTP front listens.
    const deadline = Date.now() + 10_000;
    while (e.http === frontBefore && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(e.http).not.toBe(frontBefore);
    expect(e.replication.batches.size).toBe(0);

    expect(e.url).toBe(url);
    const after = await request(url, `/_api/wal/tail?from=${from}`, FRESH);
    expect(after.text).toBe(before.text);
    expect(header(after, "x-arango-replication-lasttick")).toBe(
      header(before, "x-arango-replication-lasttick"),
    );
    const inventory = await request(
      url,
      `/_api/replication/inventory?batchId=${String(batch["id"])}`,
      FRESH,
    );
    expect(inventory.status).toBe(404);
    expect(json(await request(url, "/_api/replication/logger-state", FRESH))["clients"]).toEqual(
      [],
    );
    expect(
      (await request(url, "/_api/wal/lastTick", { authorization: bearer, ...FRESH })).status,
    ).toBe(401);
    // Fault rules are emulator settings, not server state.
    expect((await request(url, "/_api/version", FRESH)).status).toBe(502);
  });

  it("without keepState: a fresh, empty server with a new server id on the same URL", async () => {
    const e = await start();
    seed(e);
    const oldServerId = e.state.serverId;
    const oldLastTick = e.state.wal.lastSequence;
    await e.restart({ keepState: false });
    const lastTick = json(await request(e.url, "/_api/wal/lastTick", FRESH));
    expect(lastTick["server"]).toMatchObject({ serverId: e.state.serverId.toString() });
    expect(e.state.serverId).not.toBe(oldServerId);
    expect(BigInt(String(lastTick["tick"]))).toBeLessThan(oldLastTick);
    expect(e.state.database("_system").findCollection("items")).toBeUndefined();
  });

  it("cuts open connections of a running request", async () => {
    const e = await start();
    e.faults.add({
      pathPrefix: "/_api/wal/lastTick",
      action: { kind: "latency", ms: 500 },
      times: 1,
    });
    const pending = rawGet(e.url, "/_api/wal/lastTick");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await e.restart();
    const cut = await pending;
    expect(cut.complete).toBe(false);
    expect((await request(e.url, "/_api/wal/lastTick", FRESH)).status).toBe(200);
  });
});
