import { describe, expect, it } from "vitest";
import {
  type StreamMessage,
  TransactionClassifier,
  formatLsn,
  parseLsn,
} from "../../src/observe/change-stream-monitor.js";
import type { Pgoutput } from "pg-logical-replication";
import { encodeRevision, revisionFromTime } from "../../src/source/revision.js";

const CHECKPOINT = { schema: "arango_sync", name: "checkpoint" };

function relation(schema: string, name: string): Pgoutput.MessageRelation {
  return {
    tag: "relation",
    relationOid: name.length,
    schema,
    name,
    replicaIdentity: "default",
    columns: [],
    keyColumns: ["id"],
  };
}

const resumes = relation("public", "resumes");
const jobs = relation("public", "jobs");
const checkpoint = relation("arango_sync", "checkpoint");
const users = relation("public", "user");

const begin = (lsn = "0/10"): StreamMessage => ({
  tag: "begin",
  commitLsn: lsn,
  commitTime: 0n,
  xid: 1,
});
const commit = (lsn = "0/10", timeMs = 1_000): StreamMessage => ({
  tag: "commit",
  flags: 0,
  commitLsn: lsn,
  commitEndLsn: lsn,
  commitTime: BigInt(timeMs * 1000),
});
const insert = (rel: Pgoutput.MessageRelation, values: Record<string, unknown>): StreamMessage => ({
  tag: "insert",
  relation: rel,
  new: values,
});
const checkpointRow = (phase: string, appliedTick: string): StreamMessage => ({
  tag: "update",
  relation: checkpoint,
  key: null,
  old: null,
  new: { source_database: "atspro", phase, applied_tick: appliedTick },
});

function classify(messages: StreamMessage[]) {
  const classifier = new TransactionClassifier(new Set(["resumes", "jobs"]), CHECKPOINT);
  return messages.map((m) => classifier.push(m)).filter((v) => v !== undefined);
}

const writtenAt = Date.UTC(2026, 0, 1);
const rev = encodeRevision(revisionFromTime(writtenAt));

describe("TransactionClassifier", () => {
  it("takes a transaction that writes the checkpoint as the daemon's, with its rows' write times", () => {
    expect(
      classify([
        begin(),
        insert(resumes, { legacy_id: "a", legacy_rev: rev }),
        checkpointRow("streaming", "42"),
        commit("0/10", 5_000),
      ]),
    ).toEqual([{ kind: "ours", lsn: "0/10", committedAtMs: 5_000, writeTimesMs: [writtenAt] }]);
  });

  it("reports no write times for snapshot chunks and for commits that do not move the applied tick", () => {
    const verdicts = classify([
      begin(),
      insert(resumes, { legacy_id: "a", legacy_rev: rev }),
      checkpointRow("snapshotting", "7"),
      commit(),
      begin(),
      insert(resumes, { legacy_id: "b", legacy_rev: rev }),
      checkpointRow("streaming", "9"),
      commit(),
      // Rows whose parent arrived late: the checkpoint is touched, its tick stays.
      begin(),
      insert(resumes, { legacy_id: "c", legacy_rev: rev }),
      checkpointRow("streaming", "9"),
      commit(),
    ]);
    expect(verdicts.map((v) => (v.kind === "ours" ? v.writeTimesMs.length : v.kind))).toEqual([
      0, 1, 0,
    ]);
  });

  it("takes a transaction on mirrored tables without the checkpoint as foreign, once per table", () => {
    expect(
      classify([
        begin("1/A0"),
        insert(resumes, { id: "u1", legacy_id: "r1" }),
        insert(resumes, { id: "u2", legacy_id: "r2" }),
        { tag: "delete", relation: jobs, key: { id: "9f" }, old: null },
        commit("1/A0"),
      ]),
    ).toEqual([
      {
        kind: "foreign",
        lsn: "1/A0",
        committedAtMs: 1_000,
        tables: [
          { table: "resumes", key: "r1" },
          { table: "jobs", key: "id=9f" },
        ],
      },
    ]);
  });

  it("ignores tables it does not mirror, and transactions it could not read", () => {
    expect(
      classify([
        begin(),
        insert(users, { id: "x" }),
        commit(),
        begin(),
        insert(resumes, { legacy_id: "r" }),
        { tag: "unreadable", error: "missing relation" },
        commit(),
      ]),
    ).toEqual([
      { kind: "ignored", reason: "no mirrored table" },
      { kind: "ignored", reason: "unreadable" },
    ]);
  });

  it("counts a truncate of a mirrored table as a write without a key", () => {
    expect(
      classify([
        begin(),
        { tag: "truncate", cascade: false, restartIdentity: false, relations: [jobs] },
        commit(),
      ]),
    ).toMatchObject([{ kind: "foreign", tables: [{ table: "jobs", key: undefined }] }]);
  });
});

describe("LSN text", () => {
  it("round-trips through numbers, upper-case like PostgreSQL prints it", () => {
    expect(parseLsn("16/B374D848")).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(formatLsn(parseLsn("0/0") + 1n)).toBe("0/1");
    expect(formatLsn(parseLsn("0/FFFFFFFF") + 1n)).toBe("1/0");
  });
});
