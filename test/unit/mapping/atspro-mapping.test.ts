/**
 * Every document of the ATSPro fixtures (shared/atspro/fixtures, the real shapes) through the real
 * mapping in config/atspro.yaml: each becomes a row or has a defined, reasoned outcome.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../src/events/events.js";
import {
  loadMapping,
  type BuildRowResult,
  type CompiledMapping,
  type CompiledTable,
  type MappedRow,
  type ParentReference,
} from "../../../src/mapping/compile-mapping.js";
import { readSharedJson } from "../shared-reference.js";

type Fixture = JsonObject & { readonly _key: string; readonly _rev: string };

function loadAtspro(): CompiledMapping {
  const yaml = parse(
    readFileSync(new URL("../../../config/atspro.yaml", import.meta.url), "utf8"),
  ) as { mapping?: unknown };
  const result = loadMapping(yaml.mapping);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.mapping;
}

const mapping = loadAtspro();
const fixtures = {
  resumes: readSharedJson("atspro", "fixtures", "resumes.json") as Fixture[],
  jobs: readSharedJson("atspro", "fixtures", "jobs.json") as Fixture[],
  documents: readSharedJson("atspro", "fixtures", "documents.json") as Fixture[],
};
const users = readSharedJson("atspro", "fixtures", "users.json") as { id: string }[];
type CollectionName = keyof typeof fixtures;

function tableOf(collection: CollectionName): CompiledTable {
  const table = mapping.forCollection(collection);
  if (table === undefined) throw new Error(`${collection} is not mapped`);
  return table;
}

function fixture(collection: CollectionName, keyPrefix: string): Fixture {
  const found = fixtures[collection].find((document) => document._key.startsWith(keyPrefix));
  if (found === undefined) throw new Error(`no ${collection} fixture ${keyPrefix}`);
  return found;
}

function build(collection: CollectionName, document: Fixture, tick = 1000n): BuildRowResult {
  return tableOf(collection).buildRow({ key: document._key, rev: document._rev, tick, document });
}

interface Mapped {
  readonly row: MappedRow;
  readonly values: Record<string, string | null>;
}

function mapped(collection: CollectionName, keyPrefix: string): Mapped {
  const result = build(collection, fixture(collection, keyPrefix));
  if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
  const columns = tableOf(collection).columns;
  return {
    row: result.row,
    values: Object.fromEntries(
      columns.map((column, index) => [column.name, result.row.values[index] ?? null]),
    ),
  };
}

function json(value: string | null | undefined): unknown {
  if (value === null || value === undefined) throw new Error("expected a JSON value");
  return JSON.parse(value);
}

function parent(row: MappedRow, table: string): ParentReference | undefined {
  return row.parents.find((reference) => reference.table === table);
}

describe("ATSPro fixtures: every document has a defined outcome", () => {
  it("maps all 60 documents, except the job whose status is outside the CHECK list", () => {
    const outcomes: Record<string, string> = {};
    for (const collection of ["resumes", "jobs", "documents"] as const) {
      for (const document of fixtures[collection]) {
        const result = build(collection, document);
        if (!result.ok)
          outcomes[`${collection}/${document._key}`] = `${result.column}: ${result.reason}`;
        else expect(result.warnings).toEqual([]);
      }
    }
    expect(fixtures.resumes.length + fixtures.jobs.length + fixtures.documents.length).toBe(60);
    expect(outcomes).toEqual({
      "jobs/6b2fdbf5-38ce-4203-a4d8-f4140f6184d1": "status: not-in-enum",
    });
  });

  it("carries _key, _rev and the tick into the system columns", () => {
    const document = fixture("resumes", "1eb47701");
    const result = build("resumes", document, 184793n);
    if (!result.ok) throw new Error(result.detail);
    expect(result.row.values[0]).toBe(document._key);
    expect(result.row.values.slice(-2)).toEqual([document._rev, "184793"]);
  });

  it("stores every JSON column so that it reads back equal to the document", () => {
    for (const collection of ["resumes", "jobs"] as const) {
      const column = collection === "resumes" ? "resume_data" : "parsed_data";
      for (const document of fixtures[collection]) {
        const result = build(collection, document);
        if (!result.ok) continue;
        const index = tableOf(collection).columns.findIndex((c) => c.name === column);
        expect(json(result.row.values[index])).toEqual(document[column] ?? {});
      }
    }
  });
});

describe("ATSPro resumes", () => {
  it.each(["715e9408", "39353d82", "4eb7c5e3"])(
    "placeholder %s (parsing, resume_data null) gets '{}' since the column is NOT NULL",
    (key) => {
      const { values } = mapped("resumes", key);
      expect(values["status"]).toBe("parsing");
      expect(values["resume_data"]).toBe("{}");
      expect(values["file_metadata"]).toBeNull();
    },
  );

  it.each(["d0e676de", "f73e1fcc", "2ac29c1e"])(
    "failed placeholder %s keeps its error message",
    (key) => {
      const { values } = mapped("resumes", key);
      expect(values["status"]).toBe("failed");
      expect(values["resume_data"]).toBe("{}");
      expect(values["error_message"]).toBe(fixture("resumes", key)["error_message"]);
    },
  );

  it('asks the sink for the test_user owner, who has no "user" row: parked with a clear reason', () => {
    const { row, values } = mapped("resumes", "manual_test_resume_1");
    expect(users.map((user) => user.id)).not.toContain("test_user");
    expect(parent(row, "user")).toMatchObject({
      column: "user_id",
      lookupColumn: "id",
      valueColumn: "id",
      value: "test_user",
      onMissingParent: "park",
      reason: "user not found",
    });
    expect(values["source"]).toBe("manual");
    expect(values["task_id"]).toBeNull();
    expect(parent(row, "tasks")).toBeUndefined();
  });

  it('refers an early-style owner (user_Qm4ZtV9e) to "user" by id as well', () => {
    expect(parent(mapped("resumes", "715e9408").row, "user")?.value).toBe("user_Qm4ZtV9e");
  });

  it("links task_id to tasks with the null policy, so a missing task never blocks a resume", () => {
    const { row, values } = mapped("resumes", "27e06195");
    expect(values["task_id"]).toBe("c8108a37-0548-4dbe-85a9-9a09daecbc60");
    expect(parent(row, "tasks")).toMatchObject({ lookupColumn: "id", onMissingParent: "null" });
  });

  it("defaults source to upload when the document has none", () => {
    expect(mapped("resumes", "1eb47701").values["source"]).toBe("upload");
  });

  it("takes both timestamps from _rev when the overwrite insert dropped them (798e8332)", () => {
    const { values } = mapped("resumes", "798e8332");
    expect([values["created_at"], values["updated_at"]]).toEqual([
      "2025-08-18T03:00:13.749Z",
      "2025-08-18T03:00:13.749Z",
    ]);
  });

  it("uses updated_at for a missing created_at (8428ed76)", () => {
    const { values } = mapped("resumes", "8428ed76");
    expect(values["created_at"]).toBe("2025-08-20T11:00:10.530426Z");
    expect(values["updated_at"]).toBe("2025-08-20T11:00:10.530426Z");
  });

  it("uses created_at for a missing updated_at (715e9408)", () => {
    expect(mapped("resumes", "715e9408").values["updated_at"]).toBe("2025-08-17T08:05:12.195402Z");
  });

  it("reads naive timestamps as UTC and keeps +00:00 ones, microseconds included", () => {
    expect(mapped("resumes", "d0e676de").values["updated_at"]).toBe("2025-08-19T12:00:46.215458Z");
    const aware = mapped("resumes", "9f1c9953").values;
    expect([aware["created_at"], aware["updated_at"]]).toEqual([
      "2025-08-23T22:30:08.307647Z",
      "2025-08-23T22:30:08.307657Z",
    ]);
  });

  it("ignores the old edit variant's parsed_at without a warning (27e06195)", () => {
    const result = build("resumes", fixture("resumes", "27e06195"));
    expect(result.ok && result.warnings).toEqual([]);
  });

  it("keeps unicode as characters (Japanese resume eb9b29f0)", () => {
    const { values } = mapped("resumes", "eb9b29f0");
    expect(values["resume_data"]).toContain('"full_name":"山田 太郎"');
    expect(values["file_metadata"]).toContain("職務経歴書_山田太郎_v2.pdf");
  });

  it("maps the garbage parse with an empty full_name and null contact details (d4aa7c69)", () => {
    const data = json(mapped("resumes", "d4aa7c69").values["resume_data"]) as {
      contact_info: Record<string, unknown>;
    };
    expect(data.contact_info["full_name"]).toBe("");
    expect(data.contact_info["email"]).toBeNull();
  });

  it("maps the 31 KB resume (5b825155) whole", () => {
    const value = mapped("resumes", "5b825155").values["resume_data"] ?? "";
    expect(value.length).toBeGreaterThan(30_000);
    expect(json(value)).toEqual(fixture("resumes", "5b825155")["resume_data"]);
  });
});

describe("ATSPro jobs", () => {
  it("dead-letters the job with status applied, naming the CHECK list (6b2fdbf5)", () => {
    expect(build("jobs", fixture("jobs", "6b2fdbf5"))).toEqual({
      ok: false,
      reason: "not-in-enum",
      column: "status",
      detail: 'status: "applied" is not one of pending|processing|completed|failed',
    });
  });

  it("mirrors the nested parsed_data.title, not the dotted top-level attribute, once the status fits", () => {
    const document: Fixture = { ...fixture("jobs", "6b2fdbf5"), status: "completed" };
    const result = build("jobs", document);
    if (!result.ok) throw new Error(result.detail);
    expect(result.warnings).toEqual([]);
    const index = tableOf("jobs").columns.findIndex((column) => column.name === "parsed_data");
    const parsed = json(result.row.values[index]) as Record<string, unknown>;
    expect(document["parsed_data.title"]).toBe("Senior Backend Engineer (Payments)");
    expect(parsed["title"]).toBe((document["parsed_data"] as Record<string, unknown>)["title"]);
    expect(parsed["title"]).not.toBe(document["parsed_data.title"]);
  });

  it("gives URL placeholders source_type url and file placeholders document", () => {
    expect(mapped("jobs", "507d80ae").values).toMatchObject({
      source_type: "url",
      source_url: "https://jobs.lever.co/datenwerk/443dcfa9-68db-4b9f-8c7e-fa6c8b746420",
      parsed_data: "{}",
      status: "pending",
    });
    expect(mapped("jobs", "c643f160").values).toMatchObject({
      source_type: "document",
      source_filename: "northwind_platform_engineer.pdf",
      source_url: null,
    });
  });

  it("finds source fields inside parsed_data once completion replaced the document", () => {
    expect(mapped("jobs", "09a1b5cf").values).toMatchObject({
      source_type: "document",
      source_filename: "informatics_nurse_posting.md",
    });
    expect(mapped("jobs", "c5dd30c8").values["source_url"]).toBe(
      "https://jobs.lever.co/northwindlabs/1782a835-a0e5-47a6-ad08-ac6fd2e91152",
    );
  });

  it("keeps the nulls and empty lists of a sparse posting (09a1b5cf)", () => {
    const parsed = json(mapped("jobs", "09a1b5cf").values["parsed_data"]) as Record<
      string,
      unknown
    >;
    expect(parsed).toMatchObject({
      salary: null,
      responsibilities: null,
      link: null,
      qualifications: [],
      location: [],
    });
  });

  it("stores scores keyed by resume _key as is, even for a deleted resume (d4401777)", () => {
    const scores = json(mapped("jobs", "d4401777").values["scores"]) as Record<string, unknown>;
    expect(Object.keys(scores)).toContain("2ec2e985-fd2d-4e3b-baa9-05aa7b190306");
    expect(fixtures.resumes.map((resume) => resume._key)).not.toContain(
      "2ec2e985-fd2d-4e3b-baa9-05aa7b190306",
    );
  });

  it("handles the fraction-less timestamp Python writes at zero microseconds (01bd3bdf)", () => {
    expect(mapped("jobs", "01bd3bdf").values).toMatchObject({
      created_at: "2025-08-19T10:00:00Z",
      updated_at: "2025-08-19T10:00:00.000001Z",
    });
  });

  it("parks the test_user job on its missing owner like the resumes (0b9548df)", () => {
    expect(parent(mapped("jobs", "0b9548df").row, "user")).toMatchObject({
      value: "test_user",
      onMissingParent: "park",
      reason: "user not found",
    });
  });

  it("maps the 32 KB job description (87b1fbee) whole", () => {
    const value = mapped("jobs", "87b1fbee").values["parsed_data"] ?? "";
    expect(value.length).toBeGreaterThan(30_000);
    expect(json(value)).toEqual(fixture("jobs", "87b1fbee")["parsed_data"]);
  });
});

describe("ATSPro documents → optimization_results", () => {
  it("puts the type-specific payload, and only it, into result_data", () => {
    const payloadKeys = (key: string): string[] =>
      Object.keys(json(mapped("documents", key).values["result_data"]) as object).sort();
    expect(mapped("documents", "1843229").values["result_type"]).toBe("optimization");
    expect(payloadKeys("1843229")).toEqual(["content", "optimized_data", "status"]);
    expect(mapped("documents", "1843258").values["result_type"]).toBe("research");
    expect(payloadKeys("1843258")).toEqual(["company", "content", "job_title", "status"]);
    expect(mapped("documents", "1843196").values["result_type"]).toBe("score");
    expect(payloadKeys("1843196")).toEqual(["score_data", "status"]);
  });

  it("keeps a research report's metadata in its own column", () => {
    expect(json(mapped("documents", "1843258").values["metadata"])).toEqual({
      content_type: "markdown",
      report_type: "company_research",
      word_count: 445,
    });
    expect(mapped("documents", "1843229").values["metadata"]).toBeNull();
  });

  it("resolves resume_id and job_id by legacy_id, parking while the parent is missing", () => {
    const { row, values } = mapped("documents", "1843229");
    expect(values["resume_id"]).toBe("1eb47701-1bc2-4990-8401-8a3fa0757b56");
    expect(parent(row, "resumes")).toMatchObject({
      lookupColumn: "legacy_id",
      valueColumn: "id",
      onMissingParent: "park",
      parkTimeoutSeconds: 86_400,
      reason: "resume not found",
    });
    expect(parent(row, "jobs")).toMatchObject({
      lookupColumn: "legacy_id",
      reason: "job not found",
    });
  });

  it.each([
    ["1843275", "resumes"],
    ["1843294", "resumes"],
    ["1843663", "resumes"],
    ["1843593", "resumes"],
    ["1843498", "jobs"],
    ["1843593", "jobs"],
  ] as const)(
    "document %s points at a deleted parent in %s: it parks, then dead-letters",
    (key, table) => {
      const reference = parent(mapped("documents", key).row, table);
      const present = fixtures[table].map((document) => document._key);
      expect(reference?.onMissingParent).toBe("park");
      expect(present).not.toContain(reference?.value);
    },
  );

  it("stores NULL for documents written without a task (82fae3d processor)", () => {
    const { row, values } = mapped("documents", "1843684");
    expect(values["task_id"]).toBeNull();
    expect(parent(row, "tasks")).toBeUndefined();
  });

  it("sets updated_at to created_at for insert-only documents", () => {
    const { values } = mapped("documents", "1843229");
    expect(values["created_at"]).toBe("2025-08-17T13:05:00.563425Z");
    expect(values["updated_at"]).toBe(values["created_at"]);
  });

  it("maps the 61 KB optimization (1843544) whole, apostrophes and all", () => {
    const value = mapped("documents", "1843544").values["result_data"] ?? "";
    expect(value.length).toBeGreaterThan(60_000);
    const document = fixture("documents", "1843544");
    expect(json(value)).toEqual({
      content: document["content"],
      optimized_data: document["optimized_data"],
      status: document["status"],
    });
    expect(value).toContain("Liam O'Connor");
  });
});

describe("ATSPro: collections without a mapping", () => {
  it("maps exactly resumes, jobs and documents, and names the tables they reference", () => {
    expect(mapping.collections).toEqual(["resumes", "jobs", "documents"]);
    expect(mapping.tables.map((table) => [table.table, table.parentTables])).toEqual([
      ["resumes", ["user", "tasks"]],
      ["jobs", ["user", "tasks"]],
      ["optimization_results", ["user", "resumes", "jobs", "tasks"]],
    ]);
    expect(mapping.forCollection("task_results")).toBeUndefined();
    expect(mapping.forCollection("job_research")).toBeUndefined();
  });
});
