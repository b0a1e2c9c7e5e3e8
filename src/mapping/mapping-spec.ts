/**
 * The declarative mapping: which ArangoDB collection fills which PostgreSQL table, and how each
 * column is computed from a document (DESIGN.md §6). It lives under the `mapping:` key of the
 * config file; this schema is its single source of truth (every key is described).
 *
 * Every mapped row also gets three system columns that are not declared here: the key column
 * (`legacy_id` ← `_key`), `legacy_rev` (← `_rev`) and `legacy_tick` (← the event's WAL tick, or
 * the snapshot tick). The upsert guard compares `legacy_tick` (DESIGN.md §2 invariant 2).
 */
import { z } from "zod";
import {
  CAST_NAMES,
  UNSTORABLE_TEXT_POLICIES,
  codePointLength,
  compileCast,
  type CastName,
} from "./cast-value.js";

/** The system columns every mapped table carries besides the key column. */
export const REVISION_COLUMN = "legacy_rev";
export const TICK_COLUMN = "legacy_tick";
export const DEFAULT_KEY_COLUMN = "legacy_id";

/** `_key`, `_id`, `_rev` are stored through the system columns, never as data. */
export const SYSTEM_ATTRIBUTES: readonly string[] = ["_key", "_id", "_rev"];

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain SQL identifier (letters, digits, _)")
  .max(63, "must be at most 63 characters (PostgreSQL's NAMEDATALEN)");

const pathSegment = z.union([
  z.string().min(1).describe("An object attribute, taken literally (dots included)."),
  z.number().int().min(0).describe("An array index."),
]);

export const jsonPathSchema = z
  .union([z.string().min(1), z.array(pathSegment).min(1, "a path needs at least one segment")])
  .describe(
    "Where the value is in the document. A string names ONE top-level attribute, taken " +
      'literally even when it contains dots (ATSPro has an attribute literally named "parsed_data.title"). ' +
      "A list walks nested values: strings are attribute names, non-negative integers array " +
      "indexes, e.g. [parsed_data, title].",
  );

export type JsonPath = z.output<typeof jsonPathSchema>;

/** YAML reads a bare `null` as null, not as the string "null": accept both. */
const nullAsString = (value: unknown): unknown => (value === null ? "null" : value);

const onMissingParent = z
  .preprocess(nullAsString, z.enum(["park", "null", "dead-letter"]))
  .describe(
    "When no parent row matches: park (hold the row and retry it whenever parents arrive; " +
      "dead-letter it after parkTimeoutSeconds), null (store NULL in this column) or " +
      "dead-letter (at once).",
  );

export const referenceSchema = z
  .strictObject({
    table: identifier.describe(
      'The parent table, mirrored or not (e.g. the better-auth table "user", quoted by the sink).',
    ),
    lookupColumn: identifier
      .default(DEFAULT_KEY_COLUMN)
      .describe(
        "The parent column the document value is matched against: legacy_id for a mirrored " +
          "parent (the document holds the parent's _key), or the parent's own key column for a " +
          'table PostgreSQL already owns ("user".id, tasks.id).',
      ),
    valueColumn: identifier
      .default("id")
      .describe(
        "The parent column whose value is stored in this column. Equal to lookupColumn: the " +
          "value is stored as is once the parent is known to exist. Different: the sink " +
          "replaces the looked-up value with the parent's valueColumn (legacy_id → id).",
      ),
    onMissingParent: onMissingParent.default("park"),
    parkTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(86_400)
      .describe("How long a parked row waits for its parent before it is dead-lettered."),
    missingParentReason: z
      .string()
      .min(1)
      .optional()
      .describe('Reason recorded when parked or dead-lettered; default "<table> not found".'),
  })
  .describe(
    "A foreign key. The mapping only describes it; the sink checks or resolves the parent, " +
      "because that needs the database.",
  );

const onInvalid = z
  .preprocess(nullAsString, z.enum(["dead-letter", "null", "default"]))
  .describe(
    "When the value is present but cannot be cast: dead-letter the row with the reason, " +
      "store NULL, or store the column's default.",
  );

export const columnSchema = z
  .strictObject({
    path: jsonPathSchema.optional(),
    fallbackPaths: z
      .array(jsonPathSchema)
      .optional()
      .describe("Paths tried in order when the value at `path` is missing or null."),
    rest: z
      .strictObject({
        except: z
          .array(z.string().min(1))
          .default([])
          .describe("Top-level attributes left out (besides _key, _id and _rev)."),
      })
      .optional()
      .describe(
        "Instead of `path`: an object of every top-level attribute of the document except " +
          "_key, _id, _rev and the listed ones, in document order.",
      ),
    cast: z
      .enum(CAST_NAMES)
      .describe(
        "How the value is checked and encoded: text, uuid, timestamptz (ISO-8601; naive means " +
          "UTC), jsonb (any JSON), jsonb-object (must be an object), integer (32-bit), " +
          "boolean, enum (one of `values`, stored as text).",
      ),
    values: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("The allowed values of an enum cast (the table's CHECK list)."),
    maxLength: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("For text and enum: the varchar(n) limit, in characters."),
    required: z
      .boolean()
      .default(false)
      .describe(
        "The column is NOT NULL: a missing or null value with no default dead-letters the row.",
      ),
    default: z
      .json()
      .optional()
      .describe(
        "Used when the value is missing or null (ArangoDB keeps nulls; both count as absent), " +
          "and by onInvalid: default. Checked against the cast when the spec is loaded.",
      ),
    defaultFrom: z
      .enum(["revision-time"])
      .optional()
      .describe(
        "A computed default, after `default`: revision-time is the write time encoded in the " +
          "document's _rev (timestamptz columns only). Deterministic: the snapshot and the " +
          "stream compute the same value for the same revision.",
      ),
    onInvalid: onInvalid.default("dead-letter"),
    onUnstorableText: z
      .enum(UNSTORABLE_TEXT_POLICIES)
      .default("strip")
      .describe(
        "PostgreSQL text and jsonb refuse U+0000 (and jsonb unpaired surrogates) anywhere, " +
          "keys included: strip removes U+0000 and replaces unpaired surrogates with U+FFFD, " +
          "noting a warning; dead-letter refuses the row.",
      ),
    references: referenceSchema.optional(),
  })
  .superRefine((column, context) => {
    for (const problem of columnProblems(column)) {
      context.addIssue({ code: "custom", path: [...problem.path], message: problem.message });
    }
  })
  .describe("One target column. Exactly one of `path` or `rest`.");

export type ColumnSpec = z.output<typeof columnSchema>;
export type ReferenceSpec = z.output<typeof referenceSchema>;

export const collectionSchema = z
  .strictObject({
    table: identifier.describe("The target table."),
    keyColumn: identifier
      .default(DEFAULT_KEY_COLUMN)
      .describe("The unique column holding the document _key (the upsert conflict target)."),
    ignore: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Top-level attributes deliberately not mirrored. Any other attribute no column reads " +
          "is reported as a warning, so data is never dropped unnoticed.",
      ),
    columns: z
      .record(
        identifier.refine(
          (name) => name !== REVISION_COLUMN && name !== TICK_COLUMN,
          "is a system column and is filled automatically",
        ),
        columnSchema,
      )
      .describe("Target columns, in the order the row lists them."),
  })
  .superRefine((mapping, context) => {
    if (Object.hasOwn(mapping.columns, mapping.keyColumn)) {
      context.addIssue({
        code: "custom",
        path: ["columns", mapping.keyColumn],
        message: `${mapping.keyColumn} is the key column and is filled from _key`,
      });
    }
  })
  .describe("How one source collection fills one table.");

export type CollectionMappingSpec = z.output<typeof collectionSchema>;

export const mappingSpecSchema = z
  .strictObject({
    collections: z
      .record(z.string().min(1), collectionSchema)
      .describe("ArangoDB collection name → its mapping. Unlisted collections are skipped."),
  })
  .superRefine((spec, context) => {
    const tables = new Map<string, string>();
    for (const [collection, mapping] of Object.entries(spec.collections)) {
      const owner = tables.get(mapping.table);
      if (owner !== undefined) {
        context.addIssue({
          code: "custom",
          path: ["collections", collection, "table"],
          message: `table ${mapping.table} is already filled by collection ${owner}`,
        });
      }
      tables.set(mapping.table, collection);
    }
  })
  .describe("The `mapping:` section of the config file.");

export type MappingSpec = z.output<typeof mappingSpecSchema>;

export type MappingSpecResult =
  | { readonly ok: true; readonly spec: MappingSpec }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Validates the `mapping:` section; a bad spec yields one line per problem. */
export function parseMappingSpec(input: unknown, prefix = "mapping"): MappingSpecResult {
  const parsed = mappingSpecSchema.safeParse(input);
  if (parsed.success) return { ok: true, spec: parsed.data };
  const problems = parsed.error.issues.flatMap((issue) => {
    const where = [prefix, ...issue.path.map(String)].join(".");
    // A bad record key wraps the key's own issues; "Invalid key in record" alone says too little.
    const messages =
      issue.code === "invalid_key" ? issue.issues.map((inner) => inner.message) : [issue.message];
    return messages.map((message) => `${where}: ${message}`);
  });
  return { ok: false, problems };
}

interface Problem {
  readonly path: readonly string[];
  readonly message: string;
}

const REFERENCE_CASTS: readonly CastName[] = ["text", "uuid", "integer"];

function columnProblems(column: ColumnSpec): Problem[] {
  const problems: Problem[] = [];
  const problem = (path: readonly string[], message: string): void => {
    problems.push({ path, message });
  };

  if ((column.path === undefined) === (column.rest === undefined)) {
    problem([], "give exactly one of `path` or `rest`");
  }
  if (column.fallbackPaths !== undefined && column.path === undefined) {
    problem(["fallbackPaths"], "fallbackPaths needs a `path`");
  }
  if (column.rest !== undefined && column.cast !== "jsonb" && column.cast !== "jsonb-object") {
    problem(["cast"], "a `rest` column holds an object: use jsonb or jsonb-object");
  }
  if ((column.cast === "enum") !== (column.values !== undefined)) {
    problem(["values"], "`values` is required for cast enum and only allowed there");
  }
  if (column.maxLength !== undefined && column.cast !== "text" && column.cast !== "enum") {
    problem(["maxLength"], "maxLength applies to text and enum casts only");
  }
  if (column.values !== undefined && column.maxLength !== undefined) {
    const max = column.maxLength;
    for (const value of column.values.filter((v) => codePointLength(v) > max)) {
      problem(["values"], `${JSON.stringify(value)} is longer than maxLength ${max}`);
    }
  }
  if (column.defaultFrom === "revision-time" && column.cast !== "timestamptz") {
    problem(["defaultFrom"], "revision-time is a timestamp: use it with cast timestamptz");
  }
  const hasDefault = column.default !== undefined || column.defaultFrom !== undefined;
  if (column.onInvalid === "default" && !hasDefault) {
    problem(["onInvalid"], "onInvalid default needs a `default` or `defaultFrom`");
  }
  if (column.onInvalid === "null" && column.required) {
    problem(["onInvalid"], "a required column cannot be set to null: use dead-letter or default");
  }
  if (column.default !== undefined && column.default !== null) {
    const cast = compileCast({
      cast: column.cast,
      values: column.values,
      maxLength: column.maxLength,
      onUnstorableText: "dead-letter",
    })(column.default);
    if (!cast.ok)
      problem(["default"], `the default does not fit cast ${column.cast}: ${cast.detail}`);
  }
  if (column.default === null && column.required) {
    problem(["default"], "a required column cannot default to null");
  }
  const reference = column.references;
  if (reference !== undefined) {
    if (!REFERENCE_CASTS.includes(column.cast)) {
      problem(["references"], `a reference holds a key: use cast ${REFERENCE_CASTS.join(", ")}`);
    }
    if (reference.onMissingParent === "null" && column.required) {
      problem(
        ["references", "onMissingParent"],
        "a required column cannot be set to null: use park or dead-letter",
      );
    }
  }
  return problems;
}
