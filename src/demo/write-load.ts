/**
 * The demo's application: a steady stream of writes against the emulator's HTTP API, in the mix
 * ATSPro's API and workers produced (atspro/shapes.md §3 and §4): resume uploads as overwriting
 * inserts, re-parses that replace a resume (dropping its created_at), edits and timestamp
 * backfills as merge patches, job placeholders completed by a replace, failures, user edits with
 * dotted attribute names and an out-of-enum status, score patches, results, deletes, and
 * multi-document stream transactions (one of them aborted now and then, which must leave no
 * trace). Requests go one at a time, so the load never conflicts with itself.
 *
 * Pacing is a token bucket of writes per second, capped at one second of burst, so a stall (the
 * snapshot keeping the event loop busy) is not followed by a flood.
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import {
  type AtsproUser,
  Random,
  generateJob,
  generateResult,
  generateResume,
} from "../emulator/atspro-generator.js";
import { messageOf } from "../errors.js";
import { type OwnedKey, researchEdge, taskResult } from "./source-data.js";

export type WriteKind =
  | "insert"
  | "overwrite insert"
  | "patch"
  | "replace"
  | "delete"
  | "stream transaction"
  | "aborted transaction";

export interface WriteLoadOptions {
  readonly url: string;
  readonly database: string;
  readonly username: string;
  readonly password: string;
  readonly writesPerSecond: number;
  readonly seed: number;
  readonly users: readonly AtsproUser[];
  readonly resumes: readonly OwnedKey[];
  readonly jobs: readonly OwnedKey[];
  /** Indexes for generated timestamps continue after the initial data. */
  readonly firstIndex: number;
}

export interface WriteLoadStats {
  /** Document writes that reached the WAL (a committed transaction counts each of its writes). */
  readonly writes: number;
  readonly requests: number;
  readonly byKind: ReadonlyMap<WriteKind, number>;
  /** Writes made inside committed stream transactions. */
  readonly transactionWrites: number;
  readonly failures: number;
  readonly lastFailure: string | undefined;
}

/** Keys that exist, with O(1) pick and removal. */
class KeyPool {
  private readonly items: OwnedKey[];
  private readonly index = new Map<string, number>();

  constructor(initial: readonly OwnedKey[]) {
    this.items = [...initial];
    this.items.forEach((item, i) => this.index.set(item.key, i));
  }

  get size(): number {
    return this.items.length;
  }

  add(item: OwnedKey): void {
    if (this.index.has(item.key)) return;
    this.index.set(item.key, this.items.length);
    this.items.push(item);
  }

  pick(random: Random): OwnedKey | undefined {
    return this.items.length === 0 ? undefined : random.pick(this.items);
  }

  remove(key: string): void {
    const at = this.index.get(key);
    if (at === undefined) return;
    this.index.delete(key);
    // Swap the last item into the hole: removal stays O(1).
    const last = this.items.pop();
    if (last !== undefined && last.key !== key) {
      this.items[at] = last;
      this.index.set(last.key, at);
    }
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

interface Operation {
  readonly weight: number;
  /** Writes made, or undefined when there is nothing to work on yet (no job to complete…). */
  run(): Promise<number | undefined>;
}

const TITLES = ["Staff Engineer", "Senior Data Analyst", "Platform Lead", "Product Designer"];
const SUMMARIES = [
  "Engineer focused on reliable data pipelines and clear interfaces.",
  "Designer who ships accessible interfaces and measures their effect.",
  "Analyst turning messy event data into decisions the business trusts.",
];

export class WriteLoad {
  private readonly random: Random;
  private readonly resumes: KeyPool;
  private readonly jobs: KeyPool;
  private readonly base: string;
  private readonly authorization: string;
  /** One kept-alive connection: requests go one at a time. */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly operations: readonly Operation[];
  private readonly totalWeight: number;
  private index: number;
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly counts = new Map<WriteKind, number>();
  private readonly stats = {
    writes: 0,
    requests: 0,
    transactionWrites: 0,
    failures: 0,
    lastFailure: undefined as string | undefined,
  };

  constructor(private readonly options: WriteLoadOptions) {
    this.random = new Random(options.seed);
    this.resumes = new KeyPool(options.resumes);
    this.jobs = new KeyPool(options.jobs);
    this.index = options.firstIndex;
    this.base = `${options.url.replace(/\/$/, "")}/_db/${encodeURIComponent(options.database)}`;
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
    this.operations = [
      { weight: 12, run: () => this.uploadResume() },
      { weight: 5, run: () => this.reparseResume() },
      { weight: 10, run: () => this.editResume() },
      { weight: 3, run: () => this.backfillResumeTimestamps() },
      { weight: 4, run: () => this.deleteResume() },
      { weight: 9, run: () => this.createJob() },
      { weight: 6, run: () => this.completeJob() },
      { weight: 2, run: () => this.failJob() },
      { weight: 3, run: () => this.editJob() },
      { weight: 4, run: () => this.scoreJob() },
      { weight: 3, run: () => this.deleteJob() },
      { weight: 10, run: () => this.storeResult() },
      { weight: 4, run: () => this.researchInTransaction() },
      { weight: 4, run: () => this.completionInTransaction() },
      { weight: 1, run: () => this.abortedTransaction() },
    ];
    this.totalWeight = this.operations.reduce((sum, o) => sum + o.weight, 0);
  }

  get current(): WriteLoadStats {
    return { ...this.stats, byKind: new Map(this.counts) };
  }

  start(): void {
    if (this.loop !== undefined || this.options.writesPerSecond <= 0) return;
    this.loop = this.run();
  }

  /** Finishes the request or transaction in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.agent.destroy();
  }

  private async run(): Promise<void> {
    const rate = this.options.writesPerSecond;
    let tokens = 0;
    let last = performance.now();
    while (!this.stopping) {
      const now = performance.now();
      tokens = Math.min(tokens + ((now - last) / 1000) * rate, Math.max(1, rate));
      last = now;
      if (tokens < 1) {
        await this.sleep(((1 - tokens) / rate) * 1000);
        continue;
      }
      const writes = await this.step();
      tokens -= Math.max(1, writes);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(1, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One operation picked by weight; one that has nothing to work on falls back to an upload. */
  private async step(): Promise<number> {
    let roll = this.random.next() * this.totalWeight;
    let chosen = this.operations[0];
    for (const operation of this.operations) {
      roll -= operation.weight;
      if (roll < 0) {
        chosen = operation;
        break;
      }
    }
    try {
      return (await chosen?.run()) ?? (await this.uploadResume());
    } catch (error) {
      this.stats.failures += 1;
      this.stats.lastFailure = messageOf(error);
      return 1;
    }
  }

  private counted(kind: WriteKind, writes = 1): number {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.stats.writes += writes;
    return writes;
  }

  private request(
    method: string,
    path: string,
    body?: unknown,
    transactionId?: string,
  ): Promise<Record<string, unknown>> {
    this.stats.requests += 1;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        `${this.base}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: this.authorization,
            ...(payload === undefined
              ? {}
              : {
                  "content-type": "application/json",
                  "content-length": Buffer.byteLength(payload),
                }),
            ...(transactionId === undefined ? {} : { "x-arango-trx-id": transactionId }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = response.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new HttpError(status, text));
              return;
            }
            try {
              resolve(text === "" ? {} : (JSON.parse(text) as Record<string, unknown>));
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
        },
      );
      request.on("error", reject);
      request.end(payload);
    });
  }

  private document(collection: string, key?: string, query = ""): string {
    const suffix = key === undefined ? "" : `/${encodeURIComponent(key)}`;
    return `/_api/document/${collection}${suffix}${query}`;
  }

  // ------------------------------------------------------------------ resumes

  /** The parser worker's `insert(doc, overwrite=True)` of a new upload. */
  private async uploadResume(): Promise<number> {
    const resume = generateResume(this.random, this.options.users, this.index++);
    const result = await this.request(
      "POST",
      this.document("resumes", undefined, "?overwriteMode=replace"),
      resume,
    );
    this.resumes.add({ key: String(result["_key"]), userId: String(resume["user_id"]) });
    return this.counted("overwrite insert");
  }

  /** A retried parse task rewrites the whole document, without created_at. */
  private async reparseResume(): Promise<number | undefined> {
    const target = this.resumes.pick(this.random);
    if (target === undefined) return undefined;
    const resume = generateResume(this.random, this.options.users, this.index++);
    delete resume["created_at"];
    await this.request("POST", this.document("resumes", undefined, "?overwriteMode=replace"), {
      ...resume,
      _key: target.key,
      user_id: target.userId,
    });
    return this.counted("overwrite insert");
  }

  /** `PUT /api/resume` as intended: a merge patch of resume_data, status manual. */
  private async editResume(): Promise<number | undefined> {
    const target = this.resumes.pick(this.random);
    if (target === undefined) return undefined;
    await this.request("PATCH", this.document("resumes", target.key), {
      resume_data: { summary: this.random.pick(SUMMARIES) },
      status: "manual",
      updated_at: naiveNow(this.random),
    });
    return this.counted("patch");
  }

  /** The read-time backfill: created_at and updated_at set to the same value. */
  private async backfillResumeTimestamps(): Promise<number | undefined> {
    const target = this.resumes.pick(this.random);
    if (target === undefined) return undefined;
    const now = naiveNow(this.random);
    await this.request("PATCH", this.document("resumes", target.key), {
      created_at: now,
      updated_at: now,
    });
    return this.counted("patch");
  }

  /** Removing a resume leaves its results behind in ArangoDB (no cascade there). */
  private async deleteResume(): Promise<number | undefined> {
    const target = this.resumes.pick(this.random);
    // Keep a few resumes for the edits and results to work on.
    if (target === undefined || this.resumes.size < 10) return undefined;
    await this.request("DELETE", this.document("resumes", target.key));
    this.resumes.remove(target.key);
    return this.counted("delete");
  }

  // --------------------------------------------------------------------- jobs

  private async createJob(): Promise<number> {
    const job = generateJob(this.random, this.options.users, this.index++);
    const result = await this.request("POST", this.document("jobs"), job);
    this.jobs.add({ key: String(result["_key"]), userId: String(job["user_id"]) });
    return this.counted("insert");
  }

  /** A finished parse as `store_job_result` meant it: the whole document replaced. */
  private completedJob(target: OwnedKey): Record<string, unknown> {
    let job = generateJob(this.random, this.options.users, this.index++);
    while (job["parsed_data"] === undefined) {
      job = generateJob(this.random, this.options.users, this.index++);
    }
    const now = naiveNow(this.random);
    return {
      ...job,
      _key: target.key,
      user_id: target.userId,
      status: "completed",
      created_at: now,
      updated_at: now,
    };
  }

  private async completeJob(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    if (target === undefined) return undefined;
    await this.request("PUT", this.document("jobs", target.key), this.completedJob(target));
    return this.counted("replace");
  }

  private async failJob(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    if (target === undefined) return undefined;
    await this.request("PATCH", this.document("jobs", target.key), {
      status: "failed",
      updated_at: naiveNow(this.random),
      error_message: `Failed to fetch URL: HTTP ${this.random.pick([403, 404, 500])}`,
    });
    return this.counted("patch");
  }

  /**
   * `PATCH /api/jobs/{id}`: dotted names stored as literal attributes, and now and then the
   * API model's default status `applied`, which the target's CHECK does not allow.
   */
  private async editJob(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    if (target === undefined) return undefined;
    await this.request("PATCH", this.document("jobs", target.key), {
      "parsed_data.title": this.random.pick(TITLES),
      archived: this.random.chance(0.2),
      ...(this.random.chance(0.3) ? { status: "applied" } : {}),
      updated_at: naiveNow(this.random),
    });
    return this.counted("patch");
  }

  /** The score worker's result, merged into `scores` under the resume's key. */
  private async scoreJob(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    const resume = this.resumes.pick(this.random);
    if (target === undefined || resume === undefined) return undefined;
    const score = () => this.random.int(0, 100);
    await this.request("PATCH", this.document("jobs", target.key), {
      scores: {
        [resume.key]: {
          overall_score: score(),
          skills_score: score(),
          experience_score: score(),
          education_score: score(),
          keywords_score: score(),
          career_score: score(),
          strengths: [],
          gaps: [],
          recommendations: [],
          rationale: "Weighted 30/25/20/15/10.",
          scored_at: naiveNow(this.random),
        },
      },
      updated_at: naiveNow(this.random),
    });
    return this.counted("patch");
  }

  private async deleteJob(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    // Keep a few jobs for the completions and results to work on.
    if (target === undefined || this.jobs.size < 10) return undefined;
    await this.request("DELETE", this.document("jobs", target.key));
    this.jobs.remove(target.key);
    return this.counted("delete");
  }

  // ------------------------------------------------------------------ results

  private result(): Record<string, unknown> | undefined {
    const resume = this.resumes.pick(this.random);
    const job = this.jobs.pick(this.random);
    if (resume === undefined || job === undefined) return undefined;
    return generateResult(this.random, resume.userId, resume.key, job.key, this.index++);
  }

  private async storeResult(): Promise<number | undefined> {
    const result = this.result();
    if (result === undefined) return undefined;
    await this.request("POST", this.document("documents"), result);
    return this.counted("insert");
  }

  /** Runs `work` in a stream transaction and commits it; aborts it when a step fails. */
  private async inTransaction(
    collections: readonly string[],
    work: (transactionId: string) => Promise<number>,
  ): Promise<number> {
    const begun = await this.request("POST", "/_api/transaction/begin", {
      collections: { write: collections },
    });
    const id = String((begun["result"] as Record<string, unknown> | undefined)?.["id"]);
    let writes: number;
    try {
      writes = await work(id);
    } catch (error) {
      await this.request("DELETE", `/_api/transaction/${id}`).catch(() => undefined);
      throw error;
    }
    await this.request("PUT", `/_api/transaction/${id}`);
    this.stats.transactionWrites += writes;
    return this.counted("stream transaction", writes);
  }

  /** The research worker: a research document and its job_research edge, together. */
  private async researchInTransaction(): Promise<number | undefined> {
    const resume = this.resumes.pick(this.random);
    const job = this.jobs.pick(this.random);
    if (resume === undefined || job === undefined) return undefined;
    let result = generateResult(this.random, resume.userId, resume.key, job.key, this.index++);
    while (result["type"] !== "research") {
      result = generateResult(this.random, resume.userId, resume.key, job.key, this.index++);
    }
    const research = result;
    return this.inTransaction(["documents", "job_research"], async (trx) => {
      const stored = await this.request("POST", this.document("documents"), research, trx);
      const edge = researchEdge(job.key, String(stored["_key"]), research["created_at"]);
      await this.request("POST", this.document("job_research"), edge, trx);
      return 2;
    });
  }

  /** A job completed, its task result stored and an optimization written, all or nothing. */
  private async completionInTransaction(): Promise<number | undefined> {
    const target = this.jobs.pick(this.random);
    const resume = this.resumes.pick(this.random);
    if (target === undefined || resume === undefined) return undefined;
    const job = this.completedJob(target);
    let result = generateResult(this.random, resume.userId, resume.key, target.key, this.index++);
    while (result["type"] !== "optimization") {
      result = generateResult(this.random, resume.userId, resume.key, target.key, this.index++);
    }
    const optimization = result;
    return this.inTransaction(["jobs", "task_results", "documents"], async (trx) => {
      await this.request("PUT", this.document("jobs", target.key), job, trx);
      await this.request(
        "POST",
        this.document("task_results"),
        taskResult(this.random, job, target.key),
        trx,
      );
      await this.request("POST", this.document("documents"), optimization, trx);
      return 3;
    });
  }

  /** Work that is rolled back never reaches the WAL, so it must never reach PostgreSQL either. */
  private async abortedTransaction(): Promise<number> {
    const begun = await this.request("POST", "/_api/transaction/begin", {
      collections: { write: ["resumes"] },
    });
    const id = String((begun["result"] as Record<string, unknown> | undefined)?.["id"]);
    const resume = generateResume(this.random, this.options.users, this.index++);
    await this.request("POST", this.document("resumes"), resume, id);
    await this.request("DELETE", `/_api/transaction/${id}`);
    return this.counted("aborted transaction", 0);
  }
}

/** `datetime.utcnow().isoformat()`: naive UTC with microseconds, as the Redis-era API wrote. */
function naiveNow(random: Random): string {
  const micros = String(random.int(0, 999)).padStart(3, "0");
  return `${new Date().toISOString().slice(0, 23)}${micros}`;
}
