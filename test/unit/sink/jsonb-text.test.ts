import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../src/events/events.js";
import { hasUnstorableText, stripUnstorableJson } from "../../../src/mapping/storable-text.js";
import { jsonbRefuses, jsonbStorableText } from "../../../src/sink/jsonb-text.js";

/** Every string and key of a parsed value, to check none is left that PostgreSQL refuses. */
function texts(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(texts);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, child]) => [key, ...texts(child)]);
  }
  return [];
}

describe("JSON text jsonb refuses", () => {
  it("removes \\u0000 escapes and replaces lone surrogate escapes, leaving everything else", () => {
    expect(jsonbStorableText(JSON.stringify({ a: "x\u0000y" }))).toBe('{"a":"xy"}');
    expect(jsonbStorableText(JSON.stringify({ a: "x\ud800y" }))).toBe('{"a":"x\\ufffdy"}');
    expect(jsonbStorableText(JSON.stringify({ a: "x\udc00y" }))).toBe('{"a":"x\\ufffdy"}');
    expect(jsonbStorableText('{"a":"\\uD800"}')).toBe('{"a":"\\ufffd"}');
    // A pair written as escapes is a valid character; a pair as raw text never needs escaping.
    expect(jsonbStorableText('{"a":"\\ud83d\\ude00"}')).toBe('{"a":"\\ud83d\\ude00"}');
    expect(jsonbStorableText(JSON.stringify({ a: "😀" }))).toBe('{"a":"😀"}');
    // A backslash followed by the letters u0000 is text, not an escape.
    const literal = JSON.stringify({ a: "\\u0000 and \\ud800" });
    expect(jsonbStorableText(literal)).toBe(literal);
    expect(jsonbRefuses(literal)).toBe(false);
    // An escaped backslash right before a real escape: the backslash stays.
    expect(jsonbStorableText(JSON.stringify({ a: "\\\u0000" }))).toBe('{"a":"\\\\"}');
    // A lone high surrogate followed by a literal backslash-u text.
    expect(jsonbStorableText('{"a":"\\ud800\\\\udc00"}')).toBe('{"a":"\\ufffd\\\\udc00"}');
    expect(jsonbRefuses(JSON.stringify({ "k\u0000": 1 }))).toBe(true);
  });

  it("gives what the mapping's stripping gives, as JSON jsonb accepts", () => {
    const text = fc.string({ unit: "binary", maxLength: 8 });
    const value = fc.letrec<{ v: JsonValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        text,
        fc.integer(),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(text, tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const stored = jsonbStorableText(JSON.stringify(v));
        const parsed = JSON.parse(stored) as unknown;
        expect(texts(parsed).some(hasUnstorableText)).toBe(false);
        const stripped = stripUnstorableJson(v);
        // Two keys that become equal once stripped: the mapping refuses, the text keeps both.
        if (stripped.ok) expect(parsed).toEqual(JSON.parse(JSON.stringify(stripped.value)));
      }),
      { numRuns: 200 },
    );
  });
});
