/**
 * Request validation and error answers of the replication routes, as RestWalAccessHandler.cpp,
 * SyncerId.cpp and RestReplicationHandler.cpp produce them (arangodb-protocol.md §2, §4.1, §4.2,
 * §16): `{"code","error","errorMessage","errorNum"}` bodies with the source's status codes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import { header, json, request } from "./replication-helpers.js";

let emulator: Emulator;
beforeEach(async () => {
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
});

async function expectError(
  path: string,
  status: number,
  errorNum: number,
  errorMessage: string,
  init: Parameters<typeof request>[2] = {},
): Promise<void> {
  const response = await request(emulator.url, path, init);
  expect(response.status).toBe(status);
  expect(header(response, "content-type")).toBe("application/json");
  expect(json(response)).toEqual({ code: status, error: true, errorMessage, errorNum });
}

describe("wal/tail parameters", () => {
  it("rejects from > to and to = 0 with 400 'invalid from/to values'", async () => {
    await expectError("/_api/wal/tail?from=10&to=5", 400, 400, "invalid from/to values");
    await expectError("/_api/wal/tail?to=0", 400, 400, "invalid from/to values");
  });

  it.each([
    ["", "syncerId, if set, must not be empty"],
    ["abc", "syncerId must be an integer"],
    ["-5", "syncerId must be an integer"],
    ["0", "syncerId must be non-zero"],
    ["0123", "syncerId must not begin with zero"],
    ["18446744073709551616", "syncerId is too large: stoull"],
  ])("rejects syncerId=%j with 400/10", async (value, message) => {
    await expectError(`/_api/wal/tail?from=1&syncerId=${value}`, 400, 10, message);
  });

  it("accepts the largest syncerId and registers it", async () => {
    const response = await request(
      emulator.url,
      "/_api/wal/tail?from=1&syncerId=18446744073709551615",
    );
    expect([200, 204]).toContain(response.status);
    const state = json(await request(emulator.url, "/_api/replication/logger-state"));
    expect(state["clients"]).toMatchObject([{ syncerId: "18446744073709551615", serverId: "0" }]);
  });

  it("reads malformed ticks as 0, like StringUtils::uint64", async () => {
    const response = await request(emulator.url, "/_api/wal/tail?from=abc&includeSystem=true");
    expect(response.status).toBe(200);
    expect(header(response, "x-arango-replication-frompresent")).toBe("false");
  });

  it("requires a JSON array of string ids as the body of PUT", async () => {
    const ok = await request(emulator.url, "/_api/wal/tail?from=1", { method: "PUT", body: [] });
    expect([200, 204]).toContain(ok.status);
    await expectError("/_api/wal/tail?from=1", 400, 400, "invalid body value. expecting array", {
      method: "PUT",
      body: { not: "an array" },
    });
    await expectError(
      "/_api/wal/tail?from=1",
      400,
      400,
      "invalid body value. expecting array of ids",
      { method: "PUT", body: [1, 2] },
    );
  });
});

describe("wal access rights and paths", () => {
  it("answers 403/11 to users that are not admins", async () => {
    emulator.state.createUser("reader", { passwd: "secret" });
    emulator.state.grantDatabase("reader", "_system", "ro");
    const authorization = `Basic ${Buffer.from("reader:secret").toString("base64")}`;
    for (const path of ["/_api/wal/tail?from=1", "/_api/wal/lastTick", "/_api/wal/range"]) {
      await expectError(path, 403, 11, "forbidden", { authorization });
    }
    // logger-state only needs database access.
    const state = await request(emulator.url, "/_api/replication/logger-state", { authorization });
    expect(state.status).toBe(200);
  });

  it("answers unknown sub-paths and wrong methods with 400, as the source does", async () => {
    const expected = "expected GET _api/wal/[tail|range|lastTick|open-transactions]>";
    await expectError("/_api/wal/nothing", 400, 400, expected);
    await expectError("/_api/wal/tail", 400, 400, expected, { method: "POST", body: {} });
    await expectError("/_api/wal/lastTick", 400, 400, expected, { method: "DELETE" });
    await expectError("/_api/wal", 400, 400, "expected GET _api/wal/[tail|range|lastTick]>");
  });

  it("answers open-transactions with 204 and nothing included (RocksDB)", async () => {
    const response = await request(emulator.url, "/_api/wal/open-transactions");
    expect(response.status).toBe(204);
    expect(header(response, "x-arango-replication-frompresent")).toBe("true");
    expect(header(response, "x-arango-replication-lastincluded")).toBe("0");
  });

  it("answers 501/1470 when emulating a coordinator", async () => {
    const coordinator = await startEmulator({ port: 0, replication: { coordinator: true } });
    try {
      const response = await request(coordinator.url, "/_api/wal/tail?from=1");
      expect(response.status).toBe(501);
      expect(json(response)).toMatchObject({
        errorNum: 1470,
        errorMessage: "'/_api/wal' is not yet supported in a cluster",
      });
    } finally {
      await coordinator.close();
    }
  });
});

describe("replication commands", () => {
  it.each([
    "logger-follow",
    "logger-first-tick",
    "logger-tick-ranges",
    "server-id",
    "applier-state",
  ])("answers %s, removed in 3.12.10, like an unknown command", async (command) => {
    await expectError(`/_api/replication/${command}`, 400, 400, `invalid command '${command}'`);
  });

  it("serves the cheap legacy commands when asked to emulate an older version", async () => {
    const legacy = await startEmulator({ port: 0, replication: { legacyReplicationApi: true } });
    try {
      const firstTick = json(await request(legacy.url, "/_api/replication/logger-first-tick"));
      expect(firstTick).toEqual({ firstTick: "1" });
      const serverId = json(await request(legacy.url, "/_api/replication/server-id"));
      expect(serverId).toEqual({ serverId: legacy.state.serverId.toString() });
      const ranges = JSON.parse(
        (await request(legacy.url, "/_api/replication/logger-tick-ranges")).text,
      ) as Record<string, unknown>[];
      expect(ranges[ranges.length - 1]).toMatchObject({
        status: "open",
        tickMax: legacy.state.wal.lastSequence.toString(),
      });
      const follow = await request(legacy.url, "/_api/replication/logger-follow");
      expect(follow.status).toBe(400);
    } finally {
      await legacy.close();
    }
  });

  it("answers a wrong method with 405, or 400/601 when there are extra suffixes", async () => {
    await expectError("/_api/replication/logger-state", 405, 405, "method not supported", {
      method: "POST",
      body: {},
    });
    await expectError(
      "/_api/replication/inventory/extra",
      400,
      601,
      "expecting URL /_api/replication/<command>",
      { method: "POST", body: {} },
    );
    await expectError("/_api/replication/batch", 405, 405, "method not supported", {
      method: "PUT",
      body: {},
    });
    await expectError("/_api/replication", 400, 601, "expecting URL /_api/replication/<command>");
  });

  it("answers clusterInventory on a single server with 403/1471", async () => {
    const response = await request(emulator.url, "/_api/replication/clusterInventory");
    expect(response.status).toBe(403);
    expect(json(response)).toMatchObject({ errorNum: 1471 });
  });
});
