/**
 * Random write sequences against the emulated ArangoDB engine, for the convergence property
 * test: what an application does to the ATSPro collections (inserts, overwriting inserts, merge
 * patches with nested objects and nulls, replaces, removes, multi-document requests, stream
 * transactions that commit or abort, truncates), with documents that do or do not fit the
 * mapping, children written before or after their parents, and parents that never come.
 *
 * The generator stays where "PostgreSQL = map(ArangoDB)" is the whole contract, and says where
 * the edges are:
 * - A document that has mapped once never gets an image that does not map (until it is removed):
 *   such an image is dead-lettered and PostgreSQL keeps the last image that mapped, which is the
 *   defined outcome (nothing is lost, the event waits for a mapping fix) but not map(ArangoDB).
 *   Documents that never mapped change freely, and may start to map.
 * - Parent references (user_id, resume_id, job_id) are fixed for the life of a key, as in ATSPro;
 *   a row re-pointed at a missing parent would likewise keep its older image.
 * - A removed resume or job key is never inserted again: its children were cascaded away in
 *   PostgreSQL while ArangoDB keeps them (DESIGN.md §6), and a new parent with the same key does
 *   not bring them back.
 */
import fc from "fast-check";
import {
  type EmulatedServer,
  type StreamTransaction,
  type WriteSet,
} from "../../src/emulator/emulated-server.js";
import type { CompiledMapping } from "../../src/mapping/compile-mapping.js";
import { SOURCE_DATABASE, collectionOf } from "./sync-fixture.js";

export const MAPPED = ["resumes", "jobs", "documents"] as const;
export type MappedCollection = (typeof MAPPED)[number];

/** Users that exist in PostgreSQL from the start; `GHOST_USER` only once a run creates it. */
export const KNOWN_USERS = ["user-ana", "user-ben", "user-cho"] as const;
export const GHOST_USER = "user-ghost";

const KEY_POOL: Readonly<Record<MappedCollection, number>> = { resumes: 4, jobs: 3, documents: 8 };
const PREFIX: Readonly<Record<MappedCollection, string>> = {
  resumes: "r",
  jobs: "j",
  documents: "d",
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonRecord = Record<string, Json>;

/** The ingredients of a full document body; the writer turns them into one for its collection. */
export interface BodySpec {
  /** Which way to make the body not map, or null for a body that maps. */
  readonly invalid: number | null;
  readonly choice: number;
  readonly payload: JsonRecord;
  readonly extra: Json;
  readonly text: string | null;
  readonly timestamp: number;
  /** Indexes into the users and parent key pools; one past the end is a parent that never comes. */
  readonly parents: {
    readonly user: number;
    readonly resume: number;
    readonly job: number;
    readonly linkExisting: boolean;
  };
}

export interface PatchSpec {
  readonly invalid: boolean;
  readonly choice: number;
  readonly payload: JsonRecord;
  readonly extra: Json;
  readonly text: string | null;
  readonly keepNull: boolean;
}

interface Target {
  readonly collection: MappedCollection;
  readonly key: number;
}

export type Step =
  | (Target & { readonly kind: "insert"; readonly body: BodySpec })
  | (Target & {
      readonly kind: "overwrite";
      readonly mode: "replace" | "update";
      readonly body: BodySpec;
    })
  | (Target & { readonly kind: "patch"; readonly patch: PatchSpec })
  | (Target & { readonly kind: "replace"; readonly body: BodySpec })
  | (Target & { readonly kind: "remove" });

export type Operation =
  | Step
  | { readonly kind: "transaction"; readonly steps: readonly Step[]; readonly commit: boolean }
  | {
      readonly kind: "multiInsert";
      readonly collection: MappedCollection;
      readonly items: readonly { readonly key: number; readonly body: BodySpec }[];
    }
  | { readonly kind: "truncate"; readonly collection: MappedCollection }
  /** A write to a collection the mapping does not cover: counted and skipped by the daemon. */
  | { readonly kind: "unmapped"; readonly text: string };

// ------------------------------------------------------------------------------ arbitraries

/** Object keys from a fixed set: a random key could hit one of the mapping's fallback paths. */
const field = fc.constantFrom("summary", "skills", "title", "company", "nested", "list", "note");

/** Strings, now and then with what PostgreSQL refuses (U+0000, a lone surrogate). */
const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom("nul\u0000inside", "lone \ud800 surrogate", "") },
);

const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    text,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(field, tie("value"), { maxKeys: 3 }),
  ),
})).value;

const payload: fc.Arbitrary<JsonRecord> = fc.dictionary(field, json, { maxKeys: 4 });

/** `rare` once in `n` draws, otherwise a value of `usual`. */
function oneIn(n: number, rare: number, usual: fc.Arbitrary<number>): fc.Arbitrary<number> {
  return fc.oneof({ weight: n - 1, arbitrary: usual }, { weight: 1, arbitrary: fc.constant(rare) });
}

const bodySpec: fc.Arbitrary<BodySpec> = fc.record({
  // One body in eight does not map.
  invalid: fc.oneof(
    { weight: 7, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.nat({ max: 3 }) },
  ),
  choice: fc.nat({ max: 99 }),
  payload,
  extra: json,
  text: fc.option(text),
  timestamp: fc.nat({ max: 99 }),
  parents: fc.record({
    user: oneIn(10, KNOWN_USERS.length, fc.nat({ max: KNOWN_USERS.length - 1 })),
    resume: oneIn(10, KEY_POOL.resumes, fc.nat({ max: KEY_POOL.resumes - 1 })),
    job: oneIn(10, KEY_POOL.jobs, fc.nat({ max: KEY_POOL.jobs - 1 })),
    // Mostly a parent ArangoDB has at that moment; otherwise one that may come later.
    linkExisting: fc.nat({ max: 2 }).map((n) => n > 0),
  }),
});

const patchSpec: fc.Arbitrary<PatchSpec> = fc.record({
  invalid: fc.nat({ max: 7 }).map((n) => n === 0),
  choice: fc.nat({ max: 99 }),
  payload,
  extra: json,
  text: fc.option(text),
  keepNull: fc.boolean(),
});

/** Children are written more often than parents, so they often arrive first. */
const collection = fc.constantFrom<MappedCollection>(
  "resumes",
  "jobs",
  "documents",
  "documents",
  "documents",
);
const key = fc.nat({ max: 9 });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 7,
    arbitrary: fc.record({ kind: fc.constant("insert" as const), collection, key, body: bodySpec }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("overwrite" as const),
      collection,
      key,
      mode: fc.constantFrom<"replace" | "update">("replace", "update"),
      body: bodySpec,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("patch" as const),
      collection,
      key,
      patch: patchSpec,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("replace" as const),
      collection,
      key,
      body: bodySpec,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), collection, key }) },
);

export const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 45, arbitrary: step },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("transaction" as const),
      steps: fc.array(step, { minLength: 1, maxLength: 5 }),
      commit: fc.nat({ max: 4 }).map((n) => n > 0),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("multiInsert" as const),
      collection,
      items: fc.array(fc.record({ key, body: bodySpec }), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      collection: fc.constantFrom<MappedCollection>("resumes", "jobs", "documents", "documents"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unmapped" as const), text }) },
);

/**
 * Most runs start with some parents in place (valid, owned by a known user), so children have
 * something to link to; the parents left out may come later, or never.
 */
export const parentPrelude: fc.Arbitrary<Operation[]> = fc
  .tuple(
    fc.subarray(
      (["resumes", "jobs"] as const).flatMap((c) =>
        Array.from({ length: KEY_POOL[c] }, (_, key) => ({ collection: c, key })),
      ),
    ),
    fc.array(bodySpec, {
      minLength: KEY_POOL.resumes + KEY_POOL.jobs,
      maxLength: KEY_POOL.resumes + KEY_POOL.jobs,
    }),
  )
  .map(([targets, bodies]) =>
    targets.map((target, i): Operation => {
      const body = bodies[i] ?? bodies[0];
      if (body === undefined) throw new Error("no body");
      return {
        kind: "insert",
        ...target,
        body: {
          ...body,
          invalid: null,
          parents: { ...body.parents, user: i % KNOWN_USERS.length },
        },
      };
    }),
  );

// ---------------------------------------------------------------------------- bodies

const RESUME_STATUS = ["pending", "parsing", "parsed", "failed", "manual"] as const;
const JOB_STATUS = ["pending", "processing", "completed", "failed"] as const;
const SOURCE_TYPE = ["url", "document", "manual"] as const;
const RESULT_TYPE = ["optimization", "research", "score", "analysis"] as const;

interface Parents {
  readonly user: string;
  readonly resume: string;
  readonly job: string;
}

function pick<T>(values: readonly T[], index: number): T {
  const value = values[index % values.length];
  if (value === undefined) throw new Error("empty choice");
  return value;
}

/** The timestamp shapes of the real data: absent, naive UTC, `+00:00`, and not a timestamp. */
function timestamp(n: number): string | undefined {
  const at = new Date(Date.UTC(2024, 4, 1, 8) + n * 3_600_123).toISOString();
  if (n < 30) return undefined;
  if (n < 60) return at.replace("Z", "456");
  if (n < 90) return at.replace("Z", "+00:00");
  return "not a date";
}

function taskId(choice: number): JsonRecord {
  if (choice % 3 === 0) return {};
  // A UUID no tasks row has (stored as NULL), or a value that is not a UUID (NULL as well).
  return {
    task_id:
      choice % 3 === 1
        ? `8a0c1e52-6b1f-4e8e-9f7a-${String(choice).padStart(12, "0")}`
        : `task-${choice}`,
  };
}

function resumeBody(spec: BodySpec, parents: Parents): JsonRecord {
  const at = timestamp(spec.timestamp);
  const body: JsonRecord = {
    user_id: parents.user,
    status: pick(RESUME_STATUS, spec.choice),
    resume_data: spec.choice % 7 === 0 ? null : spec.payload,
    file_metadata: spec.extra,
    error_message: spec.text,
    ...taskId(spec.choice),
    ...(spec.choice % 5 === 4 ? { source: "manual" } : {}),
    ...(at === undefined ? {} : { created_at: at }),
    ...(at !== undefined && spec.choice % 4 === 0 ? { updated_at: at } : {}),
  };
  switch (spec.invalid === null ? undefined : spec.invalid % 4) {
    case 0:
      return { ...body, status: "archived" };
    case 1:
      return { ...body, resume_data: "plain text" };
    case 2: {
      const { user_id: _, ...rest } = body;
      return rest;
    }
    case 3:
      return { ...body, user_id: 42 };
    default:
      return body;
  }
}

function jobBody(spec: BodySpec, parents: Parents): JsonRecord {
  const at = timestamp(spec.timestamp);
  const body: JsonRecord = {
    user_id: parents.user,
    type: "job",
    status: pick(JOB_STATUS, spec.choice),
    parsed_data: spec.payload,
    scores: spec.extra,
    error_message: spec.text,
    ...taskId(spec.choice),
    ...(spec.choice % 5 === 0 ? {} : { source_type: pick(SOURCE_TYPE, spec.choice) }),
    ...(spec.choice % 2 === 0 ? { source_url: `https://jobs.example.org/${spec.choice}` } : {}),
    ...(at === undefined ? {} : { created_at: at }),
  };
  switch (spec.invalid === null ? undefined : spec.invalid % 4) {
    case 0:
      return { ...body, status: "applied" };
    case 1:
      return { ...body, parsed_data: [1, 2] };
    case 2: {
      const { user_id: _, ...rest } = body;
      return rest;
    }
    case 3:
      return { ...body, source_type: "fax" };
    default:
      return body;
  }
}

function resultBody(spec: BodySpec, parents: Parents): JsonRecord {
  const at = timestamp(spec.timestamp);
  const body: JsonRecord = {
    type: pick(RESULT_TYPE, spec.choice),
    user_id: parents.user,
    resume_id: parents.resume,
    job_id: parents.job,
    ...(spec.choice % 2 === 0
      ? { score_data: spec.payload }
      : { content: spec.text, optimized_data: spec.payload }),
    metadata: spec.extra,
    ...taskId(spec.choice),
    ...(at === undefined ? {} : { created_at: at }),
  };
  switch (spec.invalid === null ? undefined : spec.invalid % 4) {
    case 0:
      return { ...body, type: "summary" };
    case 1: {
      const { resume_id: _, ...rest } = body;
      return rest;
    }
    case 2: {
      const { type: _, ...rest } = body;
      return rest;
    }
    case 3:
      return { ...body, job_id: 7 };
    default:
      return body;
  }
}

function patchBody(collection: MappedCollection, spec: PatchSpec): JsonRecord {
  const at = timestamp(30 + (spec.choice % 60)) ?? null;
  if (spec.invalid) {
    const invalid: Record<MappedCollection, readonly JsonRecord[]> = {
      resumes: [{ status: "archived" }, { resume_data: "plain text" }, { user_id: null }],
      jobs: [{ status: "applied" }, { parsed_data: [1] }, { user_id: null }],
      documents: [{ type: "summary" }, { resume_id: null }, { job_id: 7 }],
    };
    return pick(invalid[collection], spec.choice);
  }
  const valid: Record<MappedCollection, readonly JsonRecord[]> = {
    resumes: [
      { resume_data: spec.payload },
      { status: pick(RESUME_STATUS, spec.choice) },
      { status: null },
      { error_message: spec.text },
      { file_metadata: spec.extra },
      { resume_data: null },
      { updated_at: at },
    ],
    jobs: [
      { parsed_data: spec.payload },
      { status: pick(JOB_STATUS, spec.choice) },
      { scores: spec.extra },
      { error_message: spec.text },
      { parsed_data: null },
    ],
    documents: [
      { score_data: spec.payload },
      { metadata: spec.extra },
      { note: spec.text },
      { created_at: at },
      { nested: { deeper: spec.payload, gone: null } },
    ],
  };
  return pick(valid[collection], spec.choice);
}

// ---------------------------------------------------------------------------- the writer

/**
 * Applies operations to the engine, skipping those that cannot happen (an insert of an existing
 * key, a patch of a missing one) or that would leave the contract above.
 */
export class SourceWriter {
  /** Keys whose current incarnation has mapped at some point. */
  private everMapped = new Set<string>();
  /** Removed resume and job keys (never inserted again). */
  private retired = new Set<string>();
  private parents = new Map<string, Parents>();
  private unmappedKeys = 0;
  /** Operations performed (skipped ones included, marked), for a failure message. */
  readonly log: string[] = [];

  constructor(
    private readonly state: EmulatedServer,
    private readonly mapping: CompiledMapping,
  ) {}

  run(op: Operation): void {
    const state = this.state;
    switch (op.kind) {
      case "transaction": {
        const names = [...new Set(op.steps.map((s) => s.collection))];
        const saved = {
          everMapped: new Set(this.everMapped),
          retired: new Set(this.retired),
          parents: new Map(this.parents),
        };
        const database = state.database(SOURCE_DATABASE);
        const trx = state.beginTransaction(database, { write: names });
        this.log.push(`begin ${trx.id} (${names.join(", ")})`);
        for (const s of op.steps) {
          state.write(collectionOf(state, s.collection), trx, false, (w) => {
            this.step(w, s, trx);
          });
        }
        if (op.commit) {
          state.commitTransaction(database, trx.id);
          this.log.push(`commit ${trx.id}`);
        } else {
          state.abortTransaction(database, trx.id);
          // Nothing of it happened: the bookkeeping goes back to where it was.
          this.everMapped = saved.everMapped;
          this.retired = saved.retired;
          this.parents = saved.parents;
          this.log.push(`abort ${trx.id}`);
        }
        return;
      }
      case "multiInsert":
        this.log.push(`multi-document request on ${op.collection}`);
        state.write(collectionOf(state, op.collection), undefined, true, (w) => {
          for (const item of op.items) {
            this.step(w, { kind: "insert", collection: op.collection, ...item });
          }
        });
        return;
      case "truncate": {
        const target = collectionOf(state, op.collection);
        this.log.push(`truncate ${op.collection} (${target.documents.size} documents)`);
        for (const k of target.documents.keys()) this.forget(op.collection, k);
        state.truncateCollection(target);
        return;
      }
      case "unmapped": {
        const target = collectionOf(state, "task_results");
        this.unmappedKeys += 1;
        const doc = { _key: `t${this.unmappedKeys}`, note: op.text };
        state.write(target, undefined, false, (w) => state.insert(w, target, doc, {}));
        this.log.push(`insert task_results/${doc._key}`);
        return;
      }
      default:
        state.write(collectionOf(state, op.collection), undefined, false, (w) => {
          this.step(w, op);
        });
    }
  }

  /** The key names a collection's pool uses. */
  static keyOf(collection: MappedCollection, index: number): string {
    return `${PREFIX[collection]}${index % KEY_POOL[collection]}`;
  }

  private step(writes: WriteSet, s: Step, trx?: StreamTransaction): void {
    const state = this.state;
    const target = collectionOf(state, s.collection);
    const key = SourceWriter.keyOf(s.collection, s.key);
    const id = `${s.collection}/${key}`;
    const existing = writes.read(target, key);
    const prefix = trx === undefined ? "" : `  [${trx.id}] `;
    const skipped = this.skipReason(s, id, existing !== undefined);
    if (skipped !== undefined) {
      this.log.push(`${prefix}${s.kind} ${id} skipped: ${skipped}`);
      return;
    }
    if (s.kind === "remove") {
      state.remove(writes, target, key, {});
      this.forget(s.collection, key);
      this.log.push(`${prefix}remove ${id}`);
      return;
    }
    if (s.kind === "patch") {
      const patch = patchBody(s.collection, s.patch);
      state.update(writes, target, key, patch, { keepNull: s.patch.keepNull });
      this.log.push(`${prefix}patch ${id} ${JSON.stringify(patch)} keepNull=${s.patch.keepNull}`);
    } else {
      const parents = this.parentsOf(id, s.body, existing === undefined);
      const body = { _key: key, ...this.body(s.collection, s.body, parents) };
      if (s.kind === "replace") state.replace(writes, target, key, body, {});
      else if (s.kind === "overwrite")
        state.insert(writes, target, body, { overwriteMode: s.mode });
      else state.insert(writes, target, body, {});
      const what = s.kind === "overwrite" ? `overwrite(${s.mode})` : s.kind;
      this.log.push(`${prefix}${what} ${id} ${JSON.stringify(body)}`);
    }
    const image = writes.read(target, key);
    if (image === undefined) throw new Error(`${id} vanished after a write`);
    const maps = this.mapping.forCollection(s.collection)?.buildRow({
      key,
      rev: image._rev,
      tick: 0n,
      document: target.present(image) as never,
    }).ok;
    if (maps === true) this.everMapped.add(id);
    else if (this.everMapped.has(id)) {
      throw new Error(`the generator made ${id} stop mapping: ${JSON.stringify(image)}`);
    }
  }

  /** Why a step cannot or must not happen now, or undefined when it can. */
  private skipReason(s: Step, id: string, exists: boolean): string | undefined {
    if (s.kind === "insert" && exists) return "exists";
    if ((s.kind === "patch" || s.kind === "replace" || s.kind === "remove") && !exists) {
      return "absent";
    }
    if (!exists && this.retired.has(id)) return "retired parent key";
    const unmappable =
      s.kind === "patch" ? s.patch.invalid : s.kind !== "remove" && s.body.invalid !== null;
    if (unmappable && this.everMapped.has(id)) return "would stop mapping";
    return undefined;
  }

  private forget(collection: MappedCollection, key: string): void {
    const id = `${collection}/${key}`;
    this.everMapped.delete(id);
    this.parents.delete(id);
    if (collection !== "documents") this.retired.add(id);
  }

  private parentsOf(id: string, spec: BodySpec, fresh: boolean): Parents {
    const known = fresh ? undefined : this.parents.get(id);
    if (known !== undefined) return known;
    const parentKey = (collection: "resumes" | "jobs", index: number): string => {
      if (index >= KEY_POOL[collection]) return `${PREFIX[collection]}-never`;
      const present = [...collectionOf(this.state, collection).documents.keys()];
      return spec.parents.linkExisting && present.length > 0
        ? pick(present, index)
        : SourceWriter.keyOf(collection, index);
    };
    const parents: Parents = {
      user:
        spec.parents.user < KNOWN_USERS.length ? pick(KNOWN_USERS, spec.parents.user) : GHOST_USER,
      resume: parentKey("resumes", spec.parents.resume),
      job: parentKey("jobs", spec.parents.job),
    };
    this.parents.set(id, parents);
    return parents;
  }

  private body(collection: MappedCollection, spec: BodySpec, parents: Parents): JsonRecord {
    switch (collection) {
      case "resumes":
        return resumeBody(spec, parents);
      case "jobs":
        return jobBody(spec, parents);
      case "documents":
        return resultBody(spec, parents);
    }
  }
}
