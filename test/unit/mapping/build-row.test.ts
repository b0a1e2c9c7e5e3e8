import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject, JsonValue } from "../../../src/events/events.js";
import {
  loadMapping,
  type BuildRowResult,
  type CompiledTable,
  type MappedRow,
  type RowWarning,
} from "../../../src/mapping/compile-mapping.js";

function compile(spec: unknown, collection = "things"): CompiledTable {
  const result = loadMapping(spec);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  const table = result.mapping.forCollection(collection);
  if (table === undefined) throw new Error(`no mapping for ${collection}`);
  return table;
}

function rowOf(result: BuildRowResult): { row: MappedRow; warnings: readonly RowWarning[] } {
  if (!result.ok) throw new Error(`${result.reason} in ${result.column}: ${result.detail}`);
  return { row: result.row, warnings: result.warnings };
}

/** The row as column name → value, for readable assertions. */
function byColumn(table: CompiledTable, row: MappedRow): Record<string, string | null> {
  return Object.fromEntries(
    table.columns.map((column, index) => [column.name, row.values[index] ?? null]),
  );
}

const REV = "_kJqcwRS---"; // written 2025-08-18T03:00:13.749Z
const source = (document: JsonObject, tick = 500n) => ({
  key: typeof document["_key"] === "string" ? document["_key"] : "k1",
  rev: REV,
  tick,
  document: { _key: "k1", _id: "things/k1", _rev: REV, ...document },
});

const things = compile({
  collections: {
    things: {
      table: "things",
      ignore: ["skipped"],
      columns: {
        owner: {
          path: "owner",
          cast: "text",
          required: true,
          references: {
            table: "user",
            lookupColumn: "id",
            valueColumn: "id",
            missingParentReason: "user not found",
          },
        },
        parent_id: {
          path: "parent",
          cast: "text",
          references: { table: "parents", onMissingParent: "dead-letter" },
        },
        task_id: {
          path: "task",
          cast: "uuid",
          onInvalid: null,
          references: {
            table: "tasks",
            lookupColumn: "id",
            valueColumn: "id",
            onMissingParent: null,
          },
        },
        status: {
          path: "status",
          cast: "enum",
          values: ["new", "done"],
          required: true,
          default: "new",
        },
        code: { path: "code", cast: "text", maxLength: 4, onInvalid: "default", default: "none" },
        title: { path: ["nested", "title"], fallbackPaths: ["nested.title"], cast: "text" },
        first_tag: { path: ["tags", 0], cast: "text" },
        body: { path: "body", cast: "jsonb-object", required: true, default: {} },
        created_at: {
          path: "created_at",
          fallbackPaths: ["updated_at"],
          cast: "timestamptz",
          defaultFrom: "revision-time",
          onInvalid: "default",
        },
        updated_at: { path: "updated_at", cast: "timestamptz" },
      },
    },
  },
});

describe("buildRow: shape of a row", () => {
  it("lists the key column first and legacy_rev, legacy_tick last, with PostgreSQL types", () => {
    expect(
      things.columns.map((column) => `${column.name}:${column.type}:${column.source}`),
    ).toEqual([
      "legacy_id:text:key",
      "owner:text:document",
      "parent_id:text:document",
      "task_id:uuid:document",
      "status:text:document",
      "code:text:document",
      "title:text:document",
      "first_tag:text:document",
      "body:jsonb:document",
      "created_at:timestamptz:document",
      "updated_at:timestamptz:document",
      "legacy_rev:text:revision",
      "legacy_tick:bigint:tick",
    ]);
  });

  it("produces text values ready for unnest, and the system columns", () => {
    const { row, warnings } = rowOf(
      things.buildRow(
        source({
          owner: "u1",
          status: "done",
          code: "AB",
          nested: { title: "Nested" },
          "nested.title": "Dotted",
          tags: ["first", "second"],
          body: { a: [1, 2] },
          created_at: "2025-08-17T10:00:00.5",
          updated_at: "2025-08-17T12:00:00+02:00",
        }),
      ),
    );
    expect(warnings).toEqual([]);
    expect(row.table).toBe("things");
    expect(row.key).toBe("k1");
    expect(row.tick).toBe(500n);
    expect(byColumn(things, row)).toEqual({
      legacy_id: "k1",
      owner: "u1",
      parent_id: null,
      task_id: null,
      status: "done",
      code: "AB",
      title: "Nested",
      first_tag: "first",
      body: '{"a":[1,2]}',
      created_at: "2025-08-17T10:00:00.5Z",
      updated_at: "2025-08-17T10:00:00Z",
      legacy_rev: REV,
      legacy_tick: "500",
    });
  });

  it("reads a literal dotted attribute only when it is the path, never as nesting", () => {
    const { row } = rowOf(things.buildRow(source({ owner: "u1", "nested.title": "Dotted" })));
    expect(byColumn(things, row)["title"]).toBe("Dotted");
  });
});

describe("buildRow: absent values", () => {
  it("fills defaults for missing or null values and NULL for optional columns", () => {
    const { row } = rowOf(things.buildRow(source({ owner: "u1", status: null, body: null })));
    const values = byColumn(things, row);
    expect(values["status"]).toBe("new");
    expect(values["body"]).toBe("{}");
    expect(values["updated_at"]).toBeNull();
    expect(values["first_tag"]).toBeNull();
  });

  it("falls back to another path, then to the _rev write time", () => {
    const fromUpdated = rowOf(
      things.buildRow(source({ owner: "u1", updated_at: "2025-08-19T09:00:00" })),
    );
    expect(byColumn(things, fromUpdated.row)["created_at"]).toBe("2025-08-19T09:00:00Z");
    const fromRevision = rowOf(things.buildRow(source({ owner: "u1" })));
    expect(byColumn(things, fromRevision.row)["created_at"]).toBe("2025-08-18T03:00:13.749Z");
  });

  it("dead-letters a row whose required value is missing and has no default", () => {
    expect(things.buildRow(source({ status: "new" }))).toEqual({
      ok: false,
      reason: "missing-required",
      column: "owner",
      detail: "no value for required column owner",
    });
  });

  it("treats a revision without a time as no revision-time default", () => {
    const strict = compile({
      collections: {
        things: {
          table: "things",
          columns: {
            at: { path: "at", cast: "timestamptz", required: true, defaultFrom: "revision-time" },
          },
        },
      },
    });
    const result = strict.buildRow({ key: "k", rev: "1234567", tick: 1n, document: { _key: "k" } });
    expect(result).toMatchObject({ ok: false, reason: "missing-required", column: "at" });
  });
});

describe("buildRow: invalid values, per onInvalid", () => {
  it("dead-letters by default, naming the column and the problem", () => {
    expect(things.buildRow(source({ owner: "u1", status: "archived" }))).toEqual({
      ok: false,
      reason: "not-in-enum",
      column: "status",
      detail: 'status: "archived" is not one of new|done',
    });
  });

  it("stores NULL under onInvalid null and says why", () => {
    const { row, warnings } = rowOf(things.buildRow(source({ owner: "u1", task: "not-a-uuid" })));
    expect(byColumn(things, row)["task_id"]).toBeNull();
    expect(row.parents.map((parent) => parent.table)).toEqual(["user"]);
    expect(warnings).toEqual([
      {
        kind: "invalid-replaced",
        column: "task_id",
        reason: "invalid-uuid",
        detail: 'task_id: "not-a-uuid" is not a UUID',
        replacement: "null",
      },
    ]);
  });

  it("stores the default under onInvalid default, e.g. for a too long varchar", () => {
    const { row, warnings } = rowOf(things.buildRow(source({ owner: "u1", code: "TOO-LONG" })));
    expect(byColumn(things, row)["code"]).toBe("none");
    expect(warnings).toMatchObject([
      { kind: "invalid-replaced", column: "code", reason: "too-long" },
    ]);
  });

  it("falls back to the revision time for an invalid timestamp under onInvalid default", () => {
    const { row, warnings } = rowOf(
      things.buildRow(source({ owner: "u1", created_at: "2025-02-30T00:00:00" })),
    );
    expect(byColumn(things, row)["created_at"]).toBe("2025-08-18T03:00:13.749Z");
    expect(warnings).toMatchObject([
      { column: "created_at", reason: "invalid-timestamp", replacement: "default" },
    ]);
  });

  it("dead-letters an invalid timestamp where no fallback is configured", () => {
    expect(things.buildRow(source({ owner: "u1", updated_at: "yesterday" }))).toMatchObject({
      ok: false,
      reason: "invalid-timestamp",
      column: "updated_at",
    });
  });

  it("dead-letters a non-object where an object is required", () => {
    expect(things.buildRow(source({ owner: "u1", body: ["not", "an", "object"] }))).toMatchObject({
      ok: false,
      reason: "not-an-object",
      column: "body",
    });
  });

  it("dead-letters a non-finite number inside a jsonb value", () => {
    const document = JSON.parse('{"owner":"u1","body":{"score":-1e400}}') as JsonObject;
    expect(things.buildRow(source(document))).toEqual({
      ok: false,
      reason: "non-finite-number",
      column: "body",
      detail: "body: non-finite number at $.score",
    });
  });
});

describe("buildRow: U+0000", () => {
  it("strips it deep inside jsonb and in text under the default policy, with warnings", () => {
    const { row, warnings } = rowOf(
      things.buildRow(source({ owner: "u\u00001", body: { deep: [{ text: "a\u0000b" }] } })),
    );
    expect(byColumn(things, row)["owner"]).toBe("u1");
    expect(byColumn(things, row)["body"]).toBe('{"deep":[{"text":"ab"}]}');
    expect(row.parents[0]?.value).toBe("u1");
    expect(warnings).toEqual([
      { kind: "text-stripped", column: "owner" },
      { kind: "text-stripped", column: "body" },
    ]);
  });

  it("dead-letters the row when the column says so", () => {
    const strict = compile({
      collections: {
        things: {
          table: "things",
          columns: { body: { path: "body", cast: "jsonb", onUnstorableText: "dead-letter" } },
        },
      },
    });
    expect(strict.buildRow(source({ body: { deep: { deeper: ["\u0000"] } } }))).toMatchObject({
      ok: false,
      reason: "unstorable-text",
      column: "body",
    });
  });
});

describe("buildRow: foreign keys are described for the sink, not resolved", () => {
  it("lists each non-null reference with its lookup, policy and reason", () => {
    const { row } = rowOf(
      things.buildRow(
        source({ owner: "test_user", parent: "p-7", task: "C8108A37-0548-4DBE-85A9-9A09DAECBC60" }),
      ),
    );
    expect(row.parents).toEqual([
      {
        column: "owner",
        columnIndex: 1,
        table: "user",
        lookupColumn: "id",
        valueColumn: "id",
        value: "test_user",
        onMissingParent: "park",
        parkTimeoutSeconds: 86_400,
        reason: "user not found",
      },
      {
        column: "parent_id",
        columnIndex: 2,
        table: "parents",
        lookupColumn: "legacy_id",
        valueColumn: "id",
        value: "p-7",
        onMissingParent: "dead-letter",
        parkTimeoutSeconds: 86_400,
        reason: "parents not found",
      },
      {
        column: "task_id",
        columnIndex: 3,
        table: "tasks",
        lookupColumn: "id",
        valueColumn: "id",
        value: "c8108a37-0548-4dbe-85a9-9a09daecbc60",
        onMissingParent: "null",
        parkTimeoutSeconds: 86_400,
        reason: "tasks not found",
      },
    ]);
    // The row holds the looked-up value; the sink swaps in parents.id for the legacy_id lookup.
    expect(row.values[2]).toBe("p-7");
  });

  it("leaves out references whose value is absent", () => {
    expect(
      rowOf(things.buildRow(source({ owner: "u1" }))).row.parents.map((p) => p.column),
    ).toEqual(["owner"]);
  });

  it("lists the referenced tables and references of the table up front", () => {
    expect(things.parentTables).toEqual(["user", "parents", "tasks"]);
    expect(things.references.map((reference) => [reference.column, reference.columnIndex])).toEqual(
      [
        ["owner", 1],
        ["parent_id", 2],
        ["task_id", 3],
      ],
    );
  });
});

describe("buildRow: attributes no column reads", () => {
  it("warns about them, but not about ignored or system attributes", () => {
    const { warnings } = rowOf(
      things.buildRow(source({ owner: "u1", skipped: 1, surprise: true })),
    );
    expect(warnings).toEqual([{ kind: "unmapped-attribute", attribute: "surprise" }]);
  });

  it("collects the remaining attributes in a rest column", () => {
    const table = compile({
      collections: {
        things: {
          table: "things",
          columns: {
            kind: { path: "type", cast: "text" },
            payload: { rest: { except: ["type"] }, cast: "jsonb-object", required: true },
          },
        },
      },
    });
    const { row, warnings } = rowOf(
      table.buildRow(source({ type: "score", score_data: { overall: 55 }, status: "completed" })),
    );
    expect(warnings).toEqual([]);
    expect(row.values[2]).toBe('{"score_data":{"overall":55},"status":"completed"}');
    const tricky = JSON.parse('{"__proto__":{"polluted":true},"type":"x"}') as JsonObject;
    const { row: trickyRow } = rowOf(table.buildRow(source(tricky)));
    expect(trickyRow.values[2]).toBe('{"__proto__":{"polluted":true}}');
  });
});

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe("buildRow: never throws", () => {
  const jsonWithEdges: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.constantFrom<JsonValue>(
        null,
        true,
        false,
        0,
        -0,
        1.5,
        2 ** 31,
        1e308,
        "",
        "\u0000",
        "\ud800",
        "2025-08-17T13:05:00",
      ),
      fc.double(),
      fc.integer(),
      fc.string({ unit: "binary" }),
      fc.uuid(),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(fc.string({ unit: "binary", maxLength: 6 }), tie("value"), { maxKeys: 4 }),
    ),
  })).value;

  const attribute = fc.constantFrom(
    "owner",
    "parent",
    "task",
    "status",
    "code",
    "nested",
    "nested.title",
    "tags",
    "body",
    "created_at",
    "updated_at",
    "skipped",
    "other",
  );

  it("returns a row or a reasoned refusal for any document", () => {
    const reasons = new Set([
      "missing-required",
      "wrong-type",
      "not-in-enum",
      "too-long",
      "invalid-uuid",
      "invalid-timestamp",
      "not-an-object",
      "out-of-range",
      "non-finite-number",
      "unstorable-text",
      "unencodable",
    ]);
    fc.assert(
      fc.property(
        fc.dictionary(attribute, jsonWithEdges, { maxKeys: 10 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (document, tick) => {
          const result = things.buildRow(source(document, tick));
          if (result.ok) {
            expect(result.row.values).toHaveLength(things.columns.length);
            for (const value of result.row.values) {
              if (value === null) continue;
              expect(value.includes("\u0000")).toBe(false);
              expect(value).not.toMatch(UNPAIRED_SURROGATE);
            }
            const body = byColumn(things, result.row)["body"] ?? "";
            expect(JSON.parse(body)).toBeTypeOf("object");
            expect(result.row.values.at(-1)).toBe(tick.toString());
          } else {
            expect(reasons).toContain(result.reason);
            expect(result.detail.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
