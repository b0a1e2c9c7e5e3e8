import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The demo creates the application's tables from its own copy; it must not drift from the tests'. */
function statements(file: string): string {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => !line.startsWith("--"))
    .join("\n")
    .trim();
}

describe("sql/demo/better-auth.sql", () => {
  it("creates the same tables as the test fixture", () => {
    expect(statements("sql/demo/better-auth.sql")).toBe(
      statements("test/fixtures/better-auth.sql"),
    );
  });
});
