/**
 * arangojs drives the emulator through server information and database management with the
 * results and errors of an ArangoDB 3.12 single server (RestVersionHandler, RestDatabaseHandler).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Running, expectArangoError, startWithArangojs, stop } from "./arangojs-helpers.js";

describe("arangojs against the emulator: version and databases", () => {
  let running: Running | undefined;
  const db = () => {
    if (running === undefined) throw new Error("not started");
    return running.db;
  };

  beforeEach(async () => {
    running = await startWithArangojs();
  });
  afterEach(async () => {
    await stop(running);
    running = undefined;
  });

  it("reports the server version, with details on request", async () => {
    expect(await db().version()).toEqual({
      server: "arango",
      version: "3.12.10",
      license: "community",
    });
    const detailed = await db().version(true);
    expect(detailed.details).toMatchObject({ role: "SINGLE", mode: "server" });
  });

  it("creates, lists, describes and drops databases", async () => {
    expect(await db().listDatabases()).toEqual(["_system"]);
    const app = await db().createDatabase("atspro");
    expect(app.name).toBe("atspro");
    expect(await db().listDatabases()).toEqual(["_system", "atspro"]);
    expect(await db().listUserDatabases()).toEqual(["_system", "atspro"]);
    const info = await app.get();
    expect(info).toMatchObject({ name: "atspro", isSystem: false });
    expect(typeof info.id).toBe("string");
    expect(await app.exists()).toBe(true);
    expect(await db().get()).toMatchObject({ name: "_system", id: "1", isSystem: true });

    expect(await db().dropDatabase("atspro")).toBe(true);
    expect(await app.exists()).toBe(false);
    expect(await db().listDatabases()).toEqual(["_system"]);
  });

  it("refuses a duplicate database with 409/1207", async () => {
    await db().createDatabase("atspro");
    await expectArangoError(db().createDatabase("atspro"), {
      errorNum: 1207,
      code: 409,
      message: "duplicate database name 'atspro'",
    });
  });

  it("refuses an invalid database name with 400/1229", async () => {
    await expectArangoError(db().createDatabase("1-starts-with-a-digit"), {
      errorNum: 1229,
      code: 400,
      message: "database name invalid",
    });
  });

  it("answers 404/1228 for a database that does not exist", async () => {
    await expectArangoError(db().dropDatabase("missing"), { errorNum: 1228, code: 404 });
    await expectArangoError(db().database("missing").get(), { errorNum: 1228, code: 404 });
    expect(await db().database("missing").exists()).toBe(false);
  });

  it("manages databases only from _system (403/1230)", async () => {
    const app = await db().createDatabase("atspro");
    await expectArangoError(app.createDatabase("other"), {
      errorNum: 1230,
      code: 403,
      message: "operation only allowed in system database",
    });
    await expectArangoError(app.listDatabases(), { errorNum: 1230, code: 403 });
    await expectArangoError(app.dropDatabase("atspro"), { errorNum: 1230, code: 403 });
  });

  it("does not let the _system database be dropped", async () => {
    await expectArangoError(db().dropDatabase("_system"), { errorNum: 11, code: 403 });
  });
});
