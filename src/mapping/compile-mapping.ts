/**
 * A validated mapping spec → one row builder per mapped collection.
 *
 * `buildRow` never throws and never does I/O. It returns either a row whose values are text
 * ready for the sink's `unnest` upsert (one entry per `columns` item, in that order), or the
 * reason the document cannot become a row (dead-letter it with the raw document). Foreign keys
 * are described, not resolved: resolving needs the database, so each row lists its
 * `parents` and the sink checks, translates, parks or dead-letters per `onMissingParent`.
 */
import type { JsonObject, JsonValue } from "../events/events.js";
import type { Tick } from "../events/tick.js";
import { revisionTimeMs } from "../source/revision.js";
import {
  PG_TYPE_OF_CAST,
  compileCast,
  isPlainObject,
  type CastFailureReason,
  type Caster,
  type PgType,
} from "./cast-value.js";
import {
  REVISION_COLUMN,
  SYSTEM_ATTRIBUTES,
  TICK_COLUMN,
  parseMappingSpec,
  type CollectionMappingSpec,
  type ColumnSpec,
  type JsonPath,
  type MappingSpec,
} from "./mapping-spec.js";
import { formatEpochMilliseconds } from "./parse-timestamp.js";

export interface TargetColumn {
  readonly name: string;
  readonly type: PgType;
  /** Where the value comes from: the document, or one of the system columns. */
  readonly source: "key" | "document" | "revision" | "tick";
}

export type MissingParentPolicy = "park" | "null" | "dead-letter";

/** A foreign key the sink must check (lookupColumn = valueColumn) or translate (≠). */
export interface ParentReference {
  readonly column: string;
  /** Position of the column in `MappedRow.values`, which holds the looked-up value. */
  readonly columnIndex: number;
  readonly table: string;
  readonly lookupColumn: string;
  readonly valueColumn: string;
  /** The document's value, as text: matched against the parent's `lookupColumn`. */
  readonly value: string;
  readonly onMissingParent: MissingParentPolicy;
  readonly parkTimeoutSeconds: number;
  /** What parking or dead-lettering records, e.g. "user not found". */
  readonly reason: string;
}

export interface MappedRow {
  readonly table: string;
  readonly key: string;
  readonly tick: Tick;
  /** Text-encoded values (jsonb as JSON text, timestamptz as ISO text), NULL as `null`. */
  readonly values: readonly (string | null)[];
  readonly parents: readonly ParentReference[];
}

/** Not failures: the row is stored, and the caller counts and logs these. */
export type RowWarning =
  | { readonly kind: "text-stripped"; readonly column: string }
  | {
      readonly kind: "invalid-replaced";
      readonly column: string;
      readonly reason: CastFailureReason;
      readonly detail: string;
      readonly replacement: "null" | "default";
    }
  /** A top-level attribute no column reads and `ignore` does not list (names come from data). */
  | { readonly kind: "unmapped-attribute"; readonly attribute: string };

export type RowFailureReason = CastFailureReason | "missing-required";

export type BuildRowResult =
  | { readonly ok: true; readonly row: MappedRow; readonly warnings: readonly RowWarning[] }
  | {
      readonly ok: false;
      /** Stable code, usable as a metric label. */
      readonly reason: RowFailureReason;
      readonly column: string;
      readonly detail: string;
    };

/** What a row is built from: a `DocumentUpserted` event, or a snapshot document at its tick. */
export interface RowSource {
  readonly key: string;
  readonly rev: string;
  readonly tick: Tick;
  readonly document: JsonObject;
}

export interface CompiledTable {
  readonly collection: string;
  readonly table: string;
  readonly keyColumn: string;
  /** Key column first, then the declared columns in spec order, then legacy_rev, legacy_tick. */
  readonly columns: readonly TargetColumn[];
  /** The foreign keys of this table, as every row's `parents` will describe them. */
  readonly references: readonly Omit<ParentReference, "value">[];
  /** The distinct tables referenced, in column order (the sink applies parents first). */
  readonly parentTables: readonly string[];
  buildRow(source: RowSource): BuildRowResult;
}

export interface CompiledMapping {
  readonly tables: readonly CompiledTable[];
  /** The mapped collection names (every other collection is counted and skipped). */
  readonly collections: readonly string[];
  forCollection(collection: string): CompiledTable | undefined;
}

export type LoadMappingResult =
  | { readonly ok: true; readonly mapping: CompiledMapping }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Validates the `mapping:` section and compiles it. */
export function loadMapping(input: unknown): LoadMappingResult {
  const parsed = parseMappingSpec(input);
  if (!parsed.ok) return parsed;
  return { ok: true, mapping: compileMapping(parsed.spec) };
}

export function compileMapping(spec: MappingSpec): CompiledMapping {
  const byCollection = new Map<string, CompiledTable>();
  for (const [collection, mapping] of Object.entries(spec.collections)) {
    byCollection.set(collection, compileTable(collection, mapping));
  }
  return {
    tables: [...byCollection.values()],
    collections: [...byCollection.keys()],
    forCollection: (collection) => byCollection.get(collection),
  };
}

type Reader = (document: JsonObject) => JsonValue | undefined;

/** Absent, null, or a default's text. `undefined` means "no default applies". */
type DefaultText = (source: RowSource) => string | null | undefined;

interface CompiledColumn {
  readonly name: string;
  readonly index: number;
  readonly read: Reader;
  readonly cast: Caster;
  readonly required: boolean;
  readonly onInvalid: ColumnSpec["onInvalid"];
  readonly defaultText: DefaultText;
  readonly reference: Omit<ParentReference, "value"> | undefined;
}

function compileTable(collection: string, mapping: CollectionMappingSpec): CompiledTable {
  const table = mapping.table;
  const declared = Object.entries(mapping.columns);
  const columns: TargetColumn[] = [
    { name: mapping.keyColumn, type: "text", source: "key" },
    ...declared.map(([name, column]): TargetColumn => ({
      name,
      type: PG_TYPE_OF_CAST[column.cast],
      source: "document",
    })),
    { name: REVISION_COLUMN, type: "text", source: "revision" },
    { name: TICK_COLUMN, type: "bigint", source: "tick" },
  ];
  const compiled = declared.map(([name, column], position) =>
    compileColumn(name, position + 1, column),
  );
  const consumed = consumedAttributes(mapping);

  function buildRow(source: RowSource): BuildRowResult {
    const values: (string | null)[] = new Array<string | null>(columns.length).fill(null);
    const parents: ParentReference[] = [];
    let warnings: RowWarning[] | undefined;
    const warn = (warning: RowWarning): void => {
      (warnings ??= []).push(warning);
    };
    values[0] = source.key;

    for (const column of compiled) {
      const outcome = columnValue(column, source, warn);
      if (typeof outcome === "object" && outcome !== null) {
        return { ok: false, column: column.name, ...outcome };
      }
      values[column.index] = outcome;
      if (outcome !== null && column.reference !== undefined) {
        parents.push({ ...column.reference, value: outcome });
      }
    }
    values[columns.length - 2] = source.rev;
    values[columns.length - 1] = source.tick.toString();

    if (consumed !== undefined) {
      for (const attribute of Object.keys(source.document)) {
        if (!consumed.has(attribute)) warn({ kind: "unmapped-attribute", attribute });
      }
    }
    return {
      ok: true,
      row: { table, key: source.key, tick: source.tick, values, parents },
      warnings: warnings ?? [],
    };
  }

  const references = compiled.flatMap((column) =>
    column.reference === undefined ? [] : [column.reference],
  );
  return {
    collection,
    table,
    keyColumn: mapping.keyColumn,
    columns,
    references,
    parentTables: [...new Set(references.map((reference) => reference.table))],
    buildRow,
  };
}

interface ColumnFailure {
  readonly reason: RowFailureReason;
  readonly detail: string;
}

function columnValue(
  column: CompiledColumn,
  source: RowSource,
  warn: (warning: RowWarning) => void,
): string | null | ColumnFailure {
  const raw = column.read(source.document);
  if (raw === undefined || raw === null) {
    const fallback = column.defaultText(source);
    if (fallback !== undefined && fallback !== null) return fallback;
    if (column.required) {
      return { reason: "missing-required", detail: `no value for required column ${column.name}` };
    }
    return null;
  }
  const cast = column.cast(raw);
  if (cast.ok) {
    if (cast.sanitized) warn({ kind: "text-stripped", column: column.name });
    return cast.text;
  }
  const failure = { reason: cast.reason, detail: `${column.name}: ${cast.detail}` };
  switch (column.onInvalid) {
    case "dead-letter":
      return failure;
    case "null":
      warn({ kind: "invalid-replaced", column: column.name, ...failure, replacement: "null" });
      return null;
    case "default": {
      const fallback = column.defaultText(source);
      if (fallback === undefined || (fallback === null && column.required)) return failure;
      warn({ kind: "invalid-replaced", column: column.name, ...failure, replacement: "default" });
      return fallback;
    }
  }
}

function compileColumn(name: string, index: number, column: ColumnSpec): CompiledColumn {
  const cast = compileCast({
    cast: column.cast,
    values: column.values,
    maxLength: column.maxLength,
    onUnstorableText: column.onUnstorableText,
  });
  const reference = column.references;
  return {
    name,
    index,
    read: compileReader(column),
    cast,
    required: column.required,
    onInvalid: column.onInvalid,
    defaultText: compileDefault(column, cast),
    reference:
      reference === undefined
        ? undefined
        : {
            column: name,
            columnIndex: index,
            table: reference.table,
            lookupColumn: reference.lookupColumn,
            valueColumn: reference.valueColumn,
            onMissingParent: reference.onMissingParent,
            parkTimeoutSeconds: reference.parkTimeoutSeconds,
            reason: reference.missingParentReason ?? `${reference.table} not found`,
          },
  };
}

function compileDefault(column: ColumnSpec, cast: Caster): DefaultText {
  const literal = column.default;
  if (literal !== undefined) {
    if (literal === null) return () => null;
    const encoded = cast(literal);
    // The spec parser already refused defaults that do not fit the cast.
    const text = encoded.ok ? encoded.text : null;
    return () => text;
  }
  if (column.defaultFrom === "revision-time") {
    return (source) => {
      const ms = revisionTimeMs(source.rev);
      return ms === undefined ? undefined : formatEpochMilliseconds(ms);
    };
  }
  return () => undefined;
}

function compileReader(column: ColumnSpec): Reader {
  if (column.rest !== undefined) {
    const excluded = new Set([...SYSTEM_ATTRIBUTES, ...column.rest.except]);
    return (document) => {
      const rest: Record<string, JsonValue> = {};
      for (const key of Object.keys(document)) {
        const value = document[key];
        if (excluded.has(key) || value === undefined) continue;
        if (key === "__proto__") {
          // Assignment would set the prototype; the attribute must stay a plain property.
          Object.defineProperty(rest, key, {
            value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          rest[key] = value;
        }
      }
      return rest;
    };
  }
  const paths = [column.path, ...(column.fallbackPaths ?? [])].filter(
    (path): path is JsonPath => path !== undefined,
  );
  const readers = paths.map(compilePath);
  const [only] = readers;
  if (readers.length === 1 && only !== undefined) return only;
  return (document) => {
    for (const read of readers) {
      const value = read(document);
      if (value !== undefined && value !== null) return value;
    }
    return undefined;
  };
}

function compilePath(path: JsonPath): Reader {
  const segments = typeof path === "string" ? [path] : path;
  const [first] = segments;
  if (segments.length === 1 && typeof first === "string") {
    return (document) => (Object.hasOwn(document, first) ? document[first] : undefined);
  }
  return (document) => {
    let current: JsonValue = document;
    for (const segment of segments) {
      let next: JsonValue | undefined;
      if (typeof segment === "number") {
        next = Array.isArray(current) ? (current as readonly JsonValue[])[segment] : undefined;
      } else if (isPlainObject(current) && Object.hasOwn(current, segment)) {
        next = current[segment];
      }
      if (next === undefined) return undefined;
      current = next;
    }
    return current;
  };
}

/**
 * The top-level attributes the mapping accounts for, or undefined when a `rest` column takes
 * every remaining attribute (nothing can go unnoticed then).
 */
function consumedAttributes(mapping: CollectionMappingSpec): ReadonlySet<string> | undefined {
  const consumed = new Set([...SYSTEM_ATTRIBUTES, ...mapping.ignore]);
  for (const column of Object.values(mapping.columns)) {
    if (column.rest !== undefined) return undefined;
    for (const path of [column.path, ...(column.fallbackPaths ?? [])]) {
      if (path === undefined) continue;
      const first = typeof path === "string" ? path : path[0];
      if (typeof first === "string") consumed.add(first);
    }
  }
  return consumed;
}
