/**
 * `arango-pg-sync status`: where the mirror stands, read from the checkpoint PostgreSQL holds
 * (committed with the data, so it is the truth even while the daemon is down) and from ArangoDB's
 * newest tick when the source answers.
 */
import type { Config } from "../config/config-schema.js";
import { requireSetting } from "../config/load-config.js";
import { messageOf } from "../errors.js";
import { TargetStore } from "../sink/target-store.js";
import { ReplicationApi } from "../source/replication-api.js";
import { defaultSyncerId, mappingFromConfig } from "./daemon-runner.js";

export interface StatusReport {
  readonly phase: string;
  readonly appliedTick: string | null;
  readonly sourceTick: string | null;
  readonly sourceError?: string;
  readonly snapshot: Record<string, unknown>;
  readonly tables: Record<string, number>;
  readonly deadLetters: Record<string, number>;
  readonly parked: Record<string, number>;
  readonly unmappedCollections: readonly string[];
}

export async function readStatus(config: Config, configPath?: string): Promise<StatusReport> {
  const hint = configPath === undefined ? {} : { configPath };
  const pgUrl = requireSetting(config.postgres.url, "postgres.url", { flag: "--pg-url", ...hint });
  const database = requireSetting(config.arango.database, "arango.database", hint);
  const mapping = mappingFromConfig(config);
  const store = await TargetStore.open({ url: pgUrl, mapping, journal: false });
  try {
    const checkpoint = await store.readCheckpoint(database);
    const counts = await store.tableCounts(mapping.tables.map((t) => t.table));
    const backlog = await store.backlog();
    let sourceTick: string | null = null;
    let sourceError: string | undefined;
    let unmapped: string[] = [];
    if (config.arango.url !== undefined) {
      const api = new ReplicationApi(
        {
          url: config.arango.url,
          database,
          username: config.arango.username,
          password: config.arango.password,
        },
        {
          syncerId: config.sync.syncerId ?? defaultSyncerId(database, pgUrl),
          clientInfo: "arango-pg-sync status",
        },
      );
      try {
        sourceTick = (await api.lastTick()).toString();
        unmapped = await api
          .collectionNames()
          .then((names) => names.filter((n) => !mapping.collections.includes(n)));
      } catch (error) {
        sourceError = messageOf(error);
      } finally {
        api.close();
      }
    }
    return {
      phase: checkpoint?.phase ?? "not started",
      appliedTick: checkpoint?.appliedTick?.toString() ?? null,
      sourceTick,
      ...(sourceError === undefined ? {} : { sourceError }),
      snapshot: checkpoint?.snapshot ?? {},
      tables: Object.fromEntries(counts.map((c) => [c.table, c.rows])),
      deadLetters: backlog.deadLetters,
      parked: backlog.parked,
      unmappedCollections: unmapped,
    };
  } finally {
    await store.close();
  }
}

export function formatStatus(report: StatusReport): string {
  const lines = [
    `phase:          ${report.phase}`,
    `applied tick:   ${report.appliedTick ?? "-"}`,
    `source tick:    ${report.sourceTick ?? `- (${report.sourceError ?? "ARANGO_URL not set"})`}`,
    ...Object.entries(report.tables).map(([table, rows]) => `rows ${table.padEnd(22)} ${rows}`),
    ...Object.entries(report.deadLetters).map(
      ([table, n]) => `dead letters ${table.padEnd(14)} ${n}`,
    ),
    ...Object.entries(report.parked).map(([table, n]) => `parked ${table.padEnd(20)} ${n}`),
  ];
  if (report.unmappedCollections.length > 0) {
    lines.push(`not mapped (skipped): ${report.unmappedCollections.join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}
