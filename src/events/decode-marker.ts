/**
 * NDJSON line → `Marker`. This is the hot path (one call per WAL entry), so the few fields each
 * marker type needs are checked by hand instead of through a schema library.
 *
 * Never throws: bad input becomes `{ ok: false, reason, detail, line }` so the caller can
 * dead-letter the raw line and keep going (DESIGN.md §2 invariant 4). A well-formed marker of an
 * unknown type decodes to `kind: "unknown"`; skipping it is the caller's decision.
 *
 * Numbers: `JSON.parse` turns an integer literal beyond ±2^53 inside a document into the nearest
 * double (protocol §10). `tick` and `tid` are JSON strings and are kept exact (bigint / string).
 */
import {
  MarkerType,
  type ArangoDocument,
  type CollectionType,
  type JsonObject,
  type Marker,
} from "./events.js";
import { parseTick, type Tick } from "./tick.js";

export type DecodeFailureReason =
  | "invalid-json"
  | "not-an-object"
  | "invalid-type"
  | "invalid-tick"
  | "invalid-field"
  | "legacy-format";

export type DecodeResult =
  | { readonly ok: true; readonly marker: Marker }
  | {
      readonly ok: false;
      /** Stable code, usable as a metric label. */
      readonly reason: DecodeFailureReason;
      /** One line for the operator; may quote field names, never document contents. */
      readonly detail: string;
      readonly line: string;
    };

type Fields = Record<string, unknown>;

/** Thrown inside the decoder only, and always caught by `decodeMarker`. */
class InvalidField extends Error {
  constructor(
    readonly reason: DecodeFailureReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export function decodeMarker(line: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    const message = error instanceof Error ? error.message : "unparseable";
    return { ok: false, reason: "invalid-json", detail: `not JSON: ${message}`, line };
  }
  if (!isObject(parsed)) {
    return { ok: false, reason: "not-an-object", detail: "a marker must be a JSON object", line };
  }
  const decoded = decodeFields(parsed);
  if (decoded instanceof InvalidField) {
    return { ok: false, reason: decoded.reason, detail: decoded.detail, line };
  }
  return { ok: true, marker: decoded };
}

function decodeFields(fields: Fields): Marker | InvalidField {
  const type = fields["type"];
  if (typeof type !== "number" || !Number.isInteger(type)) {
    return new InvalidField("invalid-type", '"type" must be an integer');
  }
  const tickText = fields["tick"];
  const tick = typeof tickText === "string" ? parseTick(tickText) : undefined;
  if (tick === undefined) {
    return new InvalidField(
      "invalid-tick",
      `${type} marker: "tick" must be a decimal uint64 string`,
    );
  }
  if (fields["db"] === undefined && (fields["database"] !== undefined || "cid" in fields)) {
    // The pre-3.4 logger-follow format (protocol §7.6): numeric database ids, no `db` name.
    return new InvalidField(
      "legacy-format",
      `${type} marker in the logger-follow format (database/cid); tail /_api/wal/tail instead`,
    );
  }
  try {
    return decodeTyped(type, tick, fields);
  } catch (error) {
    if (error instanceof InvalidField) return error;
    return new InvalidField("invalid-field", `${type} marker: ${String(error)}`);
  }
}

function decodeTyped(type: number, tick: Tick, fields: Fields): Marker {
  switch (type) {
    case MarkerType.documentUpserted: {
      const data = requireObject(type, fields, "data");
      return {
        kind: "document-upsert",
        type,
        tick,
        db: requireString(type, fields, "db"),
        cuid: requireString(type, fields, "cuid"),
        tid: requireTid(type, fields),
        key: requireString(type, data, "_key", "data._key"),
        rev: requireString(type, data, "_rev", "data._rev"),
        document: data as ArangoDocument,
      };
    }
    case MarkerType.documentRemoved: {
      const data = requireObject(type, fields, "data");
      return {
        kind: "document-remove",
        type,
        tick,
        db: requireString(type, fields, "db"),
        cuid: requireString(type, fields, "cuid"),
        tid: requireTid(type, fields),
        key: requireString(type, data, "_key", "data._key"),
        rev: requireString(type, data, "_rev", "data._rev"),
      };
    }
    case MarkerType.transactionBegun:
      return {
        kind: "transaction-begin",
        type,
        tick,
        db: db(type, fields),
        tid: tid(type, fields),
      };
    case MarkerType.transactionCommitted:
      return {
        kind: "transaction-commit",
        type,
        tick,
        db: db(type, fields),
        tid: tid(type, fields),
      };
    case MarkerType.transactionAborted:
      return {
        kind: "transaction-abort",
        type,
        tick,
        db: db(type, fields),
        tid: tid(type, fields),
      };
    case MarkerType.collectionCreated: {
      const data = requireObject(type, fields, "data");
      return {
        kind: "collection-create",
        type,
        tick,
        db: db(type, fields),
        cuid: requireString(type, fields, "cuid"),
        name: requireString(type, data, "name", "data.name"),
        collectionType: collectionTypeOf(data["type"]),
        data: data as JsonObject,
      };
    }
    case MarkerType.collectionDropped:
      return {
        kind: "collection-drop",
        type,
        tick,
        db: db(type, fields),
        cuid: cuid(type, fields),
      };
    case MarkerType.collectionRenamed: {
      const data = requireObject(type, fields, "data");
      return {
        kind: "collection-rename",
        type,
        tick,
        db: db(type, fields),
        cuid: requireString(type, fields, "cuid"),
        name: requireString(type, data, "name", "data.name"),
      };
    }
    case MarkerType.collectionChanged:
      return {
        kind: "collection-change",
        type,
        tick,
        db: db(type, fields),
        cuid: requireString(type, fields, "cuid"),
        data: requireObject(type, fields, "data") as JsonObject,
      };
    case MarkerType.collectionTruncated:
      return {
        kind: "collection-truncate",
        type,
        tick,
        db: db(type, fields),
        cuid: cuid(type, fields),
      };
    case MarkerType.databaseCreated: {
      const data = fields["data"];
      return {
        kind: "database-create",
        type,
        tick,
        db: db(type, fields),
        data: isObject(data) ? (data as JsonObject) : undefined,
      };
    }
    case MarkerType.databaseDropped:
      return { kind: "database-drop", type, tick, db: db(type, fields) };
    case MarkerType.indexCreated:
    case MarkerType.indexDropped:
    case MarkerType.viewCreated:
    case MarkerType.viewDropped:
    case MarkerType.viewChanged: {
      const cuidValue = fields["cuid"];
      return {
        kind: "ignored-ddl",
        type,
        tick,
        db: db(type, fields),
        cuid: typeof cuidValue === "string" ? cuidValue : undefined,
      };
    }
    default: {
      const dbValue = fields["db"];
      const tidValue = fields["tid"];
      return {
        kind: "unknown",
        type,
        tick,
        db: typeof dbValue === "string" ? dbValue : undefined,
        tid: typeof tidValue === "string" ? tidValue : undefined,
        raw: fields as JsonObject,
      };
    }
  }
}

const db = (type: number, fields: Fields): string => requireString(type, fields, "db");
const cuid = (type: number, fields: Fields): string => requireString(type, fields, "cuid");
const tid = (type: number, fields: Fields): string => requireTid(type, fields);

function requireString(type: number, fields: Fields, name: string, label = name): string {
  const value = fields[name];
  if (typeof value === "string" && value.length > 0) return value;
  throw new InvalidField("invalid-field", `${type} marker: "${label}" must be a non-empty string`);
}

function requireTid(type: number, fields: Fields): string {
  const value = fields["tid"];
  if (typeof value === "string" && parseTick(value) !== undefined) return value;
  throw new InvalidField("invalid-field", `${type} marker: "tid" must be a decimal uint64 string`);
}

function requireObject(type: number, fields: Fields, name: string): Fields {
  const value = fields[name];
  if (isObject(value)) return value;
  throw new InvalidField("invalid-field", `${type} marker: "${name}" must be an object`);
}

function collectionTypeOf(value: unknown): CollectionType | undefined {
  if (value === 2) return "document";
  if (value === 3) return "edge";
  return undefined;
}

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Framing: every marker line ends with "\n", the last one included (protocol §7.1).

export interface SplitBody {
  /** Complete lines, without their "\n"; empty lines are dropped. */
  readonly lines: string[];
  /**
   * Text after the last "\n": a line the response did not finish (dropped connection, truncated
   * body). Undefined when the body ends with "\n" or is empty. Never decode it as a marker: the
   * caller re-reads from the last applied tick.
   */
  readonly torn: string | undefined;
}

export function splitLines(body: string): SplitBody {
  if (body.length === 0) return { lines: [], torn: undefined };
  const parts = body.split("\n");
  const last = parts.pop() ?? "";
  return {
    lines: parts.filter((line) => line.length > 0),
    torn: last.length > 0 ? last : undefined,
  };
}

/**
 * The same framing for a body that arrives in chunks. Chunks are strings: decode bytes with a
 * streaming `TextDecoder` first, so a multi-byte character split between chunks stays whole.
 */
export class LineSplitter {
  private pending = "";

  /** Returns the lines completed by this chunk. */
  push(chunk: string): string[] {
    if (chunk.length === 0) return [];
    const parts = (this.pending + chunk).split("\n");
    this.pending = parts.pop() ?? "";
    return parts.filter((line) => line.length > 0);
  }

  /** Ends the body; returns the torn last line, if any, and resets the splitter. */
  finish(): string | undefined {
    const torn = this.pending;
    this.pending = "";
    return torn.length > 0 ? torn : undefined;
  }
}
