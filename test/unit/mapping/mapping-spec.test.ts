import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { mappingSpecSchema, parseMappingSpec } from "../../../src/mapping/mapping-spec.js";

const ATSPRO_YAML = new URL("../../../config/atspro.yaml", import.meta.url);

function atsproMapping(): unknown {
  const document = parse(readFileSync(ATSPRO_YAML, "utf8")) as { mapping?: unknown };
  return document.mapping;
}

function problems(input: unknown): readonly string[] {
  const result = parseMappingSpec(input);
  if (result.ok) throw new Error("expected the spec to be refused");
  return result.problems;
}

const column = (extra: Record<string, unknown>): Record<string, unknown> => ({
  path: "x",
  cast: "text",
  ...extra,
});
const oneColumn = (name: string, spec: Record<string, unknown>): unknown => ({
  collections: { resumes: { table: "resumes", columns: { [name]: spec } } },
});

describe("mapping spec: config/atspro.yaml", () => {
  it("is valid and maps the three ATSPro collections to their tables", () => {
    const result = parseMappingSpec(atsproMapping());
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const tables = Object.entries(result.spec.collections).map(([name, mapping]) => [
      name,
      mapping.table,
      mapping.keyColumn,
    ]);
    expect(tables).toEqual([
      ["resumes", "resumes", "legacy_id"],
      ["jobs", "jobs", "legacy_id"],
      ["documents", "optimization_results", "legacy_id"],
    ]);
  });

  it("reads YAML's bare null as the null policy", () => {
    const result = parseMappingSpec(atsproMapping());
    const taskId = result.ok ? result.spec.collections["resumes"]?.columns["task_id"] : undefined;
    expect(taskId?.onInvalid).toBe("null");
    expect(taskId?.references?.onMissingParent).toBe("null");
  });
});

describe("mapping spec: defaults", () => {
  it("fills the documented defaults", () => {
    const result = parseMappingSpec(
      oneColumn("resume_id", column({ references: { table: "resumes" } })),
    );
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const mapping = result.spec.collections["resumes"];
    expect(mapping?.keyColumn).toBe("legacy_id");
    expect(mapping?.ignore).toEqual([]);
    expect(mapping?.columns["resume_id"]).toEqual({
      path: "x",
      cast: "text",
      required: false,
      onInvalid: "dead-letter",
      onUnstorableText: "strip",
      references: {
        table: "resumes",
        lookupColumn: "legacy_id",
        valueColumn: "id",
        onMissingParent: "park",
        parkTimeoutSeconds: 86_400,
      },
    });
  });
});

describe("mapping spec: one clear line per problem", () => {
  it("reports unknown keys, bad casts and bad identifiers at their path", () => {
    expect(
      problems({
        collections: {
          resumes: {
            table: "resumes",
            colums: {},
            columns: { status: column({ cast: "varchar" }), "bad name": column({}) },
          },
        },
      }),
    ).toEqual([
      'mapping.collections.resumes.columns.status.cast: Invalid option: expected one of "text"|"uuid"|"timestamptz"|"jsonb"|"jsonb-object"|"integer"|"boolean"|"enum"',
      "mapping.collections.resumes.columns.bad name: must be a plain SQL identifier (letters, digits, _)",
      'mapping.collections.resumes: Unrecognized key: "colums"',
    ]);
  });

  it.each([
    [
      { cast: "text" },
      "mapping.collections.resumes.columns.c: give exactly one of `path` or `rest`",
    ],
    [
      { path: "a", rest: {}, cast: "jsonb" },
      "mapping.collections.resumes.columns.c: give exactly one of `path` or `rest`",
    ],
    [
      { rest: {}, cast: "text" },
      "mapping.collections.resumes.columns.c.cast: a `rest` column holds an object: use jsonb or jsonb-object",
    ],
    [
      { rest: {}, fallbackPaths: ["b"], cast: "jsonb" },
      "mapping.collections.resumes.columns.c.fallbackPaths: fallbackPaths needs a `path`",
    ],
    [
      column({ cast: "enum" }),
      "mapping.collections.resumes.columns.c.values: `values` is required for cast enum and only allowed there",
    ],
    [
      column({ values: ["a"] }),
      "mapping.collections.resumes.columns.c.values: `values` is required for cast enum and only allowed there",
    ],
    [
      column({ cast: "enum", values: ["short", "much-too-long"], maxLength: 5 }),
      'mapping.collections.resumes.columns.c.values: "much-too-long" is longer than maxLength 5',
    ],
    [
      column({ cast: "jsonb", maxLength: 5 }),
      "mapping.collections.resumes.columns.c.maxLength: maxLength applies to text and enum casts only",
    ],
    [
      column({ onInvalid: "default" }),
      "mapping.collections.resumes.columns.c.onInvalid: onInvalid default needs a `default` or `defaultFrom`",
    ],
    [
      column({ onInvalid: "null", required: true }),
      "mapping.collections.resumes.columns.c.onInvalid: a required column cannot be set to null: use dead-letter or default",
    ],
    [
      column({ cast: "uuid", default: "not-a-uuid" }),
      'mapping.collections.resumes.columns.c.default: the default does not fit cast uuid: "not-a-uuid" is not a UUID',
    ],
    [
      column({ cast: "jsonb-object", default: [] }),
      "mapping.collections.resumes.columns.c.default: the default does not fit cast jsonb-object: expected a JSON object, got an array",
    ],
    [
      column({ default: null, required: true }),
      "mapping.collections.resumes.columns.c.default: a required column cannot default to null",
    ],
    [
      column({ defaultFrom: "revision-time" }),
      "mapping.collections.resumes.columns.c.defaultFrom: revision-time is a timestamp: use it with cast timestamptz",
    ],
    [
      column({ cast: "jsonb", references: { table: "user" } }),
      "mapping.collections.resumes.columns.c.references: a reference holds a key: use cast text, uuid, integer",
    ],
    [
      column({ required: true, references: { table: "user", onMissingParent: null } }),
      "mapping.collections.resumes.columns.c.references.onMissingParent: a required column cannot be set to null: use park or dead-letter",
    ],
    [
      column({ references: { table: "user", onMissingParent: "wait" } }),
      'mapping.collections.resumes.columns.c.references.onMissingParent: Invalid option: expected one of "park"|"null"|"dead-letter"',
    ],
    [
      column({ references: { table: "user", parkTimeoutSeconds: 0 } }),
      "mapping.collections.resumes.columns.c.references.parkTimeoutSeconds: Too small: expected number to be >0",
    ],
    [
      column({ path: [] }),
      "mapping.collections.resumes.columns.c.path: a path needs at least one segment",
    ],
  ])("%j", (spec, expected) => {
    expect(problems(oneColumn("c", spec))).toEqual([expected]);
  });

  it("refuses declaring the system columns", () => {
    expect(problems(oneColumn("legacy_tick", column({})))).toEqual([
      "mapping.collections.resumes.columns.legacy_tick: is a system column and is filled automatically",
    ]);
    expect(problems(oneColumn("legacy_id", column({})))).toEqual([
      "mapping.collections.resumes.columns.legacy_id: legacy_id is the key column and is filled from _key",
    ]);
  });

  it("refuses two collections filling one table", () => {
    expect(
      problems({
        collections: {
          resumes: { table: "resumes", columns: {} },
          cvs: { table: "resumes", columns: {} },
        },
      }),
    ).toEqual([
      "mapping.collections.cvs.table: table resumes is already filled by collection resumes",
    ]);
  });

  it("reports every independent problem of a spec at once, one line each", () => {
    const lines = problems({
      collections: {
        resumes: {
          table: "resumes",
          columns: {
            status: column({ cast: "enum" }),
            task_id: column({ cast: "uuid", default: "x" }),
            when: column({ cast: "timestamptz", onInvalid: "sometimes" }),
          },
        },
      },
    });
    expect(lines).toHaveLength(3);
    for (const line of lines)
      expect(line).toMatch(/^mapping\.collections\.resumes\.columns\.\w+\.\w+: /);
  });
});

describe("mapping spec: self-describing", () => {
  interface Introspectable {
    readonly description?: string;
    readonly _zod: { readonly def: Readonly<Record<string, unknown>> };
  }

  /** Whether the schema, or a wrapper's inner schema (optional, default, preprocess), is described. */
  function described(schema: Introspectable): boolean {
    if (schema.description !== undefined) return true;
    const def = schema._zod.def;
    const inner = (def["innerType"] ?? def["out"]) as Introspectable | undefined;
    return inner !== undefined && described(inner);
  }

  /** Every object property of the schema tree, with its path. */
  function properties(schema: Introspectable, path: string): [string, Introspectable][] {
    const def = schema._zod.def;
    const found: [string, Introspectable][] = [];
    const shape = def["shape"] as Readonly<Record<string, Introspectable>> | undefined;
    if (def["type"] === "object" && shape !== undefined) {
      for (const [key, child] of Object.entries(shape)) {
        found.push([`${path}.${key}`, child], ...properties(child, `${path}.${key}`));
      }
    }
    for (const next of ["innerType", "out", "valueType", "element"]) {
      const child = def[next] as Introspectable | undefined;
      if (child !== undefined) found.push(...properties(child, path));
    }
    return found;
  }

  it("describes every key of the mapping schema", () => {
    const all = properties(mappingSpecSchema as unknown as Introspectable, "mapping");
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter(([, schema]) => !described(schema)).map(([path]) => path)).toEqual([]);
  });
});
