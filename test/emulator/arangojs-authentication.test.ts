/**
 * Authentication and users on the emulator: basic auth, `POST /_open/auth` tokens used as
 * bearer auth (RestAuthHandler), 401 without valid credentials, and a non-admin user created
 * through `/_api/user`, who may use the databases granted to it but not admin APIs.
 */
import { Database } from "arangojs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Running,
  expectArangoError,
  send,
  startWithArangojs,
  stop,
} from "./arangojs-helpers.js";

describe("arangojs against the emulator: authentication and users", () => {
  let running: Running;
  const connections: Database[] = [];

  const connect = (
    auth: { username: string; password: string } | { token: string },
    name = "_system",
  ) => {
    const db = new Database({ url: running.emulator.url, databaseName: name, auth });
    connections.push(db);
    return db;
  };

  beforeEach(async () => {
    running = await startWithArangojs({ rootPassword: "s3cret" });
  });
  afterEach(async () => {
    for (const db of connections.splice(0)) db.close();
    await stop(running);
  });

  it("accepts basic auth and refuses a wrong password or no credentials with 401", async () => {
    expect((await running.db.version()).server).toBe("arango");
    await expectArangoError(connect({ username: "root", password: "wrong" }).version(), {
      errorNum: 401,
      code: 401,
      message: "not authorized to execute this request",
    });
    // arangojs always sends credentials (root with an empty password by default); a plain
    // request without any is refused the same way.
    const response = await fetch(`${running.emulator.url}/_api/version`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      code: 401,
      error: true,
      errorMessage: "not authorized to execute this request",
      errorNum: 401,
    });
  });

  it("logs in for a token that works as bearer auth", async () => {
    const session = connect({ username: "root", password: "" });
    const token = await session.login("root", "s3cret");
    expect(typeof token).toBe("string");
    expect(token.length).toBeGreaterThan(10);
    expect((await session.version()).server).toBe("arango");
    expect(await connect({ token }).listDatabases()).toEqual(["_system"]);
    expect(await session.renewAuthToken()).toBeNull();
    await expectArangoError(connect({ token: "not-a-token" }).version(), {
      errorNum: 401,
      code: 401,
    });
    await expectArangoError(connect({ username: "root", password: "" }).login("root", "nope"), {
      errorNum: 401,
      code: 401,
      message: "Wrong credentials",
    });
  });

  it("gives a non-admin user the databases granted to it and refuses admin APIs", async () => {
    const app = await running.db.createDatabase("atspro");
    await app.createCollection("resumes");
    const created = await running.db.createUser("daemon", { passwd: "pw" });
    expect(created).toMatchObject({ user: "daemon", active: true, code: 201, error: false });
    await expectArangoError(running.db.createUser("daemon", { passwd: "pw" }), {
      errorNum: 1702,
      code: 409,
    });

    const asDaemon = connect({ username: "daemon", password: "pw" }, "atspro");
    // No permission yet: the database cannot be used at all.
    await expectArangoError(asDaemon.collection("resumes").count(), { errorNum: 401, code: 401 });

    await running.db.setUserAccessLevel("daemon", { database: "atspro" }, "rw");
    expect(await running.db.getUserAccessLevel("daemon", { database: "atspro" })).toBe("rw");
    expect(await asDaemon.collection("resumes").save({ _key: "d1" })).toMatchObject({ _key: "d1" });
    expect(await asDaemon.listUserDatabases()).toEqual(["atspro"]);

    const daemonSystem = connect({ username: "daemon", password: "pw" });
    await expectArangoError(daemonSystem.version(), { errorNum: 401, code: 401 });
    // Its own user entry stays readable without access to _system.
    expect(await daemonSystem.getUser("daemon")).toMatchObject({ user: "daemon", active: true });
    await running.db.setUserAccessLevel("daemon", { database: "_system" }, "ro");
    expect((await daemonSystem.version()).server).toBe("arango");
    await expectArangoError(daemonSystem.createDatabase("other"), { errorNum: 11, code: 403 });
    await expectArangoError(
      send(daemonSystem, {
        method: "PUT",
        pathname: "/_admin/server/mode",
        body: { mode: "readonly" },
      }),
      {
        errorNum: 11,
        code: 403,
      },
    );
    await expectArangoError(daemonSystem.createUser("other", { passwd: "x" }), {
      errorNum: 11,
      code: 403,
    });
    // The WAL API is for admins only (RestWalAccessHandler: 403/11).
    await expectArangoError(
      send(asDaemon, { method: "GET", pathname: "/_api/wal/tail", search: { from: "0" } }),
      {
        errorNum: 11,
        code: 403,
      },
    );
    expect(running.emulator.state.users.get("daemon")?.admin).toBe(false);

    await running.db.setUserAccessLevel("daemon", { database: "_system" }, "rw");
    expect(running.emulator.state.users.get("daemon")?.admin).toBe(true);
    const tail = await send(asDaemon, {
      method: "GET",
      pathname: "/_api/wal/tail",
      search: { from: "0" },
    });
    expect([200, 204]).toContain(tail.status);
  });

  it("lets a user with read-only access read but not write (403/1004)", async () => {
    const app = await running.db.createDatabase("atspro");
    const resumes = await app.createCollection("resumes");
    await resumes.save({ _key: "r1" });
    await running.db.createUser("reader", { passwd: "pw" });
    await running.db.setUserAccessLevel("reader", { database: "atspro" }, "ro");
    const asReader = connect({ username: "reader", password: "pw" }, "atspro");
    expect(await asReader.collection("resumes").document("r1")).toMatchObject({ _key: "r1" });
    await expectArangoError(asReader.collection("resumes").save({}), {
      errorNum: 1004,
      code: 403,
      message: "read only: resumes [write]",
    });
  });
});
