import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  type CompiledMapping,
  type CompiledTable,
  type ParentReference,
  loadMapping,
} from "../../../src/mapping/compile-mapping.js";
import type { TargetRow } from "../../../src/sink/mirror-reader.js";
import {
  type DocumentClass,
  type KeyInTarget,
  classifyDocument,
} from "../../../src/verify/classify-document.js";

/**
 * The classes every document of a consistency check ends in: equal to its row, not mirrored for
 * a recorded reason that matches its current version, in flight (PostgreSQL already holds a
 * newer change), or drift of a kind. Nothing else may pass as consistent.
 */

function atsproMapping(): CompiledMapping {
  const config = parse(readFileSync("config/atspro.yaml", "utf8")) as { mapping: unknown };
  const loaded = loadMapping(config.mapping);
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  return loaded.mapping;
}

const mapping = atsproMapping();
/** T, the snapshot tick the documents are read at. */
const TICK = 1000n;

function tableNamed(name: string): CompiledTable {
  const table = mapping.tables.find((t) => t.table === name);
  if (table === undefined) throw new Error(`no table ${name}`);
  return table;
}

/** The row PostgreSQL would hold for `document` (tasks are empty, so task_id is NULL). */
function rowOf(table: string, document: Record<string, unknown>, tick = TICK): TargetRow {
  const compiled = tableNamed(table);
  const built = compiled.buildRow({
    key: String(document["_key"]),
    rev: String(document["_rev"]),
    tick,
    document: document as never,
  });
  if (!built.ok) throw new Error(`${table} row does not build`);
  const values = [...built.row.values];
  const taskId = compiled.columns.findIndex((c) => c.name === "task_id");
  if (taskId >= 0) values[taskId] = null;
  return { values, tick, bucket: 0 };
}

interface Setting {
  row?: TargetRow;
  parked?: { parentTable: string; rev?: string; tick?: bigint };
  deadLetters?: { reason: string; rev?: string; tick?: bigint }[];
  tombstoneTick?: bigint;
  /** Parent rows present, as `table/value` (users are `user/<id>`). */
  parents?: string[];
  /** Parent rows removed, `table/value` → tombstone tick. */
  removed?: Record<string, bigint>;
}

function classify(
  table: string,
  document: Record<string, unknown>,
  setting: Setting = {},
): DocumentClass {
  const compiled = tableNamed(table);
  const key = String(document["_key"]);
  const rev = String(document["_rev"]);
  const target: KeyInTarget = {
    row: setting.row,
    parked:
      setting.parked === undefined
        ? undefined
        : {
            parentTable: setting.parked.parentTable,
            parentKey: "?",
            tick: setting.parked.tick ?? TICK,
            rev: setting.parked.rev,
          },
    deadLetters: (setting.deadLetters ?? []).map((l) => ({
      reason: l.reason,
      tick: l.tick ?? TICK,
      rev: l.rev,
    })),
    tombstoneTick: setting.tombstoneTick,
  };
  const present = new Set(setting.parents ?? ["user/u1"]);
  const ref = (r: ParentReference): string => `${r.table}/${r.value}`;
  return classifyDocument(
    compiled,
    { key, rev, built: compiled.buildRow({ key, rev, tick: TICK, document: document as never }) },
    target,
    { exists: (r) => present.has(ref(r)), removedAt: (r) => setting.removed?.[ref(r)] },
    TICK,
  );
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

describe("classifyDocument", () => {
  it("counts a row equal to its document as equal, whatever jsonb key order and timestamp digits", () => {
    const r1 = resume("r1");
    const row = rowOf("resumes", r1);
    const columns = tableNamed("resumes").columns;
    const values = [...row.values];
    values[columns.findIndex((c) => c.name === "resume_data")] =
      '{"skills": ["SQL"], "summary": "x"}';
    values[columns.findIndex((c) => c.name === "created_at")] = "2025-08-16T09:00:00.500000Z";
    expect(classify("resumes", r1, { row: { ...row, values } })).toEqual({ class: "equal" });
  });

  it("explains a row parked for this version of the document, but not one parked for an older version", () => {
    const orphan = resume("r2", { user_id: "test_user" });
    expect(
      classify("resumes", orphan, { parked: { parentTable: "user", rev: "_rev_r2" } }),
    ).toEqual({ class: "explained", label: "parked (user not found)" });
    expect(
      classify("resumes", orphan, { parked: { parentTable: "user", rev: "_older" } }),
    ).toMatchObject({ class: "drift", kind: "missing" });
  });

  it("explains a document that does not map only when its dead letter is there, noting the older row kept", () => {
    const applied = job("j1", { status: "applied", _rev: "_rev_new" });
    const olderRow = rowOf("jobs", job("j1"));
    expect(
      classify("jobs", applied, {
        row: olderRow,
        deadLetters: [{ reason: "not-in-enum", rev: "_rev_new" }],
      }),
    ).toEqual({ class: "explained", label: "dead-lettered (not-in-enum), older row kept" });
    const unrecorded = classify("jobs", applied, { row: olderRow });
    expect(unrecorded).toMatchObject({ class: "drift", kind: "revision" });
    expect(classify("jobs", applied)).toMatchObject({ class: "drift", kind: "missing" });
  });

  it("explains a child whose parent ArangoDB removed (PostgreSQL cascaded) only when the removal is recorded", () => {
    const child = result("o1", "r-gone", "j1");
    const parents = ["user/u1", "jobs/j1"];
    expect(
      classify("optimization_results", child, { parents, removed: { "resumes/r-gone": 900n } }),
    ).toEqual({
      class: "explained",
      label: "orphaned (resumes row removed in ArangoDB, cascaded)",
    });
    expect(classify("optimization_results", child, { parents })).toMatchObject({
      class: "drift",
      kind: "missing",
    });
  });

  it("tells a row of another _rev (revision) from a row of the same _rev with other content", () => {
    const r1 = resume("r1");
    const otherVersion = rowOf("resumes", resume("r1", { _rev: "_rev_old", status: "manual" }));
    const revision = classify("resumes", r1, { row: otherVersion });
    expect(revision).toMatchObject({ class: "drift", kind: "revision" });
    expect(revision.class === "drift" && revision.detail).toContain("legacy_rev");

    const sameVersion = rowOf("resumes", resume("r1", { status: "manual" }));
    const content = classify("resumes", r1, { row: sameVersion });
    expect(content).toMatchObject({ class: "drift", kind: "content" });
    expect(content.class === "drift" && content.detail).toContain("status");
  });

  it("sets aside as in flight what PostgreSQL holds newer than the snapshot: a row, a tombstone, a parked image, a parent's removal", () => {
    const r1 = resume("r1");
    const newer = rowOf(
      "resumes",
      resume("r1", { _rev: "_rev_newer", status: "manual" }),
      TICK + 5n,
    );
    expect(classify("resumes", r1, { row: newer })).toEqual({ class: "in-flight" });
    expect(classify("resumes", r1, { tombstoneTick: TICK + 1n })).toEqual({ class: "in-flight" });
    expect(
      classify("resumes", r1, { parked: { parentTable: "user", rev: "_other", tick: TICK + 1n } }),
    ).toEqual({ class: "in-flight" });
    const child = result("o1", "r-gone", "j1");
    expect(
      classify("optimization_results", child, {
        parents: ["user/u1", "jobs/j1"],
        removed: { "resumes/r-gone": TICK + 1n },
      }),
    ).toEqual({ class: "in-flight" });

    // Not newer: a tombstone at or before T leaves a missing row missing.
    expect(classify("resumes", r1, { tombstoneTick: TICK })).toMatchObject({
      class: "drift",
      kind: "missing",
    });
  });
});
