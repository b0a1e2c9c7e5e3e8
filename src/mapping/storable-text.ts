/**
 * Text ArangoDB stores but PostgreSQL refuses.
 *
 * - U+0000: `text` and `jsonb` both reject it ("invalid byte sequence" / "unsupported Unicode
 *   escape sequence"), inside string values and object keys alike. PDF-extracted resume text is
 *   where it shows up in practice.
 * - Unpaired UTF-16 surrogates: `JSON.stringify` writes them as `\udXXX` escapes, which `jsonb`
 *   rejects; in a `text` parameter the driver's UTF-8 encoding silently turns them into U+FFFD.
 *
 * Stripping removes U+0000 and replaces each unpaired surrogate with U+FFFD, the same character
 * the text path would have produced anyway, so both column kinds agree.
 */
import type { JsonValue } from "../events/events.js";

// eslint-disable-next-line no-control-regex -- U+0000 is exactly the character PostgreSQL refuses.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

export function hasUnstorableText(text: string): boolean {
  return UNSTORABLE.test(text);
}

export function toStorableText(text: string): string {
  return text.replace(UNSTORABLE_ALL, (match) => (match === "\u0000" ? "" : "\ufffd"));
}

/** What a walk over a JSON value found; `nonFinitePath` names the first non-finite number. */
export interface JsonInspection {
  readonly unstorableText: boolean;
  readonly nonFinitePath: string | undefined;
}

/**
 * Walks a JSON value once, iteratively (a deeply nested value must not overflow the stack), and
 * reports what would make PostgreSQL refuse it. Non-finite numbers come from `JSON.parse` of
 * literals like `1e999`; `JSON.stringify` would silently write them as `null`. Paths are only
 * built on the rare failure, so the common walk allocates nothing per node but the stack.
 */
export function inspectJson(value: JsonValue): JsonInspection {
  let unstorableText = false;
  const stack: JsonValue[] = [value];
  for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
    if (typeof current === "string") {
      if (!unstorableText && UNSTORABLE.test(current)) unstorableText = true;
    } else if (typeof current === "number") {
      if (!Number.isFinite(current)) {
        return { unstorableText, nonFinitePath: findNonFinitePath(value) };
      }
    } else if (Array.isArray(current)) {
      for (const child of current as readonly JsonValue[]) stack.push(child);
    } else if (current !== null && typeof current === "object") {
      const object = current as { readonly [key: string]: JsonValue };
      for (const key of Object.keys(object)) {
        if (!unstorableText && UNSTORABLE.test(key)) unstorableText = true;
        const child = object[key];
        if (child !== undefined) stack.push(child);
      }
    }
  }
  return { unstorableText, nonFinitePath: undefined };
}

function findNonFinitePath(value: JsonValue): string {
  const stack: { value: JsonValue; path: string }[] = [{ value, path: "$" }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const current = item.value;
    if (typeof current === "number" && !Number.isFinite(current)) return item.path;
    if (Array.isArray(current)) {
      const list = current as readonly JsonValue[];
      list.forEach((child, index) => stack.push({ value: child, path: `${item.path}[${index}]` }));
    } else if (current !== null && typeof current === "object") {
      for (const [key, child] of Object.entries(current as { readonly [key: string]: JsonValue })) {
        stack.push({ value: child, path: `${item.path}.${key}` });
      }
    }
  }
  return "$";
}

export type StripResult =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly detail: string };

/**
 * A copy of `value` with every string and key made storable. Fails when stripping makes two keys
 * of one object equal (`"a\u0000"` and `"a"`): keeping either would silently drop the other.
 */
export function stripUnstorableJson(value: JsonValue): StripResult {
  try {
    return { ok: true, value: strip(value) };
  } catch (error) {
    if (error instanceof KeyCollision) return { ok: false, detail: error.message };
    throw error;
  }
}

class KeyCollision extends Error {}

function strip(value: JsonValue): JsonValue {
  if (typeof value === "string") return toStorableText(value);
  if (Array.isArray(value)) return (value as readonly JsonValue[]).map(strip);
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, JsonValue> = {};
  for (const [key, child] of Object.entries(value as { readonly [key: string]: JsonValue })) {
    const storableKey = toStorableText(key);
    if (Object.hasOwn(copy, storableKey)) {
      throw new KeyCollision(`two object keys become "${storableKey}" once made storable`);
    }
    // defineProperty: a literal "__proto__" key must stay a plain property.
    Object.defineProperty(copy, storableKey, {
      value: strip(child),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}
