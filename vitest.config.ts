import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Two cores: integration files share one PostgreSQL server but each gets its own database.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Under CI every run also writes a JSON report; .ci/run gives each run its own file
    // (VITEST_JSON_REPORT) and sums them up.
    reporters:
      process.env["CI"] === undefined
        ? ["default"]
        : [
            "default",
            [
              "json",
              { outputFile: process.env["VITEST_JSON_REPORT"] ?? ".tmp/vitest-results.json" },
            ],
          ],
  },
});
