/**
 * The PostgreSQL side of the change-stream monitor (DESIGN.md §8): a publication on the mirrored
 * tables plus `arango_sync.checkpoint`, and a logical replication slot (pgoutput) owned by the
 * daemon. Both are created and dropped only by explicit commands (`migrate --with-change-stream`,
 * `change-stream create|drop`), never as a side effect of `run`: a slot nobody reads keeps WAL on
 * the PostgreSQL server forever, so it must exist only while an operator wants it.
 *
 * The publication carries the checkpoint table because every transaction of the daemon that
 * changes a mirrored table writes the checkpoint too; a transaction on a mirrored table without it
 * is a foreign write.
 */
import type { Client } from "pg";
import { SyncError, messageOf } from "../errors.js";
import { quoteIdentifier } from "./sql-identifier.js";
import {
  connectTarget,
  describeTarget,
  errorCode,
  targetUnavailable,
} from "./target-connection.js";

/** The daemon's own table that marks its transactions in the change stream. */
export const CHECKPOINT_RELATION = { schema: "arango_sync", name: "checkpoint" } as const;

export interface ChangeStreamNames {
  /** Replication slot name (cluster-wide: unique across the server's databases). */
  readonly slot: string;
  /** Publication name (per database). */
  readonly publication: string;
}

export interface ChangeStreamTarget extends ChangeStreamNames {
  readonly pgUrl: string;
}

export interface ChangeStreamSetup extends ChangeStreamTarget {
  /** The mirrored tables (the mapping's tables). */
  readonly tables: readonly string[];
}

export type ChangeStreamStepStatus = "created" | "updated" | "exists" | "dropped" | "absent";

export interface ChangeStreamStep {
  readonly what: "publication" | "slot";
  readonly name: string;
  readonly status: ChangeStreamStepStatus;
}

export interface SlotState {
  readonly database: string;
  readonly plugin: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  /** Where a restarted stream resumes; everything before it was acknowledged. */
  readonly confirmedFlushLsn: string | null;
  /** The slot decodes this database (a slot of another database cannot be read from here). */
  readonly inThisDatabase: boolean;
}

const APPLICATION_NAME = "arango-pg-sync change-stream";

/**
 * Creates the publication (or brings its table list in line with the mapping) and the slot.
 * Idempotent. Creating the slot waits for transactions running on the server to finish: that is
 * how PostgreSQL finds a consistent starting point.
 */
export async function createChangeStream(setup: ChangeStreamSetup): Promise<ChangeStreamStep[]> {
  return withTarget(setup.pgUrl, async (client) => {
    const steps: ChangeStreamStep[] = [];
    const tables = [
      ...setup.tables.map(quoteIdentifier),
      `${quoteIdentifier(CHECKPOINT_RELATION.schema)}.${quoteIdentifier(CHECKPOINT_RELATION.name)}`,
    ].join(", ");
    const publication = quoteIdentifier(setup.publication);
    const existing = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [
      setup.publication,
    ]);
    if (existing.rowCount === 0) {
      await client.query(`CREATE PUBLICATION ${publication} FOR TABLE ${tables}`);
      steps.push({ what: "publication", name: setup.publication, status: "created" });
    } else {
      // SET TABLE replaces the list: a table added to or removed from the mapping follows.
      await client.query(`ALTER PUBLICATION ${publication} SET TABLE ${tables}`);
      steps.push({ what: "publication", name: setup.publication, status: "updated" });
    }
    const slot = await slotState(client, setup.slot);
    if (slot === undefined) {
      await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [setup.slot]);
      steps.push({ what: "slot", name: setup.slot, status: "created" });
    } else {
      requireOwnSlot(setup.slot, slot);
      steps.push({ what: "slot", name: setup.slot, status: "exists" });
    }
    return steps;
  });
}

/** Drops the slot (it must not be in use: stop the daemon first) and the publication. Idempotent. */
export async function dropChangeStream(target: ChangeStreamTarget): Promise<ChangeStreamStep[]> {
  return withTarget(target.pgUrl, async (client) => {
    const steps: ChangeStreamStep[] = [];
    const slot = await slotState(client, target.slot);
    if (slot === undefined) {
      steps.push({ what: "slot", name: target.slot, status: "absent" });
    } else {
      requireOwnSlot(target.slot, slot);
      if (slot.active) {
        throw new SyncError(
          "USAGE",
          `replication slot ${target.slot} is in use (PostgreSQL process ${slot.activePid ?? "?"}): stop the daemon first, then drop it`,
        );
      }
      await client.query("SELECT pg_drop_replication_slot($1)", [target.slot]);
      steps.push({ what: "slot", name: target.slot, status: "dropped" });
    }
    const dropped = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [
      target.publication,
    ]);
    if (dropped.rowCount === 0) {
      steps.push({ what: "publication", name: target.publication, status: "absent" });
    } else {
      await client.query(`DROP PUBLICATION ${quoteIdentifier(target.publication)}`);
      steps.push({ what: "publication", name: target.publication, status: "dropped" });
    }
    return steps;
  });
}

/** The slot as PostgreSQL reports it, or undefined when there is none of that name. */
export async function readChangeStreamSlot(
  target: Pick<ChangeStreamTarget, "pgUrl" | "slot">,
): Promise<SlotState | undefined> {
  return withTarget(target.pgUrl, (client) => slotState(client, target.slot));
}

async function slotState(client: Client, slot: string): Promise<SlotState | undefined> {
  const result = await client.query<{
    database: string | null;
    plugin: string | null;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    this_database: boolean;
  }>(
    `SELECT database, plugin, active, active_pid, confirmed_flush_lsn::text,
            database = current_database() AS this_database
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    database: row.database ?? "",
    plugin: row.plugin,
    active: row.active,
    activePid: row.active_pid,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    inThisDatabase: row.this_database,
  };
}

/** A slot of the same name that decodes another database or with another plugin is not ours. */
function requireOwnSlot(name: string, slot: SlotState): void {
  if (!slot.inThisDatabase || slot.plugin !== "pgoutput") {
    throw new SyncError(
      "CONFIG_INVALID",
      `replication slot ${name} exists on this server for database ${slot.database || "(none)"} with plugin ${slot.plugin ?? "(physical)"}: it is not this daemon's; choose another changeStream.slot`,
    );
  }
}

async function withTarget<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectTarget(url, { applicationName: APPLICATION_NAME });
  try {
    return await work(client);
  } catch (error) {
    throw classify(error, url);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function classify(error: unknown, url: string): SyncError {
  if (error instanceof SyncError) return error;
  const unavailable = targetUnavailable(error, url);
  if (unavailable !== undefined) return unavailable;
  const code = errorCode(error);
  const where = describeTarget(url);
  if (code === "55000") {
    // "logical decoding requires wal_level >= logical" and its relatives.
    return new SyncError(
      "TARGET_REJECTED",
      `PostgreSQL at ${where} cannot decode its WAL logically: ${messageOf(error)}; set wal_level = logical (and max_replication_slots, max_wal_senders > 0), then restart PostgreSQL`,
      { cause: error },
    );
  }
  if (code === "42501") {
    return new SyncError(
      "TARGET_REJECTED",
      `PostgreSQL at ${where} refused: ${messageOf(error)}; the change stream needs a user with the REPLICATION attribute that owns the mirrored tables`,
      { cause: error },
    );
  }
  return new SyncError("TARGET_REJECTED", `PostgreSQL at ${where}: ${messageOf(error)}`, {
    cause: error,
  });
}
