/**
 * arangojs drives the emulator through every document operation with the results and errors of
 * an ArangoDB 3.12 single server (RestDocumentHandler, transaction::Methods): inserts with keys
 * and revisions, overwriting inserts, PATCH merge semantics, replace, remove, preconditions,
 * array requests with per-item errors, and which writes form a WAL transaction group.
 */
import type { Database } from "arangojs";
import type { DocumentCollection } from "arangojs/collections";
import { ArangoError, HttpError } from "arangojs/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeRevision, revisionTimeMs } from "../../src/source/revision.js";
import {
  type Running,
  batchesAfter,
  expectArangoError,
  recordShapes,
  send,
  startWithArangojs,
  stop,
} from "./arangojs-helpers.js";

type Doc = Record<string, unknown>;

describe("arangojs against the emulator: documents", () => {
  let running: Running;
  let app: Database;
  let resumes: DocumentCollection<Doc>;

  beforeEach(async () => {
    running = await startWithArangojs();
    app = await running.db.createDatabase("atspro");
    resumes = await app.createCollection<Doc>("resumes");
  });
  afterEach(async () => {
    await stop(running);
  });

  const walSequence = (): bigint => running.emulator.state.wal.lastSequence;

  describe("insert", () => {
    it("generates ascending numeric keys and _rev values that carry the write time", async () => {
      const before = Date.now();
      const saved = await resumes.saveAll([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const after = Date.now();
      const keys = saved.map((meta) => {
        if ("error" in meta) throw new Error("unexpected error");
        return meta._key;
      });
      for (const key of keys) expect(key).toMatch(/^\d+$/);
      expect(keys.map(Number)).toEqual([...keys.map(Number)].sort((a, b) => a - b));
      expect(new Set(keys).size).toBe(3);
      for (const meta of saved) {
        if ("error" in meta) continue;
        const time = revisionTimeMs(meta._rev) ?? 0;
        expect(time).toBeGreaterThanOrEqual(before - 2000);
        expect(time).toBeLessThanOrEqual(after + 2000);
      }
    });

    it("returns the identity, or the new document with returnNew", async () => {
      const meta = await resumes.save({ _key: "r1", name: "Ada" });
      expect(meta).toEqual({ _id: "resumes/r1", _key: "r1", _rev: expect.any(String) as string });
      const withNew = await resumes.save(
        { _key: "r2", name: "Bo", tags: ["x"] },
        { returnNew: true },
      );
      expect(withNew.new).toEqual({
        _key: "r2",
        _id: "resumes/r2",
        _rev: withNew._rev,
        name: "Bo",
        tags: ["x"],
      });
      expect(await resumes.document("r2")).toEqual(withNew.new);
    });

    it("keeps null attributes of a new document", async () => {
      const meta = await resumes.save({ _key: "r1", resume_data: null }, { returnNew: true });
      expect(meta.new).toMatchObject({ resume_data: null });
    });

    it("refuses a second document with the same key: 409/1210 naming the key", async () => {
      await resumes.save({ _key: "r1" });
      await expectArangoError(resumes.save({ _key: "r1" }), {
        errorNum: 1210,
        code: 409,
        message:
          "unique constraint violated - in index primary of type primary over '_key'; conflicting key: r1",
      });
    });

    it("refuses an illegal key with 400/1221", async () => {
      await expectArangoError(resumes.save({ _key: "no spaces allowed" }), {
        errorNum: 1221,
        code: 400,
        message: "illegal document key",
      });
      await expectArangoError(
        send(app, { method: "POST", pathname: "/_api/document/resumes", body: { _key: 42 } }),
        { errorNum: 1221, code: 400 },
      );
    });

    it("replaces the stored document on an overwriting insert: missing fields disappear", async () => {
      const first = await resumes.save({ _key: "r1", status: "parsing", created_at: "t0" });
      const second = await resumes.save(
        { _key: "r1", status: "parsed", resume_data: { name: "Ada" } },
        { overwriteMode: "replace", returnNew: true, returnOld: true },
      );
      expect(second._oldRev).toBe(first._rev);
      expect(second.old).toMatchObject({ status: "parsing", created_at: "t0" });
      expect(second.new).toEqual({
        _key: "r1",
        _id: "resumes/r1",
        _rev: second._rev,
        status: "parsed",
        resume_data: { name: "Ada" },
      });
      expect(await resumes.document("r1")).not.toHaveProperty("created_at");
    });

    it("updates on overwriteMode update (nulls removed unless keepNull), ignores on ignore", async () => {
      await resumes.save({ _key: "r1", a: 1, b: 2 });
      const updated = await resumes.save(
        { _key: "r1", b: null, c: 3 },
        { overwriteMode: "update", returnNew: true },
      );
      expect(updated.new).toMatchObject({ a: 1, c: 3 });
      expect(updated.new).not.toHaveProperty("b");
      const kept = await resumes.save(
        { _key: "r1", a: null },
        { overwriteMode: "update", keepNull: true, returnNew: true },
      );
      expect(kept.new).toMatchObject({ a: null, c: 3 });

      const current = await resumes.document("r1");
      const ignored = await resumes.save({ _key: "r1", a: "lost" }, { overwriteMode: "ignore" });
      expect(ignored).toEqual({ _id: "resumes/r1", _key: "r1", _rev: current._rev });
      expect(await resumes.document("r1")).toEqual(current);
    });

    it("answers 202, or 201 when synced by the parameter or the collection", async () => {
      const post = (body: Doc, search: Record<string, string> = {}) =>
        send(app, { method: "POST", pathname: "/_api/document/resumes", body, search });
      expect((await post({ n: 1 })).status).toBe(202);
      expect((await post({ n: 2 }, { waitForSync: "true" })).status).toBe(201);
      await resumes.properties({ waitForSync: true });
      const response = await post({ _key: "synced" });
      expect(response.status).toBe(201);
      const { _rev } = response.parsedBody as { _rev: string };
      expect(response.headers.get("etag")).toBe(`"${_rev}"`);
      expect(response.headers.get("location")).toBe("/_db/atspro/_api/document/resumes/synced");
    });
  });

  describe("update (PATCH)", () => {
    it("deep-merges nested objects with sorted keys and replaces arrays", async () => {
      await resumes.save({
        _key: "r1",
        resume_data: { summary: "old", contact_info: { phone: "1", email: "a@example.com" } },
        skills: ["a", "b"],
      });
      const patched = await resumes.update(
        "r1",
        { resume_data: { contact_info: { address: "Main St" }, summary: "new" }, skills: ["c"] },
        { returnNew: true },
      );
      const data = patched.new?.["resume_data"] as Doc;
      expect(data).toEqual({
        contact_info: { address: "Main St", email: "a@example.com", phone: "1" },
        summary: "new",
      });
      expect(Object.keys(data["contact_info"] as Doc)).toEqual(["address", "email", "phone"]);
      expect(patched.new?.["skills"]).toEqual(["c"]);
    });

    it("stores null with keepNull (the default) and removes the attribute without it", async () => {
      await resumes.save({ _key: "r1", a: 1, nested: { x: 1, y: 2 } });
      const kept = await resumes.update("r1", { a: null }, { returnNew: true });
      expect(kept.new).toMatchObject({ a: null });
      const removed = await resumes.update(
        "r1",
        { a: null, nested: { x: null } },
        { keepNull: false, returnNew: true },
      );
      expect(removed.new).not.toHaveProperty("a");
      expect(removed.new?.["nested"]).toEqual({ y: 2 });
    });

    it("replaces nested objects when mergeObjects is false", async () => {
      await resumes.save({ _key: "r1", nested: { x: 1, y: 2 } });
      const patched = await resumes.update(
        "r1",
        { nested: { z: 3 } },
        { mergeObjects: false, returnNew: true },
      );
      expect(patched.new?.["nested"]).toEqual({ z: 3 });
    });

    it("bumps _rev for a content-neutral full-document patch and re-sorts merged objects", async () => {
      await resumes.save({ _key: "r1", file_metadata: { size: 3, name: "cv.pdf" } });
      const stored = await resumes.document("r1");
      const patched = await resumes.update("r1", stored, { returnNew: true });
      expect(patched._rev).not.toBe(stored._rev);
      expect(patched._oldRev).toBe(stored._rev);
      expect(Object.keys(patched.new?.["file_metadata"] as Doc)).toEqual(["name", "size"]);
    });

    it("treats a patch naming only the key as a no-op: same _rev, nothing written to the WAL", async () => {
      // ModifyingProcessorBase (3.10+): an update whose body holds nothing but _key skips the write.
      const saved = await resumes.save({ _key: "j1", status: "pending" });
      const before = walSequence();
      const patched = await resumes.update("j1", { _key: "j1" });
      expect(patched).toEqual({
        _id: "resumes/j1",
        _key: "j1",
        _rev: saved._rev,
        _oldRev: saved._rev,
      });
      expect(await resumes.document("j1")).toEqual({
        _key: "j1",
        _id: "resumes/j1",
        _rev: saved._rev,
        status: "pending",
      });
      expect(batchesAfter(running.emulator, before)).toEqual([]);
    });

    it("writes a one-attribute patch: a new _rev and one WAL marker (only a bare _key is a no-op)", async () => {
      const saved = await resumes.save({ _key: "j2", status: "pending" });
      const before = walSequence();
      const patched = await resumes.update("j2", { status: "parsed" }, { returnNew: true });
      expect(patched._rev).not.toBe(saved._rev);
      expect(patched.new?.["status"]).toBe("parsed");
      expect(batchesAfter(running.emulator, before)).toHaveLength(1);
    });

    it("gives every write of one document a larger _rev", async () => {
      const revs = [(await resumes.save({ _key: "r1", n: 0 }))._rev];
      for (let n = 1; n <= 5; n += 1) revs.push((await resumes.update("r1", { n }))._rev);
      const values = revs.map((rev) => decodeRevision(rev) ?? 0n);
      for (let i = 1; i < values.length; i += 1) {
        expect((values[i] ?? 0n) > (values[i - 1] ?? 0n)).toBe(true);
      }
    });

    it("answers 404/1202 for a document that does not exist", async () => {
      await expectArangoError(resumes.update("missing", { a: 1 }), {
        errorNum: 1202,
        code: 404,
        message: "document not found",
      });
    });
  });

  describe("replace, read and remove", () => {
    it("replaces the whole document and returns old and new", async () => {
      const saved = await resumes.save({ _key: "r1", a: 1, b: 2 });
      const replaced = await resumes.replace("r1", { b: 3 }, { returnOld: true, returnNew: true });
      expect(replaced._oldRev).toBe(saved._rev);
      expect(replaced.old).toMatchObject({ a: 1, b: 2 });
      expect(replaced.new).toEqual({ _key: "r1", _id: "resumes/r1", _rev: replaced._rev, b: 3 });
      expect(Object.keys(replaced)).toEqual(["_id", "_key", "_rev", "_oldRev", "old", "new"]);
    });

    it("reads with If-None-Match (304) and checks existence with HEAD", async () => {
      const saved = await resumes.save({ _key: "r1" });
      const error: unknown = await resumes
        .document("r1", { ifNoneMatch: saved._rev })
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).code).toBe(304);
      expect(await resumes.documentExists("r1")).toBe(true);
      expect(await resumes.documentExists("missing")).toBe(false);
      expect(await resumes.document("missing", { graceful: true })).toBeNull();
      await expectArangoError(resumes.document("missing"), { errorNum: 1202, code: 404 });
    });

    it("fails preconditions with 412/1200 and the current _rev", async () => {
      const saved = await resumes.save({ _key: "r1", a: 1 });
      const stale = "_stale_rev_";
      await expectArangoError(resumes.update("r1", { a: 2 }, { ifMatch: stale }), {
        errorNum: 1200,
        code: 412,
        message: "conflict, _rev values do not match",
      });
      await expectArangoError(resumes.replace("r1", { a: 2 }, { ifMatch: stale }), {
        errorNum: 1200,
        code: 412,
      });
      await expectArangoError(resumes.remove("r1", { ifMatch: stale }), {
        errorNum: 1200,
        code: 412,
      });
      await expectArangoError(resumes.document("r1", { ifMatch: stale }), {
        errorNum: 1200,
        code: 412,
        message: "conflict",
      });
      await expectArangoError(resumes.update("r1", { _rev: stale, a: 2 }, { ignoreRevs: false }), {
        errorNum: 1200,
        code: 412,
      });
      const failure: unknown = await send(app, {
        method: "PATCH",
        pathname: "/_api/document/resumes/r1",
        body: { a: 3 },
        headers: { "if-match": `"${stale}"` },
      }).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(failure).toBeInstanceOf(ArangoError);
      const raw = failure as ArangoError;
      expect(raw.response?.parsedBody).toEqual({
        error: true,
        code: 412,
        errorNum: 1200,
        errorMessage: "conflict, _rev values do not match",
        _id: "resumes/r1",
        _key: "r1",
        _rev: saved._rev,
      });
      expect(raw.response?.headers.get("etag")).toBe(`"${saved._rev}"`);
      const matching = await resumes.update("r1", { a: 4 }, { ifMatch: saved._rev });
      expect(matching._oldRev).toBe(saved._rev);
    });

    it("removes documents (200 when synced, 202 otherwise) and returns the old one", async () => {
      await resumes.saveAll([{ _key: "r1", a: 1 }, { _key: "r2" }]);
      const removed = await resumes.remove("r1", { returnOld: true });
      expect(removed).toMatchObject({ _id: "resumes/r1", _key: "r1", old: { a: 1 } });
      await expectArangoError(resumes.remove("r1"), { errorNum: 1202, code: 404 });
      const response = await send(app, {
        method: "DELETE",
        pathname: "/_api/document/resumes/r2",
        search: { waitForSync: "true" },
      });
      expect(response.status).toBe(200);
      expect(await resumes.documentExists("r2")).toBe(false);
    });
  });

  describe("array requests", () => {
    it("reports failed items in place and counts them in x-arango-error-codes", async () => {
      await resumes.save({ _key: "r1" });
      const response = await send(app, {
        method: "POST",
        pathname: "/_api/document/resumes",
        body: [{ _key: "r1" }, { _key: "r2" }, { _key: "r1" }, "not an object"],
      });
      expect(response.status).toBe(202);
      const items = response.parsedBody as Doc[];
      expect(items[0]).toEqual({
        error: true,
        errorNum: 1210,
        errorMessage:
          "unique constraint violated - in index primary of type primary over '_key'; conflicting key: r1",
      });
      expect(items[1]).toMatchObject({ _key: "r2" });
      expect(items[3]).toEqual({
        error: true,
        errorNum: 1227,
        errorMessage: "invalid document type",
      });
      expect(JSON.parse(response.headers.get("x-arango-error-codes") ?? "{}")).toEqual({
        "1210": 2,
        "1227": 1,
      });
      expect(await resumes.documentExists("r2")).toBe(true);
    });

    it("updates, replaces, reads and removes arrays of documents", async () => {
      await resumes.saveAll([
        { _key: "a", n: 1, nested: { x: 1 } },
        { _key: "b", n: 2 },
      ]);
      const updated = await resumes.updateAll(
        [
          { _key: "a", nested: { y: 2 } },
          { _key: "missing", n: 0 },
        ],
        { returnNew: true },
      );
      expect(updated[0]).toMatchObject({ new: { nested: { x: 1, y: 2 } } });
      expect(updated[1]).toEqual({
        error: true,
        errorNum: 1202,
        errorMessage: "document not found",
      });
      const replaced = await resumes.replaceAll([{ _key: "b", m: 9 }], { returnNew: true });
      expect(replaced[0]).toMatchObject({ new: { m: 9 } });
      const read = await resumes.documents(["a", "resumes/b", "missing"]);
      expect(read[0]).toMatchObject({ _key: "a", n: 1 });
      expect(read[1]).toMatchObject({ _key: "b", m: 9 });
      expect(read[2]).toMatchObject({ error: true, errorNum: 1202 });
      const removed = await resumes.removeAll(["a", { _key: "b" }, "missing"]);
      expect(removed[0]).toMatchObject({ _key: "a" });
      expect(removed[1]).toMatchObject({ _key: "b" });
      expect(removed[2]).toMatchObject({ error: true, errorNum: 1202 });
      expect((await resumes.count()).count).toBe(0);
    });

    it("leaves successes out of a silent answer", async () => {
      const response = await send(app, {
        method: "POST",
        pathname: "/_api/document/resumes",
        body: [{ _key: "s1" }, { _key: "s1" }],
        search: { silent: "true" },
      });
      expect(response.parsedBody).toEqual([
        {
          error: true,
          errorNum: 1210,
          errorMessage:
            "unique constraint violated - in index primary of type primary over '_key'; conflicting key: s1",
        },
      ]);
      expect(await resumes.save({ _key: "s2" }, { silent: true })).toBeUndefined();
    });
  });

  describe("WAL transaction groups", () => {
    it("writes a single operation with tid 0 and no begin/commit markers", async () => {
      const before = walSequence();
      await resumes.save({ _key: "r1" });
      await resumes.update("r1", { a: 1 });
      await resumes.remove("r1");
      expect(recordShapes(batchesAfter(running.emulator, before))).toEqual([
        { kind: "document", tid: "0" },
        { kind: "document", tid: "0" },
        { kind: "remove", tid: "0" },
      ]);
    });

    it("writes an array request as one transaction group", async () => {
      const before = walSequence();
      await resumes.saveAll([{ _key: "a" }, { _key: "b" }]);
      const batches = batchesAfter(running.emulator, before);
      expect(batches).toHaveLength(1);
      const shapes = recordShapes(batches);
      const tid = shapes[0]?.tid;
      expect(tid).not.toBe("0");
      expect(shapes).toEqual([
        { kind: "begin", tid },
        { kind: "document", tid },
        { kind: "document", tid },
        { kind: "commit", tid },
      ]);
    });

    it("writes an overwriting insert as a transaction group (it is not a single operation)", async () => {
      await resumes.save({ _key: "r1", a: 1 });
      const before = walSequence();
      await resumes.save({ _key: "r1", a: 2 }, { overwriteMode: "replace" });
      const shapes = recordShapes(batchesAfter(running.emulator, before));
      expect(shapes.map((shape) => shape.kind)).toEqual(["begin", "document", "commit"]);
      expect(shapes[0]?.tid).not.toBe("0");
    });
  });
});
