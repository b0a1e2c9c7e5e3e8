/**
 * A concurrent write load on the emulated ArangoDB, run in the test process against the engine
 * while the daemon works (or lies dead): inserts, overwrite inserts, merge patches, replaces,
 * removes, re-inserts of removed keys, multi-document stream transactions mixing parents and
 * children, big transactions that span several `wal/tail` responses, and now and then a
 * truncate.
 *
 * Deterministic for a seed: the same seed gives the same operations in the same order (when they
 * run relative to the daemon depends on timing, which no test asserts on).
 *
 * Every write keeps the documents mappable and their parents resolvable in the way the expected
 * state (sync-fixture.ts `expectedMirror`) models them, so any difference at the end is the
 * daemon's doing:
 * - replacements keep a known user: an image that parks or dead-letters leaves the previous row
 *   in PostgreSQL, which is the defined behaviour but not `map(ArangoDB)`;
 * - a removed resume or job is only inserted again when no result ever referred to it: its
 *   children were cascaded away in PostgreSQL while ArangoDB kept them (DESIGN.md §6).
 */
import {
  type AtsproUser,
  Random,
  generateJob,
  generateResult,
  generateResume,
} from "../../src/emulator/atspro-generator.js";
import type { CollectionState } from "../../src/emulator/catalog.js";
import type { EmulatedServer, WriteSet } from "../../src/emulator/emulated-server.js";
import { SOURCE_DATABASE, collectionOf } from "./sync-fixture.js";

type Family = "resumes" | "jobs" | "documents";

/** Keys that exist, with O(1) random pick and removal. */
class KeySet {
  private readonly keys: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(keys: Iterable<string> = []) {
    for (const key of keys) this.add(key);
  }

  get size(): number {
    return this.keys.length;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  add(key: string): void {
    if (this.index.has(key)) return;
    this.index.set(key, this.keys.length);
    this.keys.push(key);
  }

  delete(key: string): void {
    const at = this.index.get(key);
    if (at === undefined) return;
    const last = this.keys.pop();
    this.index.delete(key);
    if (last !== undefined && last !== key) {
      this.keys[at] = last;
      this.index.set(last, at);
    }
  }

  pick(random: Random): string | undefined {
    return this.keys.length === 0 ? undefined : random.pick(this.keys);
  }

  clear(): void {
    this.keys.length = 0;
    this.index.clear();
  }

  values(): readonly string[] {
    return this.keys;
  }
}

export interface WriteLoadOptions {
  readonly seed: number;
  /** Users that exist in PostgreSQL's "user" table. */
  readonly users: readonly AtsproUser[];
  /** Average operations per tick of the background loop. */
  readonly operationsPerTick?: number;
  readonly tickMs?: number;
}

export class WriteLoad {
  readonly random: Random;
  /** Operations performed, by kind. */
  readonly counts = new Map<string, number>();
  private readonly live: Record<Family, KeySet>;
  /** Keys removed (by a remove or a truncate) and not inserted again since, per collection. */
  private readonly removed: Record<Family, KeySet>;
  /** Resume and job keys some result has referred to. */
  private readonly referenced = new Set<string>();
  private readonly collections: Record<Family, CollectionState>;
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;

  constructor(
    private readonly state: EmulatedServer,
    private readonly options: WriteLoadOptions,
  ) {
    this.random = new Random(options.seed);
    this.collections = {
      resumes: collectionOf(state, "resumes"),
      jobs: collectionOf(state, "jobs"),
      documents: collectionOf(state, "documents"),
    };
    this.live = {
      resumes: new KeySet(this.collections.resumes.documents.keys()),
      jobs: new KeySet(this.collections.jobs.documents.keys()),
      documents: new KeySet(this.collections.documents.documents.keys()),
    };
    this.removed = { resumes: new KeySet(), jobs: new KeySet(), documents: new KeySet() };
    for (const document of this.collections.documents.documents.values()) {
      this.referenced.add(String(document["resume_id"]));
      this.referenced.add(String(document["job_id"]));
    }
  }

  /** Total operations performed so far. */
  get operations(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  /** Keys removed from ArangoDB and not inserted again: PostgreSQL must not have them. */
  removedKeys(): Record<string, readonly string[]> {
    return {
      resumes: this.removed.resumes.values(),
      jobs: this.removed.jobs.values(),
      optimization_results: this.removed.documents.values(),
    };
  }

  /** Runs in the background: every `tickMs`, a random number of operations around the average. */
  start(): void {
    if (this.timer !== undefined) return;
    const average = this.options.operationsPerTick ?? 1;
    this.timer = setInterval(() => {
      this.burst(this.random.int(0, average * 2));
      // Rarely, a transaction spanning several tail responses (truncates are the caller's).
      if (this.random.chance(0.001)) this.bigTransaction(this.random.int(40, 90));
    }, this.options.tickMs ?? 40);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** `count` random operations now; with `transactions: false`, single-document ones only. */
  burst(count: number, options: { transactions?: boolean } = {}): void {
    for (let i = 0; i < count; i++) this.step(options.transactions ?? true);
  }

  /**
   * One stream transaction with `parents` new resumes, a result for each (children next to
   * their parents), patches of existing resumes and a removal: about three operations per parent.
   */
  bigTransaction(parents: number): void {
    this.transaction((writes) => {
      for (let i = 0; i < parents; i++) {
        const resume = this.insertResume(writes);
        const job = this.live.jobs.pick(this.random);
        if (job !== undefined) this.insertResult(writes, resume, job);
        const other = this.live.resumes.pick(this.random);
        if (other !== undefined && other !== resume) this.patch(writes, "resumes", other);
      }
      const gone = this.live.documents.pick(this.random);
      if (gone !== undefined) this.remove(writes, "documents", gone);
    });
    this.count("big-transaction");
  }

  /** Truncates a collection (a transaction of removals, or one 2004 marker when it is big). */
  truncate(family: Family): void {
    const collection = this.collections[family];
    this.state.truncateCollection(collection);
    for (const key of this.live[family].values()) this.removed[family].add(key);
    this.live[family].clear();
    this.count(`truncate-${family}`);
  }

  private step(transactions: boolean): void {
    // Without transactions, the rolls that would start one are spread over the other kinds.
    const roll = transactions ? this.random.next() : this.random.next() * 0.8;
    if (roll < 0.12) this.single("resumes", (w) => this.insertResume(w));
    else if (roll < 0.18) this.single("jobs", (w) => this.insertJob(w));
    else if (roll < 0.3) this.single("documents", (w) => this.insertChild(w));
    else if (roll < 0.38) this.overwrite(this.random.pick(["resumes", "jobs"] as const));
    else if (roll < 0.58) this.withExisting(this.anyFamily(), (w, f, k) => this.patch(w, f, k));
    else if (roll < 0.66) this.withExisting(this.anyFamily(), (w, f, k) => this.replace(w, f, k));
    else if (roll < 0.76) this.withExisting(this.anyFamily(), (w, f, k) => this.remove(w, f, k));
    else if (roll < 0.8) this.reinsert();
    else if (roll < 0.97) this.smallTransaction();
    else if (roll < 0.99) this.abortedTransaction();
    else this.truncateUnmapped();
  }

  private anyFamily(): Family {
    return this.random.pick(["resumes", "resumes", "jobs", "documents"] as const);
  }

  private count(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  private single(family: Family, body: (writes: WriteSet) => unknown): void {
    const collection = this.collections[family];
    this.state.write(collection, undefined, false, body);
  }

  private withExisting(
    family: Family,
    body: (writes: WriteSet, family: Family, key: string) => void,
  ): void {
    const key = this.live[family].pick(this.random);
    if (key === undefined) return;
    this.single(family, (writes) => body(writes, family, key));
  }

  private transaction(body: (writes: WriteSet) => void): void {
    const database = this.state.database(SOURCE_DATABASE);
    const trx = this.state.beginTransaction(database, {
      write: ["resumes", "jobs", "documents"],
    });
    body(trx.writes);
    this.state.commitTransaction(database, trx.id);
  }

  private user(): AtsproUser {
    return this.random.pick(this.options.users);
  }

  private timestamp(): string {
    this.sequence += 1;
    return new Date(Date.UTC(2025, 8, 1) + this.sequence * 1000).toISOString().replace("Z", "");
  }

  private insertResume(writes: WriteSet, key?: string): string {
    const document = generateResume(this.random, this.options.users, this.sequence++);
    // A resume of a user PostgreSQL does not have would park; keep those to the initial data.
    document["user_id"] = this.user().id;
    if (key !== undefined) document["_key"] = key;
    const result = this.state.insert(writes, this.collections.resumes, document, {});
    this.placed("resumes", result._key);
    this.count("insert");
    return result._key;
  }

  private insertJob(writes: WriteSet, key?: string): string {
    const document = generateJob(this.random, this.options.users, this.sequence++);
    document["user_id"] = this.user().id;
    // "applied" is outside the table's CHECK list: such a job is dead-lettered, not mirrored.
    document["status"] = this.random.pick(["pending", "completed", "failed"]);
    if (key !== undefined) document["_key"] = key;
    const result = this.state.insert(writes, this.collections.jobs, document, {});
    this.placed("jobs", result._key);
    this.count("insert");
    return result._key;
  }

  /** A result for an existing resume and job; now and then for a removed resume (it parks). */
  private insertChild(writes: WriteSet): void {
    const dangling = this.random.chance(0.05) ? this.removed.resumes.pick(this.random) : undefined;
    const resume = dangling ?? this.live.resumes.pick(this.random);
    const job = this.live.jobs.pick(this.random);
    if (resume === undefined || job === undefined) return;
    this.insertResult(writes, resume, job);
  }

  private insertResult(writes: WriteSet, resume: string, job: string, key?: string): void {
    const document = generateResult(this.random, this.user().id, resume, job, this.sequence++);
    if (key !== undefined) document["_key"] = key;
    const result = this.state.insert(writes, this.collections.documents, document, {});
    this.referenced.add(resume);
    this.referenced.add(job);
    this.placed("documents", result._key);
    this.count("insert");
  }

  private placed(family: Family, key: string): void {
    this.live[family].add(key);
    this.removed[family].delete(key);
  }

  /** An insert naming an existing key: `overwriteMode` replace or update. */
  private overwrite(family: "resumes" | "jobs"): void {
    const key = this.live[family].pick(this.random);
    if (key === undefined) return;
    const collection = this.collections[family];
    const current = collection.documents.get(key);
    const body =
      family === "resumes"
        ? generateResume(this.random, this.options.users, this.sequence++)
        : generateJob(this.random, this.options.users, this.sequence++);
    body["_key"] = key;
    body["user_id"] = current?.["user_id"] ?? this.user().id;
    if (family === "jobs") body["status"] = "completed";
    const mode = this.random.pick(["replace", "update"] as const);
    this.single(family, (writes) =>
      this.state.insert(writes, collection, body, { overwriteMode: mode }),
    );
    this.count(`overwrite-${mode}`);
  }

  private patch(writes: WriteSet, family: Family, key: string): void {
    const collection = this.collections[family];
    const at = this.timestamp();
    let body: Record<string, unknown>;
    if (family === "resumes") {
      body = this.random.chance(0.5)
        ? { status: this.random.pick(["parsed", "manual", "failed"]), updated_at: at }
        : { resume_data: { summary: `edited ${this.sequence}` }, updated_at: at };
    } else if (family === "jobs") {
      body = this.random.chance(0.5)
        ? { status: this.random.pick(["pending", "processing", "completed", "failed"]) }
        : { parsed_data: { title: `Title ${this.sequence}` }, updated_at: at };
    } else {
      body = { status: `revised ${this.sequence}`, metadata: { revision: this.sequence } };
    }
    this.state.update(writes, collection, key, body, {});
    this.count("patch");
  }

  private replace(writes: WriteSet, family: Family, key: string): void {
    const collection = this.collections[family];
    const current = collection.documents.get(key);
    let body: Record<string, unknown>;
    if (family === "resumes") {
      body = generateResume(this.random, this.options.users, this.sequence++);
      body["user_id"] = current?.["user_id"] ?? this.user().id;
    } else if (family === "jobs") {
      body = generateJob(this.random, this.options.users, this.sequence++);
      body["user_id"] = current?.["user_id"] ?? this.user().id;
      body["status"] = "pending";
    } else {
      // A result keeps its parents: a new parent that does not exist would park the new image.
      const text = (value: unknown): string => (typeof value === "string" ? value : "");
      body = generateResult(
        this.random,
        text(current?.["user_id"]) || this.user().id,
        text(current?.["resume_id"]),
        text(current?.["job_id"]),
        this.sequence++,
      );
    }
    delete body["_key"];
    this.state.replace(writes, collection, key, body, {});
    this.count("replace");
  }

  private remove(writes: WriteSet, family: Family, key: string): void {
    this.state.remove(writes, this.collections[family], key, {});
    this.live[family].delete(key);
    this.removed[family].add(key);
    this.count("remove");
  }

  /** A removed key comes back (a result, or a resume or job no result ever referred to). */
  private reinsert(): void {
    const family = this.anyFamily();
    const candidates = this.removed[family]
      .values()
      .filter((key) => family === "documents" || !this.referenced.has(key));
    if (candidates.length === 0) return;
    const key = this.random.pick(candidates);
    if (family === "resumes") this.single(family, (w) => this.insertResume(w, key));
    else if (family === "jobs") this.single(family, (w) => this.insertJob(w, key));
    else {
      const resume = this.live.resumes.pick(this.random);
      const job = this.live.jobs.pick(this.random);
      if (resume === undefined || job === undefined) return;
      this.single(family, (w) => this.insertResult(w, resume, job, key));
    }
    this.count("reinsert");
  }

  /** A new resume and job with results referring to them, plus a patch and maybe a removal. */
  private smallTransaction(): void {
    this.transaction((writes) => {
      const resume = this.insertResume(writes);
      const job = this.insertJob(writes);
      for (let i = this.random.int(1, 3); i > 0; i--) this.insertResult(writes, resume, job);
      const other = this.live.jobs.pick(this.random);
      if (other !== undefined && other !== job) this.patch(writes, "jobs", other);
      if (this.random.chance(0.3)) {
        const gone = this.live.documents.pick(this.random);
        if (gone !== undefined) this.remove(writes, "documents", gone);
      }
    });
    this.count("transaction");
  }

  /** Writes that are thrown away: nothing reaches the WAL (protocol §9). */
  private abortedTransaction(): void {
    const database = this.state.database(SOURCE_DATABASE);
    const trx = this.state.beginTransaction(database, { write: ["resumes"] });
    const document = generateResume(this.random, this.options.users, this.sequence++);
    this.state.insert(trx.writes, this.collections.resumes, document, {});
    this.state.abortTransaction(database, trx.id);
    this.count("aborted-transaction");
  }

  /** task_results is not mapped: its markers are counted and skipped. */
  private truncateUnmapped(): void {
    const collection = collectionOf(this.state, "task_results");
    this.state.write(collection, undefined, false, (writes) =>
      this.state.insert(writes, collection, { status: "done", at: this.timestamp() }, {}),
    );
    if (this.random.chance(0.3)) this.state.truncateCollection(collection);
    this.count("unmapped");
  }
}
