/**
 * How ArangoDB builds the stored document for insert, replace and update (PATCH). Pure functions.
 *
 * - System attributes come first in the stored order `_key, _id, _from, _to, _rev` (§10); `_id`
 *   and `_rev` in a request body are ignored, `_key` only names the document.
 * - PATCH keeps the existing top-level attribute order, replaces values in place and appends new
 *   attributes in the patch's order. With `mergeObjects` (default true) nested objects are merged;
 *   a merged object comes out with its keys sorted, as VelocyPack's merge iterates objects through
 *   their sorted index table (the ATSPro export shows exactly this after content-neutral saves).
 * - With `keepNull=false`, attributes set to null in the patch are removed, at every object level
 *   but not inside arrays; with the default `keepNull=true` null is stored as null.
 */
type Json = Record<string, unknown>;

const SYSTEM_ATTRIBUTES = new Set(["_key", "_id", "_rev", "_from", "_to"]);

export function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface SystemAttributes {
  key: string;
  id: string;
  rev: string;
  from?: string;
  to?: string;
}

function header(system: SystemAttributes): Json {
  const doc: Json = { _key: system.key, _id: system.id };
  if (system.from !== undefined) doc["_from"] = system.from;
  if (system.to !== undefined) doc["_to"] = system.to;
  doc["_rev"] = system.rev;
  return doc;
}

/** The stored form of an inserted or replacing body. */
export function buildDocument(system: SystemAttributes, body: Json, keepNull = true): Json {
  const doc = header(system);
  for (const [name, value] of Object.entries(body)) {
    if (SYSTEM_ATTRIBUTES.has(name)) continue;
    if (value === null && !keepNull) continue;
    doc[name] = keepNull ? value : withoutNulls(value);
  }
  return doc;
}

/** The stored form after a PATCH of `existing` with `patch`. */
export function mergeDocument(
  system: SystemAttributes,
  existing: Json,
  patch: Json,
  options: { keepNull: boolean; mergeObjects: boolean },
): Json {
  const doc = header(system);
  for (const [name, oldValue] of Object.entries(existing)) {
    if (SYSTEM_ATTRIBUTES.has(name)) continue;
    if (!Object.hasOwn(patch, name)) {
      doc[name] = oldValue;
      continue;
    }
    const value = patch[name];
    if (value === null && !options.keepNull) continue;
    doc[name] = mergeValue(oldValue, value, options);
  }
  for (const [name, value] of Object.entries(patch)) {
    if (SYSTEM_ATTRIBUTES.has(name) || Object.hasOwn(existing, name)) continue;
    if (value === null && !options.keepNull) continue;
    doc[name] = options.keepNull ? value : withoutNulls(value);
  }
  return doc;
}

function mergeValue(
  oldValue: unknown,
  value: unknown,
  options: { keepNull: boolean; mergeObjects: boolean },
): unknown {
  if (options.mergeObjects && isPlainObject(oldValue) && isPlainObject(value)) {
    return mergeObjects(oldValue, value, options.keepNull);
  }
  return options.keepNull ? value : withoutNulls(value);
}

function mergeObjects(left: Json, right: Json, keepNull: boolean): Json {
  const names = new Set([...Object.keys(left), ...Object.keys(right)]);
  const merged: Json = {};
  for (const name of [...names].sort(compareKeys)) {
    if (!Object.hasOwn(right, name)) {
      merged[name] = left[name];
      continue;
    }
    const value = right[name];
    if (value === null && !keepNull) continue;
    const old = left[name];
    merged[name] =
      isPlainObject(old) && isPlainObject(value)
        ? mergeObjects(old, value, keepNull)
        : keepNull
          ? value
          : withoutNulls(value);
  }
  return merged;
}

/** VelocyPack sorts object keys bytewise on their UTF-8 encoding. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Removes null-valued attributes from objects at every level, leaving arrays untouched. */
function withoutNulls(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const result: Json = {};
  for (const [name, inner] of Object.entries(value)) {
    if (inner === null) continue;
    result[name] = withoutNulls(inner);
  }
  return result;
}
