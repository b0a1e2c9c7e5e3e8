import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type CompiledMapping, loadMapping } from "../../../src/mapping/compile-mapping.js";
import { type TargetMirror, parentKey } from "../../../src/sink/mirror-reader.js";
import {
  type SourceRow,
  type SourceState,
  classifyMirror,
} from "../../../src/verify/compare-mirror.js";

/**
 * The consistency verdict the demo prints: a document is equal to its row, or not mirrored for a
 * recorded reason that matches its current version, or drift. Nothing else may pass as
 * consistent.
 */

function atsproMapping(): CompiledMapping {
  const config = parse(readFileSync("config/atspro.yaml", "utf8")) as { mapping: unknown };
  const loaded = loadMapping(config.mapping);
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  return loaded.mapping;
}

const mapping = atsproMapping();
const TICK = 1000n;

type Documents = Partial<
  Record<"resumes" | "jobs" | "optimization_results", Record<string, unknown>[]>
>;

function sourceOf(documents: Documents): SourceState {
  const rows = new Map<string, SourceRow[]>();
  for (const table of mapping.tables) {
    rows.set(
      table.table,
      (documents[table.table as keyof Documents] ?? []).map((document) => {
        const key = String(document["_key"]);
        const rev = String(document["_rev"]);
        return {
          key,
          rev,
          built: table.buildRow({ key, rev, tick: TICK, document: document as never }),
        };
      }),
    );
  }
  return { tick: TICK, rows };
}

/** The row PostgreSQL would hold for `document` (tasks are empty, so task_id is NULL). */
function rowOf(table: string, document: Record<string, unknown>): (string | null)[] {
  const compiled = mapping.tables.find((t) => t.table === table);
  const built = compiled?.buildRow({
    key: String(document["_key"]),
    rev: String(document["_rev"]),
    tick: TICK,
    document: document as never,
  });
  if (built?.ok !== true || compiled === undefined) throw new Error(`${table} row does not build`);
  const values = [...built.row.values];
  const taskId = compiled.columns.findIndex((c) => c.name === "task_id");
  if (taskId >= 0) values[taskId] = null;
  return values;
}

interface TargetParts {
  rows?: Partial<Record<string, Record<string, (string | null)[]>>>;
  parked?: Record<string, Record<string, { parentTable: string; parentKey: string; rev?: string }>>;
  deadLetters?: Record<string, Record<string, { reason: string; rev?: string }[]>>;
  tombstones?: Record<string, string[]>;
  users?: string[];
}

function targetOf(parts: TargetParts): TargetMirror {
  const toMap = <T, U>(record: Record<string, T> | undefined, f: (value: T) => U) =>
    new Map(Object.entries(record ?? {}).map(([k, v]) => [k, f(v)]));
  return {
    appliedTick: TICK,
    rows: new Map(
      mapping.tables.map((t) => [t.table, toMap(parts.rows?.[t.table] ?? {}, (v) => v)]),
    ),
    parked: toMap(parts.parked, (keys) =>
      toMap(keys, (p) => ({
        parentTable: p.parentTable,
        parentKey: p.parentKey,
        tick: TICK,
        rev: p.rev,
      })),
    ),
    deadLetters: toMap(parts.deadLetters, (keys) =>
      toMap(keys, (letters) => letters.map((l) => ({ reason: l.reason, tick: TICK, rev: l.rev }))),
    ),
    deadLetterCounts: [],
    tombstones: toMap(parts.tombstones, (keys) => new Set(keys)),
    parents: new Map([[parentKey("user", "id"), new Set(parts.users ?? ["u1"])]]),
  };
}

const resume = (key: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  _key: key,
  _rev: `_rev_${key}`,
  user_id: "u1",
  status: "parsed",
  resume_data: { summary: "x", skills: ["SQL"] },
  created_at: "2025-08-16T09:00:00.5",
  updated_at: "2025-08-16T09:00:00.5",
  ...extra,
});
const job = (key: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  _key: key,
  _rev: `_rev_${key}`,
  user_id: "u1",
  type: "job",
  status: "pending",
  created_at: "2025-08-16T09:00:00",
  updated_at: "2025-08-16T09:00:00",
  ...extra,
});
const result = (key: string, resumeKey: string, jobKey: string): Record<string, unknown> => ({
  _key: key,
  _rev: `_rev_${key}`,
  type: "optimization",
  user_id: "u1",
  resume_id: resumeKey,
  job_id: jobKey,
  content: "# Optimized",
  created_at: "2025-08-16T09:00:01",
});

function tableOf(comparison: ReturnType<typeof classifyMirror>, table: string) {
  const found = comparison.tables.find((t) => t.table === table);
  if (found === undefined) throw new Error(`no ${table}`);
  return found;
}

describe("classifyMirror", () => {
  it("counts rows equal to their documents as equal, whatever jsonb key order and timestamp digits", () => {
    const r1 = resume("r1");
    const row = rowOf("resumes", r1);
    const data = mapping.tables[0]?.columns.findIndex((c) => c.name === "resume_data") ?? -1;
    const created = mapping.tables[0]?.columns.findIndex((c) => c.name === "created_at") ?? -1;
    expect([data, created].every((i) => i > 0)).toBe(true);
    row[data] = '{"skills": ["SQL"], "summary": "x"}';
    row[created] = "2025-08-16T09:00:00.500000Z";
    const comparison = classifyMirror(
      mapping,
      sourceOf({ resumes: [r1] }),
      targetOf({ rows: { resumes: { r1: row } } }),
    );
    expect(comparison.verdict).toBe("consistent");
    expect(tableOf(comparison, "resumes").equal).toBe(1);
  });

  it("explains a row parked for this version of the document, but not one parked for an older version", () => {
    const orphan = resume("r2", { user_id: "test_user" });
    const parkedNow = classifyMirror(
      mapping,
      sourceOf({ resumes: [orphan] }),
      targetOf({
        parked: {
          resumes: { r2: { parentTable: "user", parentKey: "test_user", rev: "_rev_r2" } },
        },
      }),
    );
    expect(parkedNow.verdict).toBe("consistent");
    expect(tableOf(parkedNow, "resumes").explained).toEqual({ "parked (user not found)": 1 });

    const parkedBefore = classifyMirror(
      mapping,
      sourceOf({ resumes: [orphan] }),
      targetOf({
        parked: { resumes: { r2: { parentTable: "user", parentKey: "test_user", rev: "_older" } } },
      }),
    );
    expect(parkedBefore.verdict).toBe("drift");
    expect(tableOf(parkedBefore, "resumes").drift.missing).toBe(1);
  });

  it("explains a document that does not map only when its dead letter is there, noting the older row kept", () => {
    const applied = job("j1", { status: "applied", _rev: "_rev_new" });
    const olderRow = rowOf("jobs", job("j1"));
    const withLetter = classifyMirror(
      mapping,
      sourceOf({ jobs: [applied] }),
      targetOf({
        rows: { jobs: { j1: olderRow } },
        deadLetters: { jobs: { j1: [{ reason: "not-in-enum", rev: "_rev_new" }] } },
      }),
    );
    expect(withLetter.verdict).toBe("consistent");
    expect(tableOf(withLetter, "jobs").explained).toEqual({
      "dead-lettered (not-in-enum), older row kept": 1,
    });

    const withoutLetter = classifyMirror(
      mapping,
      sourceOf({ jobs: [applied] }),
      targetOf({ rows: { jobs: { j1: olderRow } } }),
    );
    expect(withoutLetter.verdict).toBe("drift");
    expect(tableOf(withoutLetter, "jobs").drift["not-recorded"]).toBe(1);
  });

  it("explains a child whose parent ArangoDB removed (PostgreSQL cascaded) only when the removal is recorded", () => {
    const source = sourceOf({
      jobs: [job("j1")],
      optimization_results: [result("o1", "r-gone", "j1")],
    });
    const rows = { jobs: { j1: rowOf("jobs", job("j1")) } };
    const cascaded = classifyMirror(
      mapping,
      source,
      targetOf({ rows, tombstones: { resumes: ["r-gone"] } }),
    );
    expect(cascaded.verdict).toBe("consistent");
    expect(tableOf(cascaded, "optimization_results").explained).toEqual({
      "orphaned (resumes row removed in ArangoDB, cascaded)": 1,
    });

    const lost = classifyMirror(mapping, source, targetOf({ rows }));
    expect(lost.verdict).toBe("drift");
    expect(tableOf(lost, "optimization_results").drift.missing).toBe(1);
  });

  it("reports rows that differ, rows ArangoDB does not have, and rows that are simply missing as drift", () => {
    const r1 = resume("r1");
    const changed = rowOf("resumes", resume("r1", { status: "manual" }));
    const comparison = classifyMirror(
      mapping,
      sourceOf({ resumes: [r1, resume("r3")] }),
      targetOf({ rows: { resumes: { r1: changed, gone: rowOf("resumes", resume("gone")) } } }),
    );
    expect(comparison.verdict).toBe("drift");
    const resumes = tableOf(comparison, "resumes");
    expect(resumes.drift).toEqual({ missing: 1, extra: 1, differs: 1, "not-recorded": 0 });
    expect(resumes.examples.find((e) => e.kind === "differs")?.detail).toContain("status");
  });
});
