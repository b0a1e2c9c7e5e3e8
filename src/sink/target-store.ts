/**
 * The daemon's handle on PostgreSQL: one dedicated connection for the apply loop, checkpoint
 * reads, and the queries `status` needs, plus further connections (opened on first use) on which
 * snapshot chunks commit side by side, so the target can use more than one core while loading.
 * Batches still take effect in order: each follows the one before it (`ApplyInput.follows`).
 * The pipeline talks to PostgreSQL only through this class (ESLint keeps `pg` inside src/sink/).
 */
import pg from "pg";
import { SyncError } from "../errors.js";
import type { CompiledMapping } from "../mapping/compile-mapping.js";
import {
  type ApplyCounts,
  type ApplyInput,
  BatchApplier,
  CheckpointMovedError,
  type StagedApplyOptions,
} from "./apply-batch.js";
import type { Checkpoint, Phase, SnapshotProgress } from "./changes.js";
import { targetUnavailable } from "./target-connection.js";

export interface TargetStoreOptions {
  readonly url: string;
  readonly mapping: CompiledMapping;
  readonly journal: boolean;
  /** `application_name`, shown in pg_stat_activity and used by the change-stream monitor. */
  readonly applicationName?: string;
}

export interface TableCounts {
  readonly table: string;
  readonly rows: number;
}

/**
 * The type of every mapped column, read from the catalog; a mapping that names a table or a
 * column the target does not have fails here, at start, with one line per problem.
 */
async function readColumnTypes(
  client: pg.Client,
  mapping: CompiledMapping,
): Promise<Map<string, Map<string, string>>> {
  const result = await client.query<{ table_name: string; column_name: string; type: string }>(
    `SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname = ANY($1::text[]) AND pg_table_is_visible(c.oid) AND a.attnum > 0 AND NOT a.attisdropped`,
    [mapping.tables.map((t) => t.table)],
  );
  const types = new Map<string, Map<string, string>>();
  for (const row of result.rows) {
    let columns = types.get(row.table_name);
    if (columns === undefined) {
      columns = new Map();
      types.set(row.table_name, columns);
    }
    columns.set(row.column_name, row.type);
  }
  const problems: string[] = [];
  for (const table of mapping.tables) {
    const columns = types.get(table.table);
    if (columns === undefined) {
      problems.push(
        `table ${table.table} (mapped from ${table.collection}) does not exist: run arango-pg-sync migrate`,
      );
      continue;
    }
    for (const column of table.columns) {
      if (!columns.has(column.name))
        problems.push(`table ${table.table} has no column ${column.name}`);
    }
  }
  if (problems.length > 0) {
    throw new SyncError(
      "CONFIG_INVALID",
      `the mapping does not fit the PostgreSQL schema:\n${problems.join("\n")}`,
    );
  }
  return types;
}

async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (error) {
    throw targetUnavailable(error, url) ?? error;
  }
  // A dropped connection must surface as an error on the next query, not as a process crash.
  client.on("error", () => undefined);
  return client;
}

export class TargetStore {
  /** Connections for `apply` lanes 1, 2, …; lane 0 is `client`. */
  private readonly lanes = new Map<number, Promise<pg.Client>>();

  private constructor(
    private readonly client: pg.Client,
    private readonly applier: BatchApplier,
    private readonly url: string,
    private readonly applicationName: string,
  ) {}

  static async open(options: TargetStoreOptions): Promise<TargetStore> {
    const applicationName = options.applicationName ?? "arango-pg-sync";
    const client = await connect(options.url, applicationName);
    try {
      const columnTypes = await readColumnTypes(client, options.mapping);
      return new TargetStore(
        client,
        new BatchApplier(options.mapping, { journal: options.journal, columnTypes }),
        options.url,
        applicationName,
      );
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  async readCheckpoint(sourceDatabase: string): Promise<Checkpoint | undefined> {
    const result = await this.query<{
      phase: Phase;
      applied_tick: string | null;
      last_scanned: string | null;
      snapshot_tick: string | null;
      snapshot: Record<string, SnapshotProgress>;
    }>(
      `SELECT phase, applied_tick::text, last_scanned::text, snapshot_tick::text, snapshot
         FROM arango_sync.checkpoint WHERE source_database = $1`,
      [sourceDatabase],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    const tick = (text: string | null): bigint | null => (text === null ? null : BigInt(text));
    return {
      sourceDatabase,
      phase: row.phase,
      appliedTick: tick(row.applied_tick),
      lastScanned: tick(row.last_scanned),
      snapshotTick: tick(row.snapshot_tick),
      snapshot: row.snapshot,
    };
  }

  /**
   * Applies one batch in one transaction. `lane` picks the connection: batches on different
   * lanes run concurrently, and a batch that could overtake another must follow it
   * (`input.follows`).
   */
  async apply(input: ApplyInput, lane = 0): Promise<ApplyCounts> {
    try {
      return await this.applier.apply(await this.laneClient(lane), input);
    } catch (error) {
      throw this.classify(error);
    }
  }

  private laneClient(lane: number): Promise<pg.Client> {
    if (lane === 0) return Promise.resolve(this.client);
    let client = this.lanes.get(lane);
    if (client === undefined) {
      client = connect(this.url, this.applicationName);
      // A failed connect is tried again on the next use.
      client.catch(() => this.lanes.delete(lane));
      this.lanes.set(lane, client);
    }
    return client;
  }

  /** Stages one part of a large source transaction (see BatchApplier.stage). */
  async stage(groupKey: string, firstSeq: number, input: ApplyInput): Promise<void> {
    try {
      await this.applier.stage(this.client, groupKey, firstSeq, input);
    } catch (error) {
      throw this.classify(error);
    }
  }

  /** Applies a staged transaction and its last part atomically (see BatchApplier.applyStaged). */
  async applyStaged(
    groupKey: string,
    input: ApplyInput,
    options: StagedApplyOptions = {},
  ): Promise<ApplyCounts> {
    try {
      return await this.applier.applyStaged(this.client, groupKey, input, options);
    } catch (error) {
      throw this.classify(error);
    }
  }

  async discardStaged(): Promise<number> {
    try {
      return await this.applier.discardStaged(this.client);
    } catch (error) {
      throw this.classify(error);
    }
  }

  async retryParked(): Promise<ApplyCounts> {
    try {
      return await this.applier.retryParked(this.client);
    } catch (error) {
      throw this.classify(error);
    }
  }

  async tableCounts(tables: readonly string[]): Promise<TableCounts[]> {
    const counts: TableCounts[] = [];
    for (const table of tables) {
      const result = await this.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM "${table.replace(/"/g, '""')}"`,
      );
      counts.push({ table, rows: Number(result.rows[0]?.n ?? 0) });
    }
    return counts;
  }

  /** Open dead letters and parked rows per table, for `status` and the admin API. */
  async backlog(): Promise<{
    deadLetters: Record<string, number>;
    parked: Record<string, number>;
  }> {
    const dead = await this.query<{ t: string | null; n: string }>(
      `SELECT table_name AS t, count(*)::text AS n FROM arango_sync.dead_letters WHERE status = 'open' GROUP BY 1`,
    );
    const parked = await this.query<{ t: string; n: string }>(
      "SELECT table_name AS t, count(*)::text AS n FROM arango_sync.parked_rows GROUP BY 1",
    );
    return {
      deadLetters: Object.fromEntries(dead.rows.map((r) => [r.t ?? "(none)", Number(r.n)])),
      parked: Object.fromEntries(parked.rows.map((r) => [r.t, Number(r.n)])),
    };
  }

  /**
   * Open dead letters per table and reason, and parked rows per table: what the `dead_letters`
   * and `parked_rows` gauges hold, recounted (at start and after parked rows were retried).
   */
  async backlogCounts(): Promise<{
    deadLetters: { table: string | undefined; reason: string; count: number }[];
    parked: { table: string; count: number }[];
  }> {
    const dead = await this.query<{ t: string | null; reason: string; n: string }>(
      `SELECT table_name AS t, reason, count(*)::text AS n FROM arango_sync.dead_letters
        WHERE status = 'open' GROUP BY 1, 2`,
    );
    const parked = await this.query<{ t: string; n: string }>(
      "SELECT table_name AS t, count(*)::text AS n FROM arango_sync.parked_rows GROUP BY 1",
    );
    return {
      deadLetters: dead.rows.map((r) => ({
        table: r.t ?? undefined,
        reason: r.reason,
        count: Number(r.n),
      })),
      parked: parked.rows.map((r) => ({ table: r.t, count: Number(r.n) })),
    };
  }

  async close(): Promise<void> {
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    await Promise.all(lanes.map((lane) => lane.then((c) => c.end()).catch(() => undefined)));
    await this.client.end().catch(() => undefined);
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(text, values);
    } catch (error) {
      throw this.classify(error);
    }
  }

  /** Connection trouble and serialization failures are retryable; anything else is not. */
  private classify(error: unknown): SyncError {
    if (error instanceof SyncError) return error;
    if (error instanceof CheckpointMovedError) {
      return new SyncError("TARGET_UNAVAILABLE", `${error.message}; it will be retried`, {
        cause: error,
        retryable: true,
      });
    }
    const unavailable = targetUnavailable(error, this.url);
    if (unavailable !== undefined)
      return new SyncError(unavailable.code, unavailable.message, {
        cause: error,
        retryable: true,
      });
    const code =
      typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
    if (code === "40001" || code === "40P01") {
      return new SyncError(
        "TARGET_UNAVAILABLE",
        `PostgreSQL aborted the batch (${code}); it will be retried`,
        {
          cause: error,
          retryable: true,
        },
      );
    }
    return new SyncError(
      "TARGET_REJECTED",
      `PostgreSQL refused the batch: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}
