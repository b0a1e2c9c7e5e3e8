/**
 * How fast the source serves the replication API with no consumer behind it: a whole dump of
 * the mapped collections through one replication batch, and the whole WAL through `wal/tail`.
 * The responses are read and split into lines (what any client must do) and thrown away. If
 * these rates were near the daemon's, the emulator, not the daemon, would set the figures.
 */
import { ReplicationApi } from "../src/source/replication-api.js";
import { SnapshotReader } from "../src/source/snapshot-reader.js";
import { timed } from "./ceiling.js";

export interface SourceRates {
  readonly dump_docs_per_s: number;
  readonly dumped_docs: number;
  readonly tail_events_per_s: number;
  readonly tailed_events: number;
}

const CHUNK_BYTES = 4 * 1024 * 1024;

export async function measureSource(
  url: string,
  database: string,
  collections: readonly string[],
): Promise<SourceRates> {
  const api = new ReplicationApi(
    { url, database, username: "root", password: "" },
    { syncerId: "7771", clientInfo: "arango-pg-sync bench" },
  );
  try {
    let dumped = 0;
    const reader = new SnapshotReader(api, { ttlSeconds: 300, chunkSize: CHUNK_BYTES });
    const dumpSeconds = await timed(async () => {
      const batch = await reader.open();
      try {
        for (const collection of collections) {
          for await (const lines of reader.documents(batch.id, collection)) dumped += lines.length;
        }
      } finally {
        await reader.close(batch.id);
      }
    });

    let tailed = 0;
    const tailSeconds = await timed(async () => {
      let from = 0n;
      let lastScanned = 0n;
      for (;;) {
        const response = await api.tail({ from, lastScanned, chunkSize: CHUNK_BYTES });
        if (response.body !== "") {
          for (const line of response.body.split("\n")) if (line !== "") tailed += 1;
        }
        if (response.lastIncluded > from) from = response.lastIncluded;
        lastScanned = response.lastScanned;
        if (!response.checkMore) break;
      }
    });
    return {
      dump_docs_per_s: dumped / dumpSeconds,
      dumped_docs: dumped,
      tail_events_per_s: tailed / tailSeconds,
      tailed_events: tailed,
    };
  } finally {
    api.close();
  }
}
