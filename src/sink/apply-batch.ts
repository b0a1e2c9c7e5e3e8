/**
 * Applies one batch of changes in ONE PostgreSQL transaction: truncates, deletes with tombstones,
 * multi-row upserts guarded by `legacy_tick`, parent resolution (translate, park, null or
 * dead-letter), the journal, dead letters, control events, snapshot sweeps and the checkpoint.
 * The checkpoint commits with the rows it covers (DESIGN.md §2 invariant 1); an older image can
 * never overwrite a newer one or resurrect a removed row (invariant 2).
 *
 * Rows PostgreSQL refuses (a CHECK, a foreign key, a value it cannot store) must not take the
 * batch down: the refused rows become dead letters with the server's message (invariant 4). A
 * batch first runs without savepoints, which cost a round trip each; if PostgreSQL refuses a row
 * it rolls back and runs again with each upsert under a savepoint, retried row by row.
 */
import type { ClientBase } from "pg";
import type {
  CompiledMapping,
  CompiledTable,
  MappedRow,
  ParentReference,
} from "../mapping/compile-mapping.js";
import type { Change, Checkpoint, ControlEvent, DeadLetter } from "./changes.js";
import { jsonbRefuses, jsonbStorableText } from "./jsonb-text.js";
import { jsonColumn, rowsFromJsonColumns, textArrayLiteral } from "./pg-array.js";
import { prepared } from "./prepared.js";
import { quoteIdentifier } from "./sql-identifier.js";

export interface ApplyInput {
  readonly changes: readonly Change[];
  readonly deadLetters?: readonly DeadLetter[];
  readonly controlEvents?: readonly ControlEvent[];
  /** After a collection's snapshot: delete its rows older than the snapshot tick (mark-and-sweep). */
  readonly sweeps?: readonly { readonly table: string; readonly belowTick: bigint }[];
  readonly checkpoint: Checkpoint;
  /** Set when the commit before this one may still be in flight on another connection. */
  readonly follows?: FollowedCommit;
  /**
   * Called once this batch's checkpoint is written; the row stays locked until the transaction
   * ends, so a batch that follows this one may now write its own (FollowedCommit).
   */
  readonly onCheckpointWritten?: () => void;
}

/**
 * How a batch follows the commit before it when both run at once on different connections. Its
 * checkpoint is written only once that commit has written its own, which holds the checkpoint
 * row until that transaction ends; this batch's write then waits for that end and applies only
 * on top of `checkpoint`. So commits take effect in order, and if the one before failed, this
 * one fails too (`CheckpointMovedError`): none lands after a gap.
 */
export interface FollowedCommit {
  /** The checkpoint the commit before writes. */
  readonly checkpoint: Checkpoint;
  /** Settles once the commit before has written its checkpoint, or has failed. */
  readonly checkpointWritten: Promise<void>;
}

/** The checkpoint row was not the one this batch was meant to follow; the batch rolled back. */
export class CheckpointMovedError extends Error {
  constructor(readonly sourceDatabase: string) {
    super(
      `the checkpoint of ${sourceDatabase} is not the one this batch follows: the batch before it did not commit`,
    );
    this.name = "CheckpointMovedError";
  }
}

export interface ApplyCounts {
  /** Rows written per table and operation (upsert counts rows that won their tick guard). */
  rows: Map<string, { upsert: number; delete: number; truncate: number }>;
  parked: number;
  unparked: number;
  deadLettered: DeadLetter[];
  swept: number;
}

export interface BatchApplierOptions {
  /** Write every change to arango_sync.journal (needed by `replay`). */
  readonly journal: boolean;
  /**
   * The target's column types (`format_type`), per table and column. Values travel as text and
   * are cast to these, so a translated foreign key (a legacy key in, a uuid stored) needs no
   * type knowledge in the mapping.
   */
  readonly columnTypes: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

interface TablePlan {
  truncateTick: bigint | undefined;
  truncateCollection: string | undefined;
  readonly deletes: Map<string, Extract<Change, { kind: "delete" }>>;
  readonly upserts: Map<string, PendingRow>;
}

interface PendingRow {
  readonly collection: string;
  readonly rev: string;
  readonly row: MappedRow;
  readonly documentJson: string | undefined;
}

export interface StagedApplyOptions {
  /** Staged changes read and applied per statement round (bounds memory). */
  readonly chunkSize?: number;
  /** Called with the number of changes applied so far, after each chunk and the last part. */
  readonly onProgress?: (appliedChanges: number) => void;
}

const PARKED_DEFAULT_TIMEOUT_SECONDS = 3600;

export class BatchApplier {
  private readonly tableOrder: readonly string[];
  private readonly upsertStatements = new Map<string, string>();

  constructor(
    private readonly mapping: CompiledMapping,
    private readonly options: BatchApplierOptions,
  ) {
    this.tableOrder = parentsFirst(mapping);
  }

  async apply(client: ClientBase, input: ApplyInput): Promise<ApplyCounts> {
    try {
      return await this.applyInTransaction(client, input, "abort");
    } catch (error) {
      if (!(error instanceof RowRefusedError)) throw error;
    }
    // Nothing of the first attempt stayed (its checkpoint is written last, after every upsert).
    return this.applyInTransaction(client, input, "isolate");
  }

  private async applyInTransaction(
    client: ClientBase,
    input: ApplyInput,
    refused: RefusedRows,
  ): Promise<ApplyCounts> {
    await client.query("BEGIN");
    try {
      const counts = emptyCounts(input.deadLetters);
      await this.applyChanges(client, input.changes, counts, refused);
      await this.finish(client, input, counts);
      await client.query("COMMIT");
      return counts;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  /** Journal, dead letters, control events, sweeps and the checkpoint: the end of every batch. */
  private async finish(client: ClientBase, input: ApplyInput, counts: ApplyCounts): Promise<void> {
    for (const sweep of input.sweeps ?? []) {
      counts.swept += await sweepOlderThan(client, this.tableOf(sweep.table), sweep.belowTick);
    }
    if (this.options.journal) await writeJournal(client, input.changes);
    await writeDeadLetters(client, counts.deadLettered);
    await writeControlEvents(client, input.controlEvents ?? []);
    await input.follows?.checkpointWritten;
    await writeCheckpoint(client, input.checkpoint, input.follows?.checkpoint);
    input.onCheckpointWritten?.();
  }

  /** Applies changes (in stream order) to the target tables, parents before children. */
  private async applyChanges(
    client: ClientBase,
    changes: readonly Change[],
    counts: ApplyCounts,
    refused: RefusedRows,
  ): Promise<void> {
    const plans = planChanges(changes);
    const upsertedKeys = new Map<string, Set<string>>();
    for (const table of this.tableOrder) {
      const plan = plans.get(table) ?? emptyPlan();
      const compiled = this.tableOf(table);
      if (plan.truncateTick !== undefined) {
        tally(counts, table, "truncate", await truncate(client, compiled, plan.truncateTick));
      }
      if (plan.deletes.size > 0) {
        tally(
          counts,
          table,
          "delete",
          await deleteRows(client, compiled, [...plan.deletes.values()]),
        );
      }
      counts.unparked += await this.takeUnparkable(client, compiled, plan, upsertedKeys);
      if (plan.upserts.size > 0) {
        const pending = [...plan.upserts.values()];
        const written = await this.upsertRows(client, compiled, pending, counts, refused);
        tally(counts, table, "upsert", written.count);
        upsertedKeys.set(table, written.keys);
      }
    }
  }

  /**
   * Writes one part of a large source transaction to arango_sync.staged_changes, with the
   * checkpoint (which still points before the transaction, so a crash re-reads it whole).
   */
  async stage(
    client: ClientBase,
    groupKey: string,
    firstSeq: number,
    input: ApplyInput,
  ): Promise<void> {
    await client.query("BEGIN");
    try {
      if (input.changes.length > 0) {
        await client.query(
          `INSERT INTO arango_sync.staged_changes (group_key, seq, change)
           SELECT $1, $2::bigint + ordinality - 1, change
             FROM json_array_elements_text($3::json) WITH ORDINALITY AS u(change, ordinality)`,
          [groupKey, firstSeq, jsonColumn(input.changes.map(serializeChange))],
        );
      }
      const counts = emptyCounts(input.deadLetters);
      await writeDeadLetters(client, counts.deadLettered);
      await writeControlEvents(client, input.controlEvents ?? []);
      await writeCheckpoint(client, input.checkpoint);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  /**
   * Applies a staged transaction: its staged parts in order, in chunks of `chunkSize` so memory
   * stays bounded, then `input` (its last part), all in ONE PostgreSQL transaction with the
   * checkpoint (DESIGN.md §2 invariant 3). The journal records the staged parts too.
   *
   * One such commit can run for minutes; `onProgress` is called after each chunk and after the
   * last part with the changes applied so far, so the caller can show that it is progressing.
   */
  async applyStaged(
    client: ClientBase,
    groupKey: string,
    input: ApplyInput,
    options: StagedApplyOptions = {},
  ): Promise<ApplyCounts> {
    const chunkSize = options.chunkSize ?? 2000;
    await client.query("BEGIN");
    try {
      const counts = emptyCounts(input.deadLetters);
      let applied = 0;
      let after = -1;
      for (;;) {
        const staged = await client.query<{ seq: string; change: string }>(
          // `ORDER BY` must name the column, not a text alias of it: an alias `seq` of
          // `seq::text` would sort "10" before "9" and the cursor would skip rows.
          `SELECT seq, change FROM arango_sync.staged_changes
            WHERE group_key = $1 AND seq > $2 ORDER BY staged_changes.seq LIMIT $3`,
          [groupKey, after, chunkSize],
        );
        if (staged.rows.length === 0) break;
        const changes = staged.rows.map((r) => deserializeChange(r.change));
        // A staged transaction is too large to run twice: its upserts take savepoints at once.
        await this.applyChanges(client, changes, counts, "isolate");
        if (this.options.journal) await writeJournal(client, changes);
        after = Number(staged.rows[staged.rows.length - 1]?.seq ?? after);
        applied += changes.length;
        options.onProgress?.(applied);
      }
      await this.applyChanges(client, input.changes, counts, "isolate");
      applied += input.changes.length;
      options.onProgress?.(applied);
      await client.query("DELETE FROM arango_sync.staged_changes WHERE group_key = $1", [groupKey]);
      await this.finish(client, input, counts);
      await client.query("COMMIT");
      return counts;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  /** Drops staged parts left by an earlier run: the checkpoint makes the daemon read them again. */
  async discardStaged(client: ClientBase): Promise<number> {
    const result = await client.query("DELETE FROM arango_sync.staged_changes");
    return result.rowCount ?? 0;
  }

  /**
   * Parked rows whose wait is over go to the dead letters (reason missing_parent); the others are
   * tried again, in one transaction, so rows whose parent now exists (a better-auth user created
   * by the operator, say) are written. Returns what happened, for metrics and logs.
   */
  async retryParked(client: ClientBase, limit = 1000): Promise<ApplyCounts> {
    const counts: ApplyCounts = {
      rows: new Map(),
      parked: 0,
      unparked: 0,
      deadLettered: [],
      swept: 0,
    };
    await client.query("BEGIN");
    try {
      const expired = await client.query<{
        table_name: string;
        legacy_id: string;
        legacy_tick: string;
        parent_table: string;
        parent_legacy_id: string;
        row: ParkedRowJson;
      }>(
        `DELETE FROM arango_sync.parked_rows
          WHERE (table_name, legacy_id) IN (
            SELECT table_name, legacy_id FROM arango_sync.parked_rows WHERE deadline <= now() LIMIT $1)
          RETURNING table_name, legacy_id, legacy_tick::text, parent_table, parent_legacy_id, row`,
        [limit],
      );
      for (const row of expired.rows) {
        // The mapping's words for the missing parent ("user not found"), as at once-dead-lettered rows.
        const waitedFor = row.row.parents.find(
          (p) => p.table === row.parent_table && p.value === row.parent_legacy_id,
        );
        counts.deadLettered.push({
          reason: "missing_parent",
          detail: `${waitedFor?.reason ?? `${row.parent_table} not found`}: parent ${row.parent_table} ${row.parent_legacy_id} did not arrive before the park timeout`,
          table: row.table_name,
          collection: row.row.collection,
          key: row.legacy_id,
          tick: BigInt(row.legacy_tick),
          rawJson: row.row.document ?? JSON.stringify({ values: row.row.values }),
        });
      }
      const waiting = await client.query<{
        table_name: string;
        legacy_id: string;
        legacy_tick: string;
        row: ParkedRowJson;
      }>(
        `SELECT table_name, legacy_id, legacy_tick::text, row FROM arango_sync.parked_rows
          ORDER BY parked_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      for (const table of this.tableOrder) {
        const pending = waiting.rows
          .filter((r) => r.table_name === table)
          .map((r): PendingRow => ({
            collection: r.row.collection,
            rev: r.row.rev,
            documentJson: r.row.document,
            row: {
              table,
              key: r.legacy_id,
              tick: BigInt(r.legacy_tick),
              values: r.row.values,
              parents: r.row.parents,
            },
          }));
        if (pending.length === 0) continue;
        const written = await this.upsertRows(
          client,
          this.tableOf(table),
          pending,
          counts,
          "isolate",
        );
        if (written.keys.size > 0) {
          await client.query(
            "DELETE FROM arango_sync.parked_rows WHERE table_name = $1 AND legacy_id = ANY($2::text[])",
            [table, textArrayLiteral([...written.keys])],
          );
        }
        counts.unparked += written.keys.size;
        tally(counts, table, "upsert", written.count);
      }
      // Rows still waiting were re-parked by upsertRows; do not count them as newly parked.
      counts.parked = 0;
      await writeDeadLetters(client, counts.deadLettered);
      // Every transaction of the daemon that changes a mirrored table also touches the
      // checkpoint: that is how the change-stream monitor tells the daemon's writes from
      // foreign ones (DESIGN.md §8).
      if (counts.unparked > 0) {
        await client.query("UPDATE arango_sync.checkpoint SET updated_at = now()");
      }
      await client.query("COMMIT");
      return counts;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  private tableOf(table: string): CompiledTable {
    const compiled = this.mapping.tables.find((t) => t.table === table);
    if (compiled === undefined) throw new Error(`no mapping writes table ${table}`);
    return compiled;
  }

  /**
   * Parked rows of `table` whose parent was written earlier in this transaction rejoin the
   * batch, unless the batch carries a newer image or a removal of the same key.
   */
  private async takeUnparkable(
    client: ClientBase,
    compiled: CompiledTable,
    plan: TablePlan,
    upsertedKeys: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<number> {
    const table = compiled.table;
    // A row parks on one of its table's parents; keys written to other tables cannot free it.
    const parentKeys = compiled.parentTables.flatMap((parent) =>
      [...(upsertedKeys.get(parent) ?? [])].map((k) => [parent, k]),
    );
    if (parentKeys.length === 0) return 0;
    const result = await client.query<{
      legacy_id: string;
      legacy_tick: string;
      row: ParkedRowJson;
    }>(
      prepared(
        `DELETE FROM arango_sync.parked_rows p
          USING unnest($2::text[], $3::text[]) AS parent(parent_table, parent_legacy_id)
          WHERE p.table_name = $1 AND p.parent_table = parent.parent_table
            AND p.parent_legacy_id = parent.parent_legacy_id
          RETURNING p.legacy_id, p.legacy_tick::text, p.row`,
        [
          table,
          textArrayLiteral(parentKeys.map((p) => p[0] ?? "")),
          textArrayLiteral(parentKeys.map((p) => p[1] ?? "")),
        ],
      ),
    );
    let taken = 0;
    for (const parked of result.rows) {
      const tick = BigInt(parked.legacy_tick);
      const newer =
        plan.upserts.get(parked.legacy_id)?.row.tick ?? plan.deletes.get(parked.legacy_id)?.tick;
      if (newer !== undefined && newer > tick) continue;
      if (plan.truncateTick !== undefined && plan.truncateTick > tick) continue;
      plan.upserts.set(parked.legacy_id, {
        collection: parked.row.collection,
        rev: parked.row.rev,
        // Kept: if another parent is still missing the row parks again, and a later dead
        // letter must still carry the raw document (invariant 4).
        documentJson: parked.row.document,
        row: {
          table,
          key: parked.legacy_id,
          tick,
          values: parked.row.values,
          parents: parked.row.parents,
        },
      });
      taken += 1;
    }
    return taken;
  }

  /**
   * Writes the rows whose parents resolve. With `refused` "abort" the statement runs bare and a
   * row PostgreSQL refuses fails the transaction (RowRefusedError); with "isolate" it runs under
   * a savepoint and, if a row is refused, again row by row so only refused rows are set aside.
   */
  private async upsertRows(
    client: ClientBase,
    compiled: CompiledTable,
    pending: PendingRow[],
    counts: ApplyCounts,
    refused: RefusedRows,
  ): Promise<{ count: number; keys: Set<string> }> {
    const ready = await resolveParents(client, pending, counts);
    if (ready.length === 0) return { count: 0, keys: new Set() };
    const keys = new Set(ready.map((p) => p.row.key));
    const statement = this.upsertStatementOf(compiled);
    if (refused === "abort") {
      try {
        const result = await client.query(prepared(statement, upsertParameters(compiled, ready)));
        return { count: result.rowCount ?? 0, keys };
      } catch (error) {
        throw isRowLevelRejection(error) ? new RowRefusedError(compiled.table, error) : error;
      }
    }
    await client.query("SAVEPOINT upsert_rows");
    try {
      const result = await client.query(prepared(statement, upsertParameters(compiled, ready)));
      await client.query("RELEASE SAVEPOINT upsert_rows");
      return { count: result.rowCount ?? 0, keys };
    } catch (error) {
      await client.query("ROLLBACK TO SAVEPOINT upsert_rows");
      if (!isRowLevelRejection(error)) throw error;
    }
    // One row at a time, so only the rows PostgreSQL refuses are set aside.
    let count = 0;
    for (const item of ready) {
      await client.query("SAVEPOINT upsert_row");
      try {
        const result = await client.query(prepared(statement, upsertParameters(compiled, [item])));
        await client.query("RELEASE SAVEPOINT upsert_row");
        count += result.rowCount ?? 0;
      } catch (error) {
        await client.query("ROLLBACK TO SAVEPOINT upsert_row");
        if (!isRowLevelRejection(error)) throw error;
        keys.delete(item.row.key);
        counts.deadLettered.push({
          reason: "constraint_violation",
          detail: `${sqlState(error) ?? "?"}: ${error instanceof Error ? error.message : String(error)}`,
          table: compiled.table,
          collection: item.collection,
          key: item.row.key,
          tick: item.row.tick,
          rawJson: item.documentJson ?? JSON.stringify({ values: item.row.values }),
        });
      }
    }
    return { count, keys };
  }

  private upsertStatementOf(compiled: CompiledTable): string {
    let statement = this.upsertStatements.get(compiled.table);
    if (statement === undefined) {
      statement = upsertStatement(compiled, this.options.columnTypes.get(compiled.table));
      this.upsertStatements.set(compiled.table, statement);
    }
    return statement;
  }
}

/**
 * What an upsert does with a row PostgreSQL refuses: "abort" fails the transaction (the caller
 * runs the batch again with "isolate"), "isolate" sets the row aside as a dead letter.
 */
type RefusedRows = "abort" | "isolate";

/** PostgreSQL refused a row of a batch that ran without savepoints; the batch runs again. */
class RowRefusedError extends Error {
  constructor(table: string, cause: unknown) {
    super(`PostgreSQL refused a row of ${table}`, { cause });
    this.name = "RowRefusedError";
  }
}

interface ParkedRowJson {
  collection: string;
  rev: string;
  values: readonly (string | null)[];
  parents: readonly ParentReference[];
  document?: string;
}

function emptyCounts(deadLetters: readonly DeadLetter[] | undefined): ApplyCounts {
  return {
    rows: new Map(),
    parked: 0,
    unparked: 0,
    deadLettered: [...(deadLetters ?? [])],
    swept: 0,
  };
}

/**
 * A change as text for arango_sync.staged_changes. Only the tick fields are bigint; they are
 * written as decimal strings and restored by name, so no document value is ever reinterpreted.
 */
export function serializeChange(change: Change): string {
  if (change.kind === "upsert") {
    return JSON.stringify({ ...change, row: { ...change.row, tick: change.row.tick.toString() } });
  }
  return JSON.stringify({ ...change, tick: change.tick.toString() });
}

export function deserializeChange(text: string): Change {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  if (parsed["kind"] === "upsert") {
    const row = parsed["row"] as Record<string, unknown>;
    return { ...parsed, row: { ...row, tick: BigInt(row["tick"] as string) } } as unknown as Change;
  }
  return { ...parsed, tick: BigInt(parsed["tick"] as string) } as unknown as Change;
}

function emptyPlan(): TablePlan {
  return {
    truncateTick: undefined,
    truncateCollection: undefined,
    deletes: new Map(),
    upserts: new Map(),
  };
}

/**
 * Folds the batch's changes per table and key: the last change of a key wins (changes arrive in
 * stream order, so ticks only grow), and a truncate supersedes everything before it.
 */
export function planChanges(changes: readonly Change[]): Map<string, TablePlan> {
  const plans = new Map<string, TablePlan>();
  const planOf = (table: string): TablePlan => {
    let plan = plans.get(table);
    if (plan === undefined) {
      plan = emptyPlan();
      plans.set(table, plan);
    }
    return plan;
  };
  for (const change of changes) {
    if (change.kind === "truncate") {
      const plan = planOf(change.table);
      plan.deletes.clear();
      plan.upserts.clear();
      plan.truncateTick = change.tick;
      plan.truncateCollection = change.collection;
    } else if (change.kind === "delete") {
      const plan = planOf(change.table);
      plan.upserts.delete(change.key);
      plan.deletes.set(change.key, change);
    } else {
      const plan = planOf(change.row.table);
      // A removal earlier in the batch stays: deletes run before upserts, and if this newer image
      // cannot be written (it parks or is dead-lettered) the old row must still go.
      plan.upserts.set(change.row.key, {
        collection: change.collection,
        rev: change.rev,
        row: change.row,
        documentJson: change.documentJson,
      });
    }
  }
  return plans;
}

/** Mapped tables ordered so that a table comes after every mapped table it references. */
function parentsFirst(mapping: CompiledMapping): string[] {
  const tables = mapping.tables.map((t) => t.table);
  const parents = new Map(
    mapping.tables.map(
      (t) => [t.table, new Set(t.parentTables.filter((p) => tables.includes(p)))] as const,
    ),
  );
  const ordered: string[] = [];
  const visit = (table: string, path: Set<string>): void => {
    if (ordered.includes(table) || path.has(table)) return;
    path.add(table);
    for (const parent of parents.get(table) ?? []) visit(parent, path);
    ordered.push(table);
  };
  for (const table of tables) visit(table, new Set());
  return ordered;
}

function tally(
  counts: ApplyCounts,
  table: string,
  op: "upsert" | "delete" | "truncate",
  rows: number,
): void {
  let entry = counts.rows.get(table);
  if (entry === undefined) {
    entry = { upsert: 0, delete: 0, truncate: 0 };
    counts.rows.set(table, entry);
  }
  entry[op] += rows;
}

/**
 * Looks every referenced parent up once per (table, column) and translates, parks, nulls or
 * dead-letters per the column's policy. Returns the rows that can be written now.
 */
async function resolveParents(
  client: ClientBase,
  pending: PendingRow[],
  counts: ApplyCounts,
): Promise<PendingRow[]> {
  const groups = new Map<string, { ref: ParentReference; values: Set<string> }>();
  for (const item of pending) {
    for (const ref of item.row.parents) {
      const id = `${ref.table}\u0000${ref.lookupColumn}\u0000${ref.valueColumn}`;
      let group = groups.get(id);
      if (group === undefined) {
        group = { ref, values: new Set() };
        groups.set(id, group);
      }
      group.values.add(ref.value);
    }
  }
  if (groups.size === 0) return pending;
  // Every parent table in one statement: one round trip, whatever the number of references.
  const ids = [...groups.keys()];
  const selects = ids.map((id, i) => {
    const { ref } = groups.get(id) as { ref: ParentReference };
    const lookup = quoteIdentifier(ref.lookupColumn);
    return `SELECT ${i} AS g, ${lookup}::text AS lookup, ${quoteIdentifier(ref.valueColumn)}::text AS value
         FROM ${quoteIdentifier(ref.table)} WHERE ${lookup} = ANY($${i + 1})`;
  });
  const result = await client.query<{ g: number; lookup: string; value: string }>(
    prepared(
      selects.join("\n      UNION ALL "),
      ids.map((id) => textArrayLiteral([...(groups.get(id)?.values ?? [])])),
    ),
  );
  const found = new Map<string, Map<string, string>>(ids.map((id) => [id, new Map()]));
  for (const row of result.rows) found.get(ids[row.g] as string)?.set(row.lookup, row.value);
  const ready: PendingRow[] = [];
  const parked: PendingRow[] = [];
  const parkedOn: ParentReference[] = [];
  for (const item of pending) {
    let values: (string | null)[] | undefined;
    let outcome: "ready" | "parked" | "dead" = "ready";
    for (const ref of item.row.parents) {
      const value = found
        .get(`${ref.table}\u0000${ref.lookupColumn}\u0000${ref.valueColumn}`)
        ?.get(ref.value);
      if (value !== undefined) {
        if (ref.valueColumn !== ref.lookupColumn)
          (values ??= [...item.row.values])[ref.columnIndex] = value;
        continue;
      }
      if (ref.onMissingParent === "null") {
        (values ??= [...item.row.values])[ref.columnIndex] = null;
        continue;
      }
      if (ref.onMissingParent === "park") {
        outcome = "parked";
        parked.push(item);
        parkedOn.push(ref);
      } else {
        outcome = "dead";
        counts.deadLettered.push({
          reason: "missing_parent",
          detail: `${ref.reason}: ${ref.table}.${ref.lookupColumn} = ${ref.value}`,
          table: item.row.table,
          collection: item.collection,
          key: item.row.key,
          tick: item.row.tick,
          rawJson: item.documentJson ?? JSON.stringify({ values: item.row.values }),
        });
      }
      break;
    }
    if (outcome === "ready")
      ready.push(values === undefined ? item : { ...item, row: { ...item.row, values } });
  }
  if (parked.length > 0) {
    await parkRows(client, parked, parkedOn);
    counts.parked += parked.length;
  }
  return ready;
}

async function parkRows(
  client: ClientBase,
  rows: PendingRow[],
  refs: ParentReference[],
): Promise<void> {
  await client.query(
    `INSERT INTO arango_sync.parked_rows
       (table_name, legacy_id, parent_table, parent_legacy_id, legacy_tick, row, deadline)
     SELECT t, k, pt, pk, tick::numeric, r::jsonb, now() + make_interval(secs => timeout::int)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS u(t, k, pt, pk, tick, r, timeout)
     ON CONFLICT (table_name, legacy_id) DO UPDATE
       SET parent_table = EXCLUDED.parent_table, parent_legacy_id = EXCLUDED.parent_legacy_id,
           row = EXCLUDED.row, attempts = parked_rows.attempts + 1,
           -- A retry of the same image keeps its deadline; a newer image starts a new wait.
           deadline = CASE WHEN parked_rows.legacy_tick < EXCLUDED.legacy_tick
                           THEN EXCLUDED.deadline ELSE parked_rows.deadline END,
           parked_at = CASE WHEN parked_rows.legacy_tick < EXCLUDED.legacy_tick
                            THEN now() ELSE parked_rows.parked_at END,
           legacy_tick = EXCLUDED.legacy_tick
       WHERE parked_rows.legacy_tick <= EXCLUDED.legacy_tick`,
    [
      textArrayLiteral(rows.map((r) => r.row.table)),
      textArrayLiteral(rows.map((r) => r.row.key)),
      textArrayLiteral(refs.map((r) => r.table)),
      textArrayLiteral(refs.map((r) => r.value)),
      textArrayLiteral(rows.map((r) => r.row.tick.toString())),
      textArrayLiteral(
        rows.map((r) =>
          JSON.stringify({
            collection: r.collection,
            rev: r.rev,
            values: r.row.values,
            parents: r.row.parents,
            ...(r.documentJson === undefined ? {} : { document: r.documentJson }),
          } satisfies ParkedRowJson),
        ),
      ),
      textArrayLiteral(
        refs.map((r) => String(r.parkTimeoutSeconds || PARKED_DEFAULT_TIMEOUT_SECONDS)),
      ),
    ],
  );
}

function castOf(type: string | undefined): string {
  return type === undefined || type === "text" ? "" : `::${type}`;
}

/**
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT (key) DO UPDATE … WHERE older`, tombstone-guarded.
 *
 * The same statement drops every older image of its rows still waiting for a parent (parked
 * before the key was removed and written again, or before its parent changed). Left parked, such
 * an image is dead-lettered for nothing at its timeout, or, if its parent turns up after the
 * newer row was cascaded away, written as if it were current.
 */
function upsertStatement(
  compiled: CompiledTable,
  types: ReadonlyMap<string, string> | undefined,
): string {
  const table = quoteIdentifier(compiled.table);
  const key = quoteIdentifier(compiled.keyColumn);
  const names = compiled.columns.map((c) => quoteIdentifier(c.name));
  const aliases = compiled.columns.map((_, i) => `c${i}`);
  const tickIndex = compiled.columns.findIndex((c) => c.source === "tick");
  const keyIndex = compiled.columns.findIndex((c) => c.source === "key");
  const selected = compiled.columns.map((c, i) => `u.c${i}${castOf(types?.get(c.name) ?? c.type)}`);
  const updates = compiled.columns
    .filter((c) => c.source !== "key")
    .map((c) => `${quoteIdentifier(c.name)} = EXCLUDED.${quoteIdentifier(c.name)}`);
  const tick = quoteIdentifier(compiled.columns[tickIndex]?.name ?? "legacy_tick");
  const tableParameter = `$${aliases.length + 1}`;
  return `WITH u AS (SELECT * FROM ${rowsFromJsonColumns(aliases.length, 1, "r")}),
    superseded AS (
      DELETE FROM arango_sync.parked_rows p USING u
       WHERE p.table_name = ${tableParameter} AND p.legacy_id = u.c${keyIndex}
         AND p.legacy_tick < u.c${tickIndex}::numeric)
    INSERT INTO ${table} (${names.join(", ")})
    SELECT ${selected.join(", ")}
      FROM u
     WHERE NOT EXISTS (
       SELECT 1 FROM arango_sync.tombstones ts
        WHERE ts.table_name = ${tableParameter} AND ts.legacy_id = u.c${keyIndex}
          AND ts.legacy_tick >= u.c${tickIndex}::numeric)
    ON CONFLICT (${key}) DO UPDATE SET ${updates.join(", ")}
     WHERE ${table}.${tick} IS NULL OR ${table}.${tick} < EXCLUDED.${tick}`;
}

function upsertParameters(compiled: CompiledTable, rows: readonly PendingRow[]): string[] {
  const parameters = compiled.columns.map((_, column) =>
    jsonColumn(rows.map((r) => r.row.values[column] ?? null)),
  );
  parameters.push(compiled.table);
  return parameters;
}

async function truncate(
  client: ClientBase,
  compiled: CompiledTable,
  tick: bigint,
): Promise<number> {
  const table = quoteIdentifier(compiled.table);
  const key = quoteIdentifier(compiled.keyColumn);
  const result = await client.query(
    `WITH gone AS (
       DELETE FROM ${table} WHERE legacy_tick IS NULL OR legacy_tick < $1::numeric RETURNING ${key} AS k, legacy_rev
     ), tombs AS (
       INSERT INTO arango_sync.tombstones (table_name, legacy_id, legacy_tick, legacy_rev)
       SELECT $2, k, $1::numeric, legacy_rev FROM gone WHERE k IS NOT NULL
       ON CONFLICT (table_name, legacy_id) DO UPDATE
         SET legacy_tick = EXCLUDED.legacy_tick, legacy_rev = EXCLUDED.legacy_rev, deleted_at = now()
         WHERE tombstones.legacy_tick < EXCLUDED.legacy_tick
     ), unpark AS (
       DELETE FROM arango_sync.parked_rows WHERE table_name = $2 AND legacy_tick < $1::numeric
     )
     SELECT count(*)::int AS n FROM gone`,
    [tick.toString(), compiled.table],
  );
  return (result.rows[0] as { n: number } | undefined)?.n ?? 0;
}

async function deleteRows(
  client: ClientBase,
  compiled: CompiledTable,
  deletes: readonly Extract<Change, { kind: "delete" }>[],
): Promise<number> {
  const table = quoteIdentifier(compiled.table);
  const key = quoteIdentifier(compiled.keyColumn);
  const result = await client.query(
    `WITH d AS (
       SELECT * FROM unnest($1::text[], $2::numeric[], $3::text[]) AS d(k, tick, rev)
     ), gone AS (
       DELETE FROM ${table} t USING d
        WHERE t.${key} = d.k AND (t.legacy_tick IS NULL OR t.legacy_tick < d.tick)
       RETURNING t.${key}
     ), tombs AS (
       INSERT INTO arango_sync.tombstones (table_name, legacy_id, legacy_tick, legacy_rev)
       SELECT $4, d.k, d.tick, d.rev FROM d
       ON CONFLICT (table_name, legacy_id) DO UPDATE
         SET legacy_tick = EXCLUDED.legacy_tick, legacy_rev = EXCLUDED.legacy_rev, deleted_at = now()
         WHERE tombstones.legacy_tick < EXCLUDED.legacy_tick
     ), unpark AS (
       DELETE FROM arango_sync.parked_rows p USING d
        WHERE p.table_name = $4 AND p.legacy_id = d.k AND p.legacy_tick < d.tick
     )
     SELECT count(*)::int AS n FROM gone`,
    [
      textArrayLiteral(deletes.map((d) => d.key)),
      textArrayLiteral(deletes.map((d) => d.tick.toString())),
      textArrayLiteral(deletes.map((d) => d.rev)),
      compiled.table,
    ],
  );
  return (result.rows[0] as { n: number } | undefined)?.n ?? 0;
}

async function sweepOlderThan(
  client: ClientBase,
  compiled: CompiledTable,
  tick: bigint,
): Promise<number> {
  const result = await client.query(
    `DELETE FROM ${quoteIdentifier(compiled.table)} WHERE legacy_tick IS NULL OR legacy_tick < $1::numeric`,
    [tick.toString()],
  );
  // Parked images from before the snapshot are stale the same way: a document still there was
  // parked again by the dump (at the snapshot tick), and one ArangoDB no longer has must not be
  // written when its parent arrives later (invariant 5: rows not seen are deleted).
  await client.query(
    "DELETE FROM arango_sync.parked_rows WHERE table_name = $1 AND legacy_tick < $2::numeric",
    [compiled.table, tick.toString()],
  );
  return result.rowCount ?? 0;
}

async function writeJournal(client: ClientBase, changes: readonly Change[]): Promise<void> {
  if (changes.length === 0) return;
  const ticks: string[] = [];
  const collections: string[] = [];
  const ops: string[] = [];
  const keys: (string | null)[] = [];
  const revs: (string | null)[] = [];
  const documents: (string | null)[] = [];
  for (const change of changes) {
    collections.push(change.collection);
    if (change.kind === "upsert") {
      ticks.push(change.row.tick.toString());
      ops.push("upsert");
      keys.push(change.row.key);
      revs.push(change.rev);
      // Replay turns the journal's json into jsonb, which cannot hold U+0000 or a lone
      // surrogate: the journal keeps the document as the mapping stored it (stripped).
      documents.push(jsonbStorableText(change.documentJson ?? "{}"));
    } else if (change.kind === "delete") {
      ticks.push(change.tick.toString());
      ops.push("remove");
      keys.push(change.key);
      revs.push(change.rev);
      documents.push(null);
    } else {
      ticks.push(change.tick.toString());
      ops.push("truncate");
      keys.push(null);
      revs.push(null);
      documents.push(null);
    }
  }
  await client.query(
    prepared(JOURNAL_INSERT, [
      jsonColumn(ticks),
      jsonColumn(collections),
      jsonColumn(ops),
      jsonColumn(keys),
      jsonColumn(revs),
      jsonColumn(documents),
    ]),
  );
}

const JOURNAL_INSERT = `INSERT INTO arango_sync.journal (tick, collection, op, legacy_id, legacy_rev, document)
     SELECT tick::numeric, collection, op, k, rev, doc::json
       FROM ${rowsFromJsonColumns(6, 1, "u", ["tick", "collection", "op", "k", "rev", "doc"])}`;

async function writeDeadLetters(client: ClientBase, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  // A raw payload jsonb refuses (\u0000, a lone surrogate) is kept as text instead, so nothing
  // is lost.
  const raw = letters.map((l) =>
    l.rawJson !== undefined && !jsonbRefuses(l.rawJson) ? l.rawJson : null,
  );
  await client.query(
    `INSERT INTO arango_sync.dead_letters
       (table_name, collection, legacy_id, tick, reason, error_detail, raw_event, raw_text)
     SELECT t, c, k, tick, reason, detail, raw::jsonb, raw_text
       FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[], $7::text[], $8::text[])
         AS u(t, c, k, tick, reason, detail, raw, raw_text)`,
    [
      textArrayLiteral(letters.map((l) => l.table ?? null)),
      textArrayLiteral(letters.map((l) => l.collection ?? null)),
      textArrayLiteral(letters.map((l) => l.key ?? null)),
      textArrayLiteral(letters.map((l) => (l.tick === undefined ? null : l.tick.toString()))),
      textArrayLiteral(letters.map((l) => l.reason)),
      textArrayLiteral(letters.map((l) => l.detail)),
      textArrayLiteral(raw),
      textArrayLiteral(
        letters.map((l, i) => (raw[i] === null ? (l.rawText ?? l.rawJson ?? "") : null)),
      ),
    ],
  );
}

async function writeControlEvents(
  client: ClientBase,
  events: readonly ControlEvent[],
): Promise<void> {
  for (const event of events) {
    await client.query(
      "INSERT INTO arango_sync.control_events (kind, detail) VALUES ($1, $2::jsonb)",
      [
        event.kind,
        JSON.stringify(event.detail, (_, value: unknown) =>
          typeof value === "bigint" ? value.toString() : value,
        ),
      ],
    );
  }
}

export async function writeCheckpoint(
  client: ClientBase,
  checkpoint: Checkpoint,
  after?: Checkpoint,
): Promise<void> {
  const values = [
    checkpoint.sourceDatabase,
    checkpoint.phase,
    checkpoint.appliedTick?.toString() ?? null,
    checkpoint.lastScanned?.toString() ?? null,
    checkpoint.snapshotTick?.toString() ?? null,
    JSON.stringify(checkpoint.snapshot),
  ];
  // With `after`, the update applies only to the row `after` describes. ON CONFLICT waits for a
  // concurrent transaction holding the row and then evaluates this condition on the version it
  // left, committed or not (FollowedCommit).
  const guard =
    after === undefined
      ? ""
      : `WHERE checkpoint.phase = $7 AND checkpoint.applied_tick IS NOT DISTINCT FROM $8::numeric
           AND checkpoint.last_scanned IS NOT DISTINCT FROM $9::numeric
           AND checkpoint.snapshot_tick IS NOT DISTINCT FROM $10::numeric
           AND checkpoint.snapshot = $11::jsonb`;
  const text = `INSERT INTO arango_sync.checkpoint
       (source_database, phase, applied_tick, last_scanned, snapshot_tick, snapshot, updated_at)
     VALUES ($1, $2, $3::numeric, $4::numeric, $5::numeric, $6::jsonb, now())
     ON CONFLICT (source_database) DO UPDATE
       SET phase = EXCLUDED.phase, applied_tick = EXCLUDED.applied_tick,
           last_scanned = EXCLUDED.last_scanned, snapshot_tick = EXCLUDED.snapshot_tick,
           snapshot = EXCLUDED.snapshot, updated_at = now()
     ${guard}`;
  const result = await client.query(
    prepared(
      text,
      after === undefined
        ? values
        : [
            ...values,
            after.phase,
            after.appliedTick?.toString() ?? null,
            after.lastScanned?.toString() ?? null,
            after.snapshotTick?.toString() ?? null,
            JSON.stringify(after.snapshot),
          ],
    ),
  );
  if (after !== undefined && result.rowCount !== 1) {
    throw new CheckpointMovedError(checkpoint.sourceDatabase);
  }
}

function sqlState(error: unknown): string | undefined {
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/**
 * Errors that belong to one row and not to the batch: integrity violations (class 23) and data
 * exceptions (class 22, e.g. a value a cast refuses). Anything else aborts the whole batch.
 */
function isRowLevelRejection(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith("23") || state.startsWith("22"));
}
