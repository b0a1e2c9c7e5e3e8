/**
 * Document value → the text PostgreSQL receives for one column, or the reason it cannot be stored.
 *
 * Values are produced as text so the sink can pass whole columns as `text[]` parameters to one
 * `INSERT … SELECT FROM unnest(…)` statement and cast there (`$3::uuid[]`, `$6::jsonb[]`), without
 * serialising anything again. Every check here stands for a PostgreSQL refusal that would
 * otherwise abort the whole batch: the row is dead-lettered (or nulled, per policy) instead.
 */
import type { JsonValue } from "../events/events.js";
import { parseTimestamp } from "./parse-timestamp.js";
import {
  hasUnstorableText,
  inspectJson,
  stripUnstorableJson,
  toStorableText,
} from "./storable-text.js";

export const CAST_NAMES = [
  "text",
  "uuid",
  "timestamptz",
  "jsonb",
  "jsonb-object",
  "integer",
  "boolean",
  "enum",
] as const;

export type CastName = (typeof CAST_NAMES)[number];

/** The PostgreSQL type of a target column, as the sink names it in `$n::type[]`. */
export type PgType = "text" | "uuid" | "timestamptz" | "jsonb" | "integer" | "boolean" | "bigint";

export const PG_TYPE_OF_CAST: Readonly<Record<CastName, PgType>> = {
  text: "text",
  uuid: "uuid",
  timestamptz: "timestamptz",
  jsonb: "jsonb",
  "jsonb-object": "jsonb",
  integer: "integer",
  boolean: "boolean",
  enum: "text",
};

export const UNSTORABLE_TEXT_POLICIES = ["strip", "dead-letter"] as const;
export type UnstorableTextPolicy = (typeof UNSTORABLE_TEXT_POLICIES)[number];

export type CastFailureReason =
  | "wrong-type"
  | "not-in-enum"
  | "too-long"
  | "invalid-uuid"
  | "invalid-timestamp"
  | "not-an-object"
  | "out-of-range"
  | "non-finite-number"
  | "unstorable-text"
  | "unencodable";

export type CastResult =
  | {
      readonly ok: true;
      readonly text: string;
      /** True when U+0000 or unpaired surrogates were stripped to make the value storable. */
      readonly sanitized: boolean;
    }
  | { readonly ok: false; readonly reason: CastFailureReason; readonly detail: string };

export interface CastOptions {
  readonly cast: CastName;
  /** Allowed values of an `enum` cast. */
  readonly values?: readonly string[] | undefined;
  /** Maximum length in characters (code points), as `varchar(n)` counts. */
  readonly maxLength?: number | undefined;
  readonly onUnstorableText: UnstorableTextPolicy;
}

/** Casts a present, non-null value. */
export type Caster = (value: JsonValue) => CastResult;

const INT4_MIN = -(2 ** 31);
const INT4_MAX = 2 ** 31 - 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function compileCast(options: CastOptions): Caster {
  switch (options.cast) {
    case "text":
      return (value) =>
        typeof value === "string"
          ? storableString(value, options)
          : fail("wrong-type", `expected a string, got ${describe(value)}`);
    case "enum": {
      const allowed = new Set(options.values ?? []);
      const list = [...allowed].join("|");
      return (value) => {
        if (typeof value !== "string") {
          return fail("wrong-type", `expected one of ${list}, got ${describe(value)}`);
        }
        if (!allowed.has(value))
          return fail("not-in-enum", `${quote(value)} is not one of ${list}`);
        return { ok: true, text: value, sanitized: false };
      };
    }
    case "uuid":
      return (value) => {
        if (typeof value !== "string") {
          return fail("wrong-type", `expected a UUID string, got ${describe(value)}`);
        }
        if (!UUID.test(value)) return fail("invalid-uuid", `${quote(value)} is not a UUID`);
        return { ok: true, text: value.toLowerCase(), sanitized: false };
      };
    case "timestamptz":
      return (value) => {
        if (typeof value !== "string") {
          return fail("wrong-type", `expected an ISO-8601 string, got ${describe(value)}`);
        }
        const parsed = parseTimestamp(value);
        return parsed.ok
          ? { ok: true, text: parsed.text, sanitized: false }
          : fail("invalid-timestamp", parsed.detail);
      };
    case "jsonb":
      return (value) => encodeJson(value, options);
    case "jsonb-object":
      return (value) =>
        isPlainObject(value)
          ? encodeJson(value, options)
          : fail("not-an-object", `expected a JSON object, got ${describe(value)}`);
    case "integer":
      return (value) => {
        if (typeof value !== "number") {
          return fail("wrong-type", `expected an integer, got ${describe(value)}`);
        }
        if (!Number.isFinite(value)) return fail("non-finite-number", `${value} is not finite`);
        if (!Number.isInteger(value)) return fail("wrong-type", `${value} is not an integer`);
        if (value < INT4_MIN || value > INT4_MAX) {
          return fail("out-of-range", `${value} does not fit a 32-bit integer`);
        }
        return { ok: true, text: String(value), sanitized: false };
      };
    case "boolean":
      return (value) =>
        typeof value === "boolean"
          ? { ok: true, text: value ? "true" : "false", sanitized: false }
          : fail("wrong-type", `expected a boolean, got ${describe(value)}`);
  }
}

function storableString(value: string, options: CastOptions): CastResult {
  let text = value;
  let sanitized = false;
  if (hasUnstorableText(value)) {
    if (options.onUnstorableText === "dead-letter") {
      return fail("unstorable-text", "contains U+0000 or an unpaired surrogate");
    }
    text = toStorableText(value);
    sanitized = true;
  }
  const max = options.maxLength;
  // UTF-16 length is never below the code point count, so most values skip the exact count.
  if (max !== undefined && text.length > max) {
    const length = codePointLength(text);
    if (length > max) return fail("too-long", `${length} characters, at most ${max} allowed`);
  }
  return { ok: true, text, sanitized };
}

function encodeJson(value: JsonValue, options: CastOptions): CastResult {
  try {
    const inspection = inspectJson(value);
    if (inspection.nonFinitePath !== undefined) {
      return fail("non-finite-number", `non-finite number at ${inspection.nonFinitePath}`);
    }
    let storable = value;
    if (inspection.unstorableText) {
      if (options.onUnstorableText === "dead-letter") {
        return fail("unstorable-text", "a string or key contains U+0000 or an unpaired surrogate");
      }
      const stripped = stripUnstorableJson(value);
      if (!stripped.ok) return fail("unstorable-text", stripped.detail);
      storable = stripped.value;
    }
    return { ok: true, text: JSON.stringify(storable), sanitized: inspection.unstorableText };
  } catch (error) {
    // Nesting deep enough to exhaust the stack in JSON.stringify.
    const message = error instanceof Error ? error.message : String(error);
    return fail("unencodable", `cannot encode as JSON: ${message}`);
  }
}

function fail(reason: CastFailureReason, detail: string): CastResult {
  return { ok: false, reason, detail };
}

export function isPlainObject(value: JsonValue): value is { readonly [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Characters as `varchar(n)` counts them: code points, not UTF-16 units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

function describe(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${quote(value)}`;
  return `${typeof value} ${String(value)}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
