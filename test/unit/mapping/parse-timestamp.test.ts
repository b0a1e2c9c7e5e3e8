import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatEpochMilliseconds, parseTimestamp } from "../../../src/mapping/parse-timestamp.js";

function text(input: string): string {
  const result = parseTimestamp(input);
  if (!result.ok) throw new Error(result.detail);
  return result.text;
}

function problem(input: string): string {
  const result = parseTimestamp(input);
  if (result.ok) throw new Error(`expected ${input} to be refused, got ${result.text}`);
  return result.detail;
}

describe("parseTimestamp: the formats ATSPro wrote", () => {
  it("reads a naive Python utcnow() string as UTC and keeps its microseconds", () => {
    expect(text("2025-08-17T13:05:00.563112")).toBe("2025-08-17T13:05:00.563112Z");
  });

  it("accepts the fraction-less form Python writes when microseconds are zero", () => {
    expect(text("2025-08-19T10:00:00")).toBe("2025-08-19T10:00:00Z");
    expect(text("2025-08-19T10:00:00.000001")).toBe("2025-08-19T10:00:00.000001Z");
  });

  it("keeps an explicit +00:00 instant", () => {
    expect(text("2025-08-23T22:30:08.307647+00:00")).toBe("2025-08-23T22:30:08.307647Z");
  });

  it("gives equal instants equal text (trailing fraction zeros dropped)", () => {
    expect(text("2025-08-17T23:12:13.654920")).toBe(text("2025-08-17T23:12:13.65492Z"));
  });
});

describe("parseTimestamp: other ISO-8601 forms PostgreSQL accepts", () => {
  it("converts offsets to UTC, across day and year boundaries", () => {
    expect(text("2025-08-17T01:30:00+02:00")).toBe("2025-08-16T23:30:00Z");
    expect(text("2024-12-31T23:30:00.5-01:00")).toBe("2025-01-01T00:30:00.5Z");
    expect(text("2025-08-17T12:00:00+0530")).toBe("2025-08-17T06:30:00Z");
    expect(text("2025-08-17T12:00:00-03")).toBe("2025-08-17T15:00:00Z");
  });

  it("accepts a space separator, a date alone, and minutes without seconds", () => {
    expect(text("2025-08-17 13:05:00")).toBe("2025-08-17T13:05:00Z");
    expect(text("2025-08-17")).toBe("2025-08-17T00:00:00Z");
    expect(text("2025-08-17T13:05")).toBe("2025-08-17T13:05:00Z");
  });

  it("rounds more than six fraction digits half to even, as PostgreSQL does", () => {
    expect(text("2025-08-17T13:05:00.1234565")).toBe("2025-08-17T13:05:00.123456Z");
    expect(text("2025-08-17T13:05:00.1234575")).toBe("2025-08-17T13:05:00.123458Z");
    expect(text("2025-08-17T13:05:00.12345651")).toBe("2025-08-17T13:05:00.123457Z");
    expect(text("2025-08-17T23:59:59.9999999")).toBe("2025-08-18T00:00:00Z");
  });

  it("rolls a leap second and 24:00 over like PostgreSQL", () => {
    expect(text("2016-12-31T23:59:60Z")).toBe("2017-01-01T00:00:00Z");
    expect(text("2025-08-17T24:00:00")).toBe("2025-08-18T00:00:00Z");
  });

  it("handles years below 100 without the Date.UTC 19xx mapping", () => {
    expect(text("0099-03-01T00:00:00")).toBe("0099-03-01T00:00:00Z");
  });

  it("accepts 29 February only in leap years", () => {
    expect(text("2024-02-29T00:00:00")).toBe("2024-02-29T00:00:00Z");
    expect(text("2000-02-29T00:00:00")).toBe("2000-02-29T00:00:00Z");
    expect(problem("2023-02-29T00:00:00")).toContain("has no such day");
    expect(problem("1900-02-29T00:00:00")).toContain("has no such day");
  });
});

describe("parseTimestamp: values PostgreSQL would refuse", () => {
  it.each([
    ["not a date", "is not an ISO-8601 date-time"],
    ["", "is not an ISO-8601 date-time"],
    ["17/08/2025", "is not an ISO-8601 date-time"],
    ["2025-08-17T13:05:00+02:00 extra", "is not an ISO-8601 date-time"],
    ["2025-02-30T10:00:00", "has no such day"],
    ["2025-13-01T00:00:00", "has a month outside 01-12"],
    ["2025-08-17T25:00:00", "has hours outside 00-23"],
    ["2025-08-17T24:00:01", "has hours outside 00-23"],
    ["2025-08-17T12:60:00", "has minutes outside 00-59"],
    ["2025-08-17T12:00:61", "has seconds outside 00-60"],
    ["2025-08-17T12:00:00+16:00", "has an offset outside ±15:59"],
    ["0000-01-01T00:00:00", "has a year before 0001"],
    ["9999-12-31T23:00:00-02:00", "is outside years 0001-9999 in UTC"],
    ["0001-01-01T00:30:00+01:00", "is outside years 0001-9999 in UTC"],
  ])("%j → %s", (input, expected) => {
    expect(problem(input)).toBe(`${JSON.stringify(input)} ${expected}`);
  });

  it("shortens a long value in the detail", () => {
    expect(problem("x".repeat(100))).toBe(`"${"x".repeat(40)}…" is not an ISO-8601 date-time`);
  });
});

describe("parseTimestamp: agreement with Date for millisecond instants", () => {
  it("parses every toISOString() back to the same instant", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("0001-01-01T00:00:00Z"),
          max: new Date("9999-12-31T23:59:59Z"),
          noInvalidDate: true,
        }),
        (date) => {
          const canonical = text(date.toISOString());
          expect(new Date(canonical).getTime()).toBe(date.getTime());
          expect(text(canonical)).toBe(canonical);
        },
      ),
    );
  });
});

describe("formatEpochMilliseconds", () => {
  it("formats a _rev write time", () => {
    expect(formatEpochMilliseconds(Date.UTC(2025, 7, 18, 3, 0, 13, 749))).toBe(
      "2025-08-18T03:00:13.749Z",
    );
    expect(formatEpochMilliseconds(0)).toBe("1970-01-01T00:00:00Z");
    expect(formatEpochMilliseconds(Number.NaN)).toBeUndefined();
  });
});
