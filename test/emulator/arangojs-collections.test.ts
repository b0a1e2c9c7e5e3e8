/**
 * arangojs drives the emulator through collection management with the layouts and errors of
 * RestCollectionHandler (3.12): create, list, exists, properties, count, figures, rename,
 * truncate and drop.
 */
import type { Database } from "arangojs";
import { CollectionType } from "arangojs/collections";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Running, expectArangoError, startWithArangojs, stop } from "./arangojs-helpers.js";

describe("arangojs against the emulator: collections", () => {
  let running: Running | undefined;
  let app: Database;

  beforeEach(async () => {
    running = await startWithArangojs();
    app = await running.db.createDatabase("atspro");
  });
  afterEach(async () => {
    await stop(running);
    running = undefined;
  });

  it("creates document and edge collections and lists them without system collections", async () => {
    const resumes = await app.createCollection("resumes");
    const edges = await app.createEdgeCollection("job_research");
    const listed = await app.listCollections();
    expect(listed.map((c) => c.name)).toEqual(["resumes", "job_research"]);
    expect(listed[0]).toEqual({
      id: expect.any(String) as string,
      name: "resumes",
      status: 3,
      type: CollectionType.DOCUMENT_COLLECTION,
      isSystem: false,
      globallyUniqueId: expect.stringMatching(/^h[0-9A-F]+\/\d+$/) as string,
    });
    expect((await edges.get()).type).toBe(CollectionType.EDGE_COLLECTION);
    const withSystem = await app.listCollections(false);
    expect(withSystem.map((c) => c.name)).toEqual(
      expect.arrayContaining(["_analyzers", "_aqlfunctions", "_graphs", "resumes"]),
    );
    expect(await resumes.exists()).toBe(true);
    expect(await app.collection("missing").exists()).toBe(false);
  });

  it("reports properties, count and figures with the collection's representation", async () => {
    const jobs = await app.createCollection("jobs", {
      waitForSync: true,
      keyOptions: { type: "traditional", allowUserKeys: true },
    });
    await jobs.saveAll([{ title: "a" }, { title: "b" }]);
    const properties = await jobs.properties();
    expect(properties).toMatchObject({
      name: "jobs",
      waitForSync: true,
      type: 2,
      status: 3,
      isSystem: false,
      keyOptions: { type: "traditional", allowUserKeys: true },
    });
    expect(Object.keys(properties).slice(0, 6)).toEqual([
      "error",
      "code",
      "id",
      "name",
      "status",
      "type",
    ]);
    const count = await jobs.count();
    expect(count).toMatchObject({ name: "jobs", count: 2, waitForSync: true });
    const figures = await jobs.figures();
    expect(figures.count).toBe(2);
    expect(figures.figures).toMatchObject({ indexes: { count: 1 }, cacheInUse: false });
  });

  it("changes properties, renames, truncates and drops", async () => {
    const resumes = await app.createCollection<Record<string, unknown>>("resumes");
    await resumes.save({ _key: "r1" });
    const changed = await resumes.properties({ waitForSync: true });
    expect(changed.waitForSync).toBe(true);

    const renamed = await resumes.rename("cvs");
    expect(renamed).toMatchObject({ name: "cvs", status: 3, isSystem: false });
    expect(resumes.name).toBe("cvs");
    expect((await resumes.document("r1"))._id).toBe("cvs/r1");

    const truncated = await resumes.truncate();
    expect(truncated).toMatchObject({ name: "cvs", type: 2 });
    expect((await resumes.count()).count).toBe(0);

    const id = running?.emulator.state.database("atspro").collection("cvs").id;
    expect(await resumes.drop()).toEqual({ error: false, code: 200, id });
    expect(await resumes.exists()).toBe(false);
  });

  it("refuses a duplicate collection with 409/1207 and a bad name with 400/1208", async () => {
    await app.createCollection("resumes");
    await expectArangoError(app.createCollection("resumes"), {
      errorNum: 1207,
      code: 409,
      message: "duplicate name",
    });
    await expectArangoError(app.createCollection("bad name!"), { errorNum: 1208, code: 400 });
  });

  it("answers 404/1203 for collections that do not exist", async () => {
    const missing = app.collection("missing");
    await expectArangoError(missing.get(), {
      errorNum: 1203,
      code: 404,
      message: "collection or view not found",
    });
    await expectArangoError(missing.properties(), { errorNum: 1203, code: 404 });
    await expectArangoError(missing.count(), { errorNum: 1203, code: 404 });
    await expectArangoError(missing.drop(), { errorNum: 1203, code: 404 });
    await expectArangoError(missing.save({}), {
      errorNum: 1203,
      code: 404,
      message: "collection or view not found: missing",
    });
  });

  it("drops a system collection only with isSystem (403/11 otherwise)", async () => {
    const graphs = app.collection("_graphs");
    await expectArangoError(graphs.drop(), { errorNum: 11, code: 403 });
    expect((await graphs.drop({ isSystem: true })).error).toBe(false);
    expect(await graphs.exists()).toBe(false);
  });
});
