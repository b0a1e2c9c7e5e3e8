/**
 * Read-only server mode (`PUT /_admin/server/mode`, RestAdminServerHandler): every user but the
 * superuser is capped at read-only access, so writes fail with the error of the permission check
 * that refuses them (403/1004 for data, 403/11 for databases and collections), reads go on, and
 * switching back to `default` makes writes work again.
 */
import type { Database } from "arangojs";
import type { DocumentCollection } from "arangojs/collections";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Running,
  expectArangoError,
  send,
  startWithArangojs,
  stop,
} from "./arangojs-helpers.js";

type Doc = Record<string, unknown>;

describe("arangojs against the emulator: read-only mode", () => {
  let running: Running;
  let app: Database;
  let resumes: DocumentCollection<Doc>;

  const modeRequest = (method: string, body?: unknown) =>
    send(running.db, { method, pathname: "/_admin/server/mode", body });
  const setMode = async (mode: string): Promise<unknown> =>
    (await modeRequest("PUT", { mode })).parsedBody;

  beforeEach(async () => {
    running = await startWithArangojs();
    app = await running.db.createDatabase("atspro");
    resumes = await app.createCollection<Doc>("resumes");
    await resumes.save({ _key: "r1", status: "parsed" });
  });
  afterEach(async () => {
    await stop(running);
  });

  it("reports and switches the mode", async () => {
    expect((await modeRequest("GET")).parsedBody).toEqual({
      error: false,
      code: 200,
      mode: "default",
    });
    expect(await running.db.availability()).toBe("default");
    expect(await setMode("readonly")).toEqual({ error: false, code: 200, mode: "readonly" });
    expect((await modeRequest("GET")).parsedBody).toMatchObject({ mode: "readonly" });
    expect(await running.db.availability()).toBe("readonly");
    await expectArangoError(modeRequest("PUT", { mode: "sleepy" }), {
      errorNum: 400,
      code: 400,
      message: "mode invalid",
    });
  });

  it("refuses document writes with 403/1004 and still serves reads", async () => {
    await setMode("readonly");
    const refused = { errorNum: 1004, code: 403, message: "read only: resumes [write]" };
    await expectArangoError(resumes.save({ _key: "r2" }), refused);
    await expectArangoError(resumes.saveAll([{ _key: "r2" }]), refused);
    await expectArangoError(resumes.update("r1", { status: "x" }), refused);
    await expectArangoError(resumes.replace("r1", {}), refused);
    await expectArangoError(resumes.remove("r1"), refused);
    await expectArangoError(resumes.truncate(), {
      errorNum: 1004,
      code: 403,
      message: "read only: resumes [exclusive]",
    });
    expect(await resumes.document("r1")).toMatchObject({ status: "parsed" });
    expect((await resumes.count()).count).toBe(1);
  });

  it("refuses catalog changes with 403/11", async () => {
    await setMode("readonly");
    await expectArangoError(app.createCollection("jobs"), {
      errorNum: 11,
      code: 403,
      message: "cannot create collection in atspro",
    });
    await expectArangoError(resumes.drop(), { errorNum: 11, code: 403 });
    await expectArangoError(running.db.createDatabase("other"), { errorNum: 11, code: 403 });
    await expectArangoError(running.db.dropDatabase("atspro"), { errorNum: 11, code: 403 });
  });

  it("refuses stream transactions that write, at begin or at commit", async () => {
    const open = await app.beginTransaction({ write: resumes });
    await open.step(() => resumes.save({ _key: "t1" }));
    await setMode("readonly");
    await expectArangoError(app.beginTransaction({ write: resumes }), {
      errorNum: 1004,
      code: 403,
      message: "read only: resumes [write]",
    });
    const reading = await app.beginTransaction({ read: resumes });
    expect(await reading.commit()).toMatchObject({ status: "committed" });
    await expectArangoError(open.commit(), {
      errorNum: 1004,
      code: 403,
      message: "server is in read-only mode",
    });
    expect(await open.get()).toMatchObject({ status: "aborted" });
    await setMode("default");
    expect(await resumes.documentExists("t1")).toBe(false);
  });

  it("accepts writes again after switching back to default", async () => {
    await setMode("readonly");
    await expectArangoError(resumes.save({ _key: "r2" }), { errorNum: 1004, code: 403 });
    expect(await setMode("default")).toMatchObject({ mode: "default" });
    expect(await resumes.save({ _key: "r2" })).toMatchObject({ _key: "r2" });
    expect(
      (await resumes.update("r1", { status: "applied" }, { returnNew: true })).new,
    ).toMatchObject({ status: "applied" });
  });
});
