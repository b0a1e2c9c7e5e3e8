/**
 * The dashboard and the alert rules name metrics in PromQL strings that no compiler checks: these
 * tests keep them in step with the registry. Every metric they reference must be exported, every
 * exported family must be on the dashboard or deliberately left off it, and every alert must have
 * a unit test that sees it fire and one that sees it stay quiet.
 */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { DEFAULT_METRICS, METRIC_DEFINITIONS, createMetrics } from "../../src/observe/metrics.js";

const root = new URL("../../", import.meta.url);
const read = (path: string): Promise<string> => readFile(new URL(path, root), "utf8");

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[];
  };
}
interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

async function dashboard(): Promise<Dashboard> {
  return JSON.parse(await read("grafana/dashboards/arango-pg-sync.json")) as Dashboard;
}

function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

async function alertRules(): Promise<AlertRule[]> {
  const file = parseYaml(await read("prometheus/alerts.yaml")) as {
    groups: { rules: AlertRule[] }[];
  };
  return file.groups.flatMap((g) => g.rules);
}

/** Every exported family, default metrics included, with the type of each. */
async function exported(): Promise<Map<string, string>> {
  const text = await createMetrics({ collections: ["jobs"], tables: ["jobs"] }).render();
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

const METRIC_NAME = /\b(?:arango_pg_sync_|process_|nodejs_)[a-z0-9_]+\b/g;

/** The metric families a PromQL expression reads (histogram series mapped to their family). */
function referencedFamilies(expr: string, families: ReadonlyMap<string, string>): string[] {
  return [...expr.matchAll(METRIC_NAME)].map(([name]) => {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    return base !== name && families.get(base) === "histogram" ? base : name;
  });
}

describe("grafana/dashboards/arango-pg-sync.json", () => {
  it("is a provisionable dashboard: stable uid, schema ~39, a Prometheus data source variable", async () => {
    const d = await dashboard();
    expect(d.uid).toBe("arango-pg-sync");
    expect(d.title).toBe("arango-pg-sync");
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.schemaVersion).toBeLessThanOrEqual(41);
    const datasource = d.templating.list.find((v) => v.name === "datasource");
    expect(datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const variable of d.templating.list.filter((v) => v.type === "query")) {
      expect(variable.datasource?.uid).toBe("${datasource}");
    }
  });

  it("takes every panel's data from the ${datasource} variable, never a fixed uid", async () => {
    const panels = allPanels((await dashboard()).panels).filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThan(20);
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource?.uid, panel.title).toBe("${datasource}");
        expect(target.expr, panel.title).toMatch(/job=~"\$job",instance=~"\$instance"/);
      }
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it("lays panels out on the 24-column grid with unique ids", async () => {
    const panels = allPanels((await dashboard()).panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      const grid = panel.gridPos;
      expect(grid, panel.title).toBeDefined();
      if (grid === undefined) continue;
      expect(grid.x + grid.w, panel.title).toBeLessThanOrEqual(24);
      expect(grid.w * grid.h, panel.title).toBeGreaterThan(0);
    }
  });

  it("references only metrics the registry exports", async () => {
    const families = await exported();
    const exprs = allPanels((await dashboard()).panels).flatMap((p) =>
      (p.targets ?? []).map((t) => t.expr ?? ""),
    );
    const referenced = new Set(exprs.flatMap((e) => referencedFamilies(e, families)));
    expect(referenced.size).toBeGreaterThan(20);
    for (const name of referenced) expect([...families.keys()], name).toContain(name);
  });

  it("shows every exported family, except those deliberately left off (and those are not shown)", async () => {
    const families = await exported();
    const d = await dashboard();
    const exprs = [
      ...allPanels(d.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? "")),
    ];
    const shown = new Set(exprs.flatMap((e) => referencedFamilies(e, families)));
    const notShown = new Set([
      ...METRIC_DEFINITIONS.filter((m) => m.notShownBecause !== undefined).map((m) => m.name),
      ...Object.entries(DEFAULT_METRICS)
        .filter(([, v]) => v !== true)
        .map(([name]) => name),
    ]);
    for (const name of families.keys()) {
      expect(shown.has(name) || notShown.has(name), `${name} is neither shown nor listed`).toBe(
        true,
      );
      expect(shown.has(name) && notShown.has(name), `${name} is listed as not shown`).toBe(false);
    }
    // Every family the lists name is one prom-client or we actually define (no stale entries).
    for (const name of Object.keys(DEFAULT_METRICS)) {
      if (name === "process_open_fds" || name === "process_max_fds") continue; // Linux only
      expect([...families.keys()], name).toContain(name);
    }
  });
});

describe("grafana/provisioning", () => {
  it("provisions a Prometheus data source with a fixed uid and the URL from the environment", async () => {
    const file = parseYaml(await read("grafana/provisioning/datasources/prometheus.yaml")) as {
      apiVersion: number;
      datasources: { type: string; uid: string; url: string }[];
    };
    expect(file.apiVersion).toBe(1);
    expect(file.datasources).toHaveLength(1);
    expect(file.datasources[0]).toMatchObject({
      type: "prometheus",
      uid: "arango-pg-sync-prometheus",
    });
    expect(file.datasources[0]?.url).toMatch(/^\$\{?[A-Z_]+\}?$/);
  });

  it("loads the dashboards from files, with the repository as the source of truth", async () => {
    const file = parseYaml(await read("grafana/provisioning/dashboards/provider.yaml")) as {
      apiVersion: number;
      providers: {
        type: string;
        allowUiUpdates: boolean;
        disableDeletion: boolean;
        options: { path: string };
      }[];
    };
    expect(file.apiVersion).toBe(1);
    expect(file.providers[0]).toMatchObject({
      type: "file",
      allowUiUpdates: false,
      disableDeletion: true,
    });
    expect(file.providers[0]?.options.path).toMatch(/^\//);
  });
});

describe("prometheus/alerts.yaml", () => {
  it("has the alerts operators rely on", async () => {
    const names = (await alertRules()).map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        "ArangoPgSyncDown",
        "ArangoPgSyncAbsent",
        "ArangoPgSyncLagHigh",
        "ArangoPgSyncWalHeadroomLow",
        "ArangoPgSyncWalGap",
        "ArangoPgSyncDeadLettersGrowing",
        "ArangoPgSyncDrift",
        "ArangoPgSyncForeignWrites",
        "ArangoPgSyncChangeStreamDown",
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it("references only metrics the registry exports (and Prometheus's own up)", async () => {
    const families = await exported();
    for (const rule of await alertRules()) {
      const referenced = referencedFamilies(rule.expr, families);
      expect(referenced.length + (rule.expr.includes("up{") ? 1 : 0), rule.alert).toBeGreaterThan(
        0,
      );
      for (const name of referenced)
        expect([...families.keys()], `${rule.alert}: ${name}`).toContain(name);
    }
  });

  it("gives every alert a severity and a summary", async () => {
    for (const rule of await alertRules()) {
      expect(["warning", "critical"], rule.alert).toContain(rule.labels?.["severity"]);
      expect(rule.annotations?.["summary"], rule.alert).toBeTruthy();
      expect(rule.annotations?.["description"], rule.alert).toBeTruthy();
    }
  });

  it("has a unit test in alerts.test.yaml that sees each alert fire and one that sees it quiet", async () => {
    const tests = parseYaml(await read("prometheus/alerts.test.yaml")) as {
      rule_files: string[];
      tests: RuleTest[];
    };
    expect(tests.rule_files).toEqual(["alerts.yaml"]);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of await alertRules()) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} fires`,
      ).toBe(true);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} quiet`,
      ).toBe(true);
    }
  });
});
