import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../src/events/events.js";
import { compileCast, type CastOptions, type CastResult } from "../../../src/mapping/cast-value.js";

const cast = (
  options: Partial<CastOptions> & Pick<CastOptions, "cast">,
  value: JsonValue,
): CastResult => compileCast({ onUnstorableText: "strip", ...options })(value);

function ok(result: CastResult): { text: string; sanitized: boolean } {
  if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
  return { text: result.text, sanitized: result.sanitized };
}

function refused(result: CastResult): { reason: string; detail: string } {
  if (result.ok) throw new Error(`expected a refusal, got ${result.text}`);
  return { reason: result.reason, detail: result.detail };
}

describe("text", () => {
  it("passes strings through, unicode included", () => {
    expect(ok(cast({ cast: "text" }, "Zoë Łukasiewicz, 東京都渋谷区 🎉"))).toEqual({
      text: "Zoë Łukasiewicz, 東京都渋谷区 🎉",
      sanitized: false,
    });
  });

  it("refuses non-strings instead of guessing a text form", () => {
    expect(refused(cast({ cast: "text" }, 42))).toEqual({
      reason: "wrong-type",
      detail: "expected a string, got number 42",
    });
    expect(refused(cast({ cast: "text" }, { a: 1 })).reason).toBe("wrong-type");
  });

  it("strips U+0000 and replaces unpaired surrogates under the strip policy", () => {
    expect(ok(cast({ cast: "text" }, "Ac\u0000me\u0000"))).toEqual({
      text: "Acme",
      sanitized: true,
    });
    expect(ok(cast({ cast: "text" }, "a\ud800b\udc00c"))).toEqual({
      text: "a\ufffdb\ufffdc",
      sanitized: true,
    });
    expect(ok(cast({ cast: "text" }, "pair \ud83c\udf89 kept"))).toEqual({
      text: "pair 🎉 kept",
      sanitized: false,
    });
  });

  it("refuses U+0000 under the dead-letter policy", () => {
    expect(refused(cast({ cast: "text", onUnstorableText: "dead-letter" }, "a\u0000"))).toEqual({
      reason: "unstorable-text",
      detail: "contains U+0000 or an unpaired surrogate",
    });
  });

  it("counts varchar(n) length in characters, not UTF-16 units", () => {
    expect(ok(cast({ cast: "text", maxLength: 3 }, "🎉🎉🎉")).text).toBe("🎉🎉🎉");
    expect(refused(cast({ cast: "text", maxLength: 20 }, "x".repeat(21)))).toEqual({
      reason: "too-long",
      detail: "21 characters, at most 20 allowed",
    });
  });
});

describe("enum", () => {
  const status = {
    cast: "enum" as const,
    values: ["pending", "processing", "completed", "failed"],
  };

  it("accepts the listed values and refuses others with the list", () => {
    expect(ok(cast(status, "completed")).text).toBe("completed");
    expect(refused(cast(status, "applied"))).toEqual({
      reason: "not-in-enum",
      detail: '"applied" is not one of pending|processing|completed|failed',
    });
    expect(refused(cast(status, 1)).reason).toBe("wrong-type");
  });
});

describe("uuid", () => {
  it("accepts canonical UUIDs in any case and stores them lower-case", () => {
    expect(ok(cast({ cast: "uuid" }, "C8108A37-0548-4DBE-85A9-9A09DAECBC60")).text).toBe(
      "c8108a37-0548-4dbe-85a9-9a09daecbc60",
    );
  });

  it("refuses anything else", () => {
    expect(refused(cast({ cast: "uuid" }, "task-123"))).toEqual({
      reason: "invalid-uuid",
      detail: '"task-123" is not a UUID',
    });
    expect(refused(cast({ cast: "uuid" }, "c8108a37054804dbe85a99a09daecbc60")).reason).toBe(
      "invalid-uuid",
    );
    expect(refused(cast({ cast: "uuid" }, 7)).reason).toBe("wrong-type");
  });
});

describe("timestamptz", () => {
  it("canonicalises ISO strings and refuses invalid ones and non-strings", () => {
    expect(ok(cast({ cast: "timestamptz" }, "2025-08-17T13:05:00.563112")).text).toBe(
      "2025-08-17T13:05:00.563112Z",
    );
    expect(refused(cast({ cast: "timestamptz" }, "2025-02-30T10:00:00"))).toEqual({
      reason: "invalid-timestamp",
      detail: '"2025-02-30T10:00:00" has no such day',
    });
    expect(refused(cast({ cast: "timestamptz" }, 1_755_436_800_000)).reason).toBe("wrong-type");
  });
});

describe("integer and boolean", () => {
  it("accepts 32-bit integers and true/false only", () => {
    expect(ok(cast({ cast: "integer" }, -2147483648)).text).toBe("-2147483648");
    expect(refused(cast({ cast: "integer" }, 2147483648)).reason).toBe("out-of-range");
    expect(refused(cast({ cast: "integer" }, 1.5)).reason).toBe("wrong-type");
    expect(refused(cast({ cast: "integer" }, Number.POSITIVE_INFINITY)).reason).toBe(
      "non-finite-number",
    );
    expect(refused(cast({ cast: "integer" }, "7")).reason).toBe("wrong-type");
    expect(ok(cast({ cast: "boolean" }, false)).text).toBe("false");
    expect(refused(cast({ cast: "boolean" }, "true")).reason).toBe("wrong-type");
  });
});

describe("jsonb and jsonb-object", () => {
  it("encodes any JSON value as JSON text, unicode unescaped", () => {
    expect(ok(cast({ cast: "jsonb" }, [1, "株式会社", { a: null }])).text).toBe(
      '[1,"株式会社",{"a":null}]',
    );
    expect(ok(cast({ cast: "jsonb" }, "plain")).text).toBe('"plain"');
  });

  it("requires an object for jsonb-object", () => {
    expect(ok(cast({ cast: "jsonb-object" }, {})).text).toBe("{}");
    for (const value of [[], "text", 3, true]) {
      expect(refused(cast({ cast: "jsonb-object" }, value)).reason).toBe("not-an-object");
    }
  });

  it("strips U+0000 deep inside values and keys, and says so", () => {
    const value = {
      contact_info: { full_name: "Priya\u0000 Raman", links: [{ url: "https://x\u0000.example" }] },
      "ke\u0000y": "v",
    };
    expect(ok(cast({ cast: "jsonb" }, value))).toEqual({
      text: '{"contact_info":{"full_name":"Priya Raman","links":[{"url":"https://x.example"}]},"key":"v"}',
      sanitized: true,
    });
  });

  it("refuses U+0000 deep inside a value under the dead-letter policy", () => {
    const value = { work_experience: [{ responsibilities: ["ok", "bad\u0000"] }] };
    expect(refused(cast({ cast: "jsonb", onUnstorableText: "dead-letter" }, value))).toEqual({
      reason: "unstorable-text",
      detail: "a string or key contains U+0000 or an unpaired surrogate",
    });
  });

  it("refuses stripping that would make two keys equal", () => {
    expect(refused(cast({ cast: "jsonb" }, { a: 1, "a\u0000": 2 }))).toEqual({
      reason: "unstorable-text",
      detail: 'two object keys become "a" once made storable',
    });
  });

  it("replaces unpaired surrogates, which jsonb would refuse as escapes", () => {
    const result = ok(cast({ cast: "jsonb" }, { name: "x\udc00" }));
    expect(result).toEqual({ text: '{"name":"x\ufffd"}', sanitized: true });
  });

  it("refuses non-finite numbers instead of letting JSON.stringify write null", () => {
    const parsed = JSON.parse('{"score":{"overall":1e999}}') as JsonValue;
    expect(refused(cast({ cast: "jsonb" }, parsed))).toEqual({
      reason: "non-finite-number",
      detail: "non-finite number at $.score.overall",
    });
    expect(refused(cast({ cast: "jsonb" }, [0, [Number.NaN]])).detail).toBe(
      "non-finite number at $[1][0]",
    );
  });

  it("keeps a literal __proto__ key as data", () => {
    const parsed = JSON.parse('{"__proto__":{"x":1},"y":"\\u0000"}') as JsonValue;
    expect(ok(cast({ cast: "jsonb" }, parsed)).text).toBe('{"__proto__":{"x":1},"y":""}');
  });

  it("reports nesting too deep to encode instead of throwing", () => {
    for (const leaf of ["plain", "needs stripping \u0000"]) {
      let deep: JsonValue = leaf;
      for (let depth = 0; depth < 200_000; depth += 1) deep = [deep];
      expect(refused(cast({ cast: "jsonb" }, deep)).reason).toBe("unencodable");
    }
  });
});
