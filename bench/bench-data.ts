/**
 * The benchmark's data: ATSPro-shaped documents (resumes of 2–4 KB, jobs, results in the
 * proportions 2 : 1 : 1) from the project's seeded generator, restricted to documents the
 * mapping stores as rows: no owner without a "user" row, no status outside a CHECK list, every
 * result pointing at a resume and a job of the set. The daemon and the ceiling then write
 * exactly the same rows, and nothing parks or is dead-lettered on either side.
 */
import {
  Random,
  generateJob,
  generateResult,
  generateResume,
  generateUsers,
  type AtsproUser,
} from "../src/emulator/atspro-generator.js";
import type { CompiledMapping, MappedRow } from "../src/mapping/compile-mapping.js";
import { encodeRevision, revisionFromTime } from "../src/source/revision.js";

export interface BenchDocument {
  readonly collection: "resumes" | "jobs" | "documents";
  readonly document: Record<string, unknown> & { _key: string };
}

export interface BenchData {
  readonly users: AtsproUser[];
  /** Parents before children: resumes, jobs, then results. */
  readonly documents: BenchDocument[];
}

export const BENCH_COLLECTIONS = ["resumes", "jobs", "documents"] as const;

/** Whether the mapping turns the document into a row (a test tick and revision stand in). */
function stores(mapping: CompiledMapping, item: BenchDocument): boolean {
  const table = mapping.forCollection(item.collection);
  if (table === undefined) return false;
  const built = table.buildRow({
    key: item.document._key,
    rev: revisionAt(1n),
    tick: 1n,
    document: item.document as never,
  });
  return built.ok;
}

export function generateBenchData(
  mapping: CompiledMapping,
  seed: number,
  documents: number,
): BenchData {
  const random = new Random(seed);
  const users = generateUsers(random, Math.min(1000, Math.max(10, Math.ceil(documents / 50))));
  const known = new Set(users.map((u) => u.id));
  const owned = (d: Record<string, unknown>): boolean => known.has(String(d["user_id"]));
  const resumes: BenchDocument[] = [];
  const jobs: BenchDocument[] = [];
  const results: BenchDocument[] = [];
  const wanted = { resumes: documents / 2, jobs: documents / 4 };
  for (let i = 0; resumes.length < wanted.resumes; i++) {
    const item: BenchDocument = {
      collection: "resumes",
      document: generateResume(random, users, i) as BenchDocument["document"],
    };
    if (owned(item.document) && stores(mapping, item)) resumes.push(item);
  }
  for (let i = 0; jobs.length < wanted.jobs; i++) {
    const item: BenchDocument = {
      collection: "jobs",
      document: generateJob(random, users, i) as BenchDocument["document"],
    };
    if (owned(item.document) && stores(mapping, item)) jobs.push(item);
  }
  for (let i = 0; results.length < documents - resumes.length - jobs.length; i++) {
    const resume = random.pick(resumes).document;
    const job = random.pick(jobs).document;
    const result = generateResult(random, String(resume["user_id"]), resume._key, job._key, i);
    const item: BenchDocument = {
      collection: "documents",
      document: { _key: random.uuid(), ...result },
    };
    if (stores(mapping, item)) results.push(item);
  }
  return { users, documents: [...resumes, ...jobs, ...results] };
}

/**
 * Version `n` of a document: what a re-parse or a status change writes. Every version changes
 * the row (updated_at, and the JSON payload where the table has one), so an update pass really
 * rewrites rows and their GIN entries.
 */
export function nextVersion(item: BenchDocument, n: number): BenchDocument["document"] {
  const stamp = new Date(Date.UTC(2025, 9, 1) + n * 1000).toISOString();
  const document: BenchDocument["document"] = { ...item.document, updated_at: stamp };
  if (item.collection === "resumes" && isObject(document["resume_data"])) {
    document["resume_data"] = { ...document["resume_data"], parser_version: n };
  } else if (item.collection === "jobs" && isObject(document["parsed_data"])) {
    document["parsed_data"] = { ...document["parsed_data"], revision: n };
  } else if (item.collection === "documents") {
    document["metadata"] = { ...(isObject(document["metadata"]) ? document["metadata"] : {}), n };
  }
  return document;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The mapped row of a document at a given tick, or a failure naming the document. */
export function mappedRow(
  mapping: CompiledMapping,
  collection: string,
  document: Record<string, unknown> & { _key: string },
  tick: bigint,
): MappedRow {
  const table = mapping.forCollection(collection);
  if (table === undefined) throw new Error(`collection ${collection} is not mapped`);
  const built = table.buildRow({
    key: document._key,
    rev: revisionAt(tick),
    tick,
    document: document as never,
  });
  if (!built.ok) {
    throw new Error(`${collection}/${document._key} does not map: ${built.reason} ${built.detail}`);
  }
  return built.row;
}

/** A real `_rev` for rows the ceiling writes: the write time of `tick` in a fixed 2025 clock. */
function revisionAt(tick: bigint): string {
  return encodeRevision(revisionFromTime(Date.UTC(2025, 9, 1) + Number(tick)));
}
