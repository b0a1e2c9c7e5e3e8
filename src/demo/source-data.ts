/**
 * The demo's ArangoDB side: the `atspro` database with ATSPro's collections (atspro/shapes.md
 * §1), filled with generated documents in the real shapes before the daemon starts, written
 * through the emulator's storage engine (as fast as a bulk restore, and still one WAL marker per
 * document). Half the documents are resumes, a quarter jobs, a quarter results in `documents`;
 * research results get their `job_research` edge and completed jobs their `task_results` entry,
 * the two collections the mapping leaves out.
 */
import {
  type AtsproUser,
  Random,
  generateJob,
  generateResult,
  generateResume,
  generateUsers,
} from "../emulator/atspro-generator.js";
import type { CollectionState } from "../emulator/catalog.js";
import type { EmulatedServer } from "../emulator/emulated-server.js";

export const DEMO_DATABASE = "atspro";
const DOCUMENT_COLLECTIONS = ["resumes", "jobs", "documents", "task_results"] as const;
const EDGE_COLLECTIONS = ["job_research"] as const;
const EDGE_COLLECTION_TYPE = 3;

/** A document key with the owner the application would query it by. */
export interface OwnedKey {
  readonly key: string;
  readonly userId: string;
}

export interface SourceData {
  readonly users: readonly AtsproUser[];
  /** Documents written per collection. */
  readonly counts: Readonly<Record<string, number>>;
  readonly resumes: readonly OwnedKey[];
  readonly jobs: readonly OwnedKey[];
}

export function createSourceDatabase(state: EmulatedServer): void {
  const database = state.createDatabase(DEMO_DATABASE);
  for (const name of DOCUMENT_COLLECTIONS) state.createCollection(database, { name });
  for (const name of EDGE_COLLECTIONS) {
    state.createCollection(database, { name, type: EDGE_COLLECTION_TYPE });
  }
}

export function collectionOf(state: EmulatedServer, name: string): CollectionState {
  return state.database(DEMO_DATABASE).collection(name);
}

/** One single-document insert (its own WAL marker, tid 0); returns the key. */
function insert(state: EmulatedServer, collection: CollectionState, document: object): string {
  return state.write(collection, undefined, false, (writes) =>
    state.insert(writes, collection, document, {}),
  )._key;
}

/** `documents` ATSPro-shaped documents, deterministic for `seed`. */
export function loadSourceData(state: EmulatedServer, documents: number, seed: number): SourceData {
  const random = new Random(seed);
  const resumeCount = Math.ceil(documents / 2);
  const jobCount = Math.floor(documents / 4);
  const resultCount = documents - resumeCount - jobCount;
  // About one owner per 50 resumes, as many uploads per user as the real data suggests.
  const users = generateUsers(random, Math.max(5, Math.ceil(resumeCount / 50)));
  const counts: Record<string, number> = {};
  const count = (name: string): void => {
    counts[name] = (counts[name] ?? 0) + 1;
  };
  const into = Object.fromEntries(
    [...DOCUMENT_COLLECTIONS, ...EDGE_COLLECTIONS].map((name) => [name, collectionOf(state, name)]),
  ) as Record<(typeof DOCUMENT_COLLECTIONS | typeof EDGE_COLLECTIONS)[number], CollectionState>;

  const resumes: OwnedKey[] = [];
  for (let i = 0; i < resumeCount; i++) {
    const resume = generateResume(random, users, i);
    resumes.push({ key: insert(state, into.resumes, resume), userId: String(resume["user_id"]) });
    count("resumes");
  }
  const jobs: OwnedKey[] = [];
  for (let i = 0; i < jobCount; i++) {
    const job = generateJob(random, users, i);
    const key = insert(state, into.jobs, job);
    jobs.push({ key, userId: String(job["user_id"]) });
    count("jobs");
    if (job["status"] !== "pending") {
      insert(state, into.task_results, taskResult(random, job, key));
      count("task_results");
    }
  }
  for (let i = 0; i < resultCount && resumes.length > 0 && jobs.length > 0; i++) {
    const resume = random.pick(resumes);
    const job = random.pick(jobs);
    const result = generateResult(random, resume.userId, resume.key, job.key, i);
    const key = insert(state, into.documents, result);
    count("documents");
    if (result["type"] === "research") {
      insert(state, into.job_research, researchEdge(job.key, key, result["created_at"]));
      count("job_research");
    }
  }
  return { users, counts, resumes, jobs };
}

/** What `TaskService.store_task_result` wrote for a finished job (shapes.md §3.4). */
export function taskResult(
  random: Random,
  job: Readonly<Record<string, unknown>>,
  jobKey: string,
): Record<string, unknown> {
  return {
    _key: random.uuid(),
    task_id: job["task_id"] ?? random.uuid(),
    result: { job_id: jobKey, parsed_data: job["parsed_data"] ?? null },
    created_at: job["updated_at"] ?? job["created_at"] ?? null,
    type: "task_result",
  };
}

/** The edge the research worker wrote after each research document (shapes.md §3.3). */
export function researchEdge(
  jobKey: string,
  documentKey: string,
  createdAt: unknown,
): Record<string, unknown> {
  return {
    _from: `jobs/${jobKey}`,
    _to: `documents/${documentKey}`,
    relationship: "has_research",
    created_at: createdAt ?? null,
  };
}
