/**
 * arangojs drives stream transactions on the emulator (RestTransactionHandler,
 * transaction::Manager, 3.12): writes inside `trx.step()` are visible to the transaction only,
 * a commit makes them visible and writes one WAL group (2200 … 2201, tid = transaction id), an
 * abort leaves neither the store nor the WAL touched.
 */
import type { Database } from "arangojs";
import type { DocumentCollection } from "arangojs/collections";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Running,
  batchesAfter,
  expectArangoError,
  recordShapes,
  startWithArangojs,
  stop,
} from "./arangojs-helpers.js";

type Doc = Record<string, unknown>;

describe("arangojs against the emulator: stream transactions", () => {
  let running: Running;
  let app: Database;
  let resumes: DocumentCollection<Doc>;
  let jobs: DocumentCollection<Doc>;

  beforeEach(async () => {
    running = await startWithArangojs();
    app = await running.db.createDatabase("atspro");
    resumes = await app.createCollection<Doc>("resumes");
    jobs = await app.createCollection<Doc>("jobs");
    await jobs.save({ _key: "j1", status: "pending" });
  });
  afterEach(async () => {
    await stop(running);
  });

  it("commits: every write appears, as one WAL group carrying the transaction id", async () => {
    const before = running.emulator.state.wal.lastSequence;
    const trx = await app.beginTransaction({ write: [resumes, jobs] });
    expect(await trx.get()).toEqual({ id: trx.id, status: "running" });
    await trx.step(() => resumes.save({ _key: "r1", status: "parsed" }));
    await trx.step(() => jobs.update("j1", { status: "completed" }));
    await trx.step(() => resumes.saveAll([{ _key: "r2" }, { _key: "r3" }]));
    await trx.step(() => resumes.remove("r3"));
    expect(batchesAfter(running.emulator, before)).toEqual([]);

    expect(await trx.commit()).toEqual({ id: trx.id, status: "committed" });
    expect(await trx.get()).toEqual({ id: trx.id, status: "committed" });
    expect(await resumes.document("r1")).toMatchObject({ status: "parsed" });
    expect(await jobs.document("j1")).toMatchObject({ status: "completed" });
    expect(await resumes.documentExists("r2")).toBe(true);
    expect(await resumes.documentExists("r3")).toBe(false);

    const batches = batchesAfter(running.emulator, before);
    expect(batches).toHaveLength(1);
    expect(recordShapes(batches)).toEqual([
      { kind: "begin", tid: trx.id },
      { kind: "document", tid: trx.id },
      { kind: "document", tid: trx.id },
      { kind: "document", tid: trx.id },
      { kind: "document", tid: trx.id },
      { kind: "remove", tid: trx.id },
      { kind: "commit", tid: trx.id },
    ]);
  });

  it("keeps a write invisible outside the transaction until the commit", async () => {
    const trx = await app.beginTransaction({ write: "resumes" });
    await trx.step(() => resumes.save({ _key: "r1", name: "Ada" }));
    expect(await trx.step(() => resumes.document("r1"))).toMatchObject({ name: "Ada" });
    expect(await trx.step(() => resumes.documentExists("r1"))).toBe(true);
    expect((await trx.step(() => resumes.count())).count).toBe(1);
    expect(await resumes.document("r1", { graceful: true })).toBeNull();
    expect((await resumes.count()).count).toBe(0);
    await trx.commit();
    expect(await resumes.document("r1")).toMatchObject({ name: "Ada" });
  });

  it("aborts: nothing reaches the store or the WAL", async () => {
    const before = running.emulator.state.wal.lastSequence;
    const trx = await app.beginTransaction({ write: [resumes, jobs] });
    await trx.step(() => resumes.save({ _key: "r1" }));
    await trx.step(() => jobs.remove("j1"));
    expect(await trx.abort()).toEqual({ id: trx.id, status: "aborted" });
    expect(await trx.get()).toEqual({ id: trx.id, status: "aborted" });
    expect(await resumes.documentExists("r1")).toBe(false);
    expect(await jobs.document("j1")).toMatchObject({ status: "pending" });
    expect(batchesAfter(running.emulator, before)).toEqual([]);
  });

  it("runs a callback with withTransaction and commits it", async () => {
    const result = await app.withTransaction([resumes], async (step) => {
      await step(() => resumes.save({ _key: "w1" }));
      return "done";
    });
    expect(result).toBe("done");
    expect(await resumes.documentExists("w1")).toBe(true);
  });

  it("lists the running transactions of the database", async () => {
    const trx = await running.db.beginTransaction({ read: "_graphs" });
    const listed = await running.db.listTransactions();
    expect(listed).toEqual([{ id: trx.id, state: "running" }]);
    await trx.abort();
    expect(await running.db.listTransactions()).toEqual([]);
  });

  it("is idempotent for a second commit or abort, and refuses the other (400/1653)", async () => {
    const committed = await app.beginTransaction({ write: resumes });
    await committed.commit();
    expect(await committed.commit()).toEqual({ id: committed.id, status: "committed" });
    await expectArangoError(committed.abort(), {
      errorNum: 1653,
      code: 400,
      message: `while trying to abort transaction ${committed.id}: transaction was already committed`,
    });

    const aborted = await app.beginTransaction({ write: resumes });
    await aborted.abort();
    expect(await aborted.abort()).toEqual({ id: aborted.id, status: "aborted" });
    await expectArangoError(aborted.commit(), {
      errorNum: 1653,
      code: 400,
      message: `while trying to commit transaction ${aborted.id}: transaction was already aborted`,
    });
  });

  it("refuses operations in a finished transaction", async () => {
    const committed = await app.beginTransaction({ write: resumes });
    await committed.commit();
    await expectArangoError(
      committed.step(() => resumes.save({})),
      {
        errorNum: 1653,
        code: 400,
        message: `transaction ${committed.id} has already been committed`,
      },
    );
    const aborted = await app.beginTransaction({ write: resumes });
    await aborted.abort();
    await expectArangoError(
      aborted.step(() => resumes.document("r1")),
      { errorNum: 1654, code: 410, message: `transaction ${aborted.id} has already been aborted` },
    );
  });

  it("answers 404/1655 for unknown transaction ids", async () => {
    const unknown = app.transaction("424242");
    await expectArangoError(unknown.get(), { errorNum: 1655, code: 404 });
    await expectArangoError(unknown.commit(), {
      errorNum: 1655,
      code: 404,
      message: "transaction 424242 not found on commit operation",
    });
    // The failed commit left the id remembered as aborted (Manager::updateTransaction).
    expect(await unknown.abort()).toEqual({ id: "424242", status: "aborted" });
    await expectArangoError(
      app.transaction("777").step(() => resumes.save({})),
      { errorNum: 1655, code: 404, message: "transaction 777 not found" },
    );
  });

  it("refuses writes to collections not declared for writing (400/1652)", async () => {
    const trx = await app.beginTransaction({ read: [jobs], write: [resumes] });
    await expectArangoError(
      trx.step(() => jobs.save({})),
      {
        errorNum: 1652,
        code: 400,
        message: "unregistered collection used in transaction: jobs [write]",
      },
    );
    // Reading undeclared collections is allowed unless allowImplicit is false.
    expect(await trx.step(() => jobs.document("j1"))).toMatchObject({ _key: "j1" });
    await trx.abort();
    const strict = await app.beginTransaction({ write: [resumes] }, { allowImplicit: false });
    await expectArangoError(
      strict.step(() => jobs.document("j1")),
      {
        errorNum: 1652,
        code: 400,
        message: "unregistered collection used in transaction: jobs [read]",
      },
    );
    await strict.abort();
  });

  it("refuses to begin with an unknown collection (404/1203)", async () => {
    await expectArangoError(app.beginTransaction({ write: "missing" }), {
      errorNum: 1203,
      code: 404,
      message: "collection or view not found: missing",
    });
  });
});
