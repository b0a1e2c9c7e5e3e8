import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { METRICS_DOC, renderMetricsDoc } from "../../scripts/generate-metrics-doc.js";
import { METRIC_DEFINITIONS } from "../../src/observe/metrics.js";

describe("docs/metrics.md", () => {
  it("is what scripts/generate-metrics-doc.ts writes (run it after changing a metric or an alert)", async () => {
    const committed = await readFile(METRICS_DOC, "utf8");
    expect(committed).toBe(await renderMetricsDoc());
  });

  it("documents every metric with its type and labels", async () => {
    const doc = await renderMetricsDoc();
    for (const metric of METRIC_DEFINITIONS) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${metric.name}\` |`));
      expect(row, metric.name).toBeDefined();
      expect(row).toContain(`| ${metric.type} |`);
      for (const label of metric.labelNames) expect(row).toContain(`\`${label}\``);
    }
  });
});
