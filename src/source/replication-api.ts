/**
 * The replication endpoints the daemon uses, through arangojs's `db.route()` (arangodb-protocol.md
 * §4–§6, §14). Every tick is parsed into a `bigint` here, at the edge; every failure becomes a
 * `SyncError` whose code says whether retrying can help.
 */
import { Database } from "arangojs";
import type { ProcessedResponse } from "arangojs/connection";
import { isArangoError, isNetworkError } from "arangojs/errors";
import { SyncError } from "../errors.js";
import { type Tick, parseTick } from "../events/tick.js";

export interface ArangoConnection {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
}

export interface TailResponse {
  /** Raw NDJSON body: one compact JSON marker per line, each ending with "\n". */
  body: string;
  lastIncluded: Tick;
  lastScanned: Tick;
  lastTick: Tick;
  fromPresent: boolean;
  checkMore: boolean;
}

export interface TailRequest {
  from: Tick;
  lastScanned: Tick;
  chunkSize: number;
}

export interface DumpChunk {
  /** NDJSON, one document per line (`useEnvelope=false`). */
  body: string;
  checkMore: boolean;
}

export interface InventoryCollection {
  name: string;
  globallyUniqueId: string;
  type: number;
  isSystem: boolean;
}

export interface Inventory {
  collections: InventoryCollection[];
  /** The batch's snapshot tick (`state.lastLogTick`): where tailing starts. */
  snapshotTick: Tick;
}

/** Identifies this daemon to ArangoDB so the WAL it still needs is kept (§11). */
export interface ClientIdentity {
  /** Decimal uint64, non-zero, no leading zero (SyncerId.cpp). */
  syncerId: string;
  clientInfo: string;
}

export class ReplicationApi {
  private readonly db: Database;

  constructor(
    connection: ArangoConnection,
    private readonly client: ClientIdentity,
  ) {
    this.db = new Database({
      url: connection.url,
      databaseName: connection.database,
      ...(connection.username === undefined
        ? {}
        : { auth: { username: connection.username, password: connection.password ?? "" } }),
      // The tail loop has its own bounded, jittered back-off; the driver must not retry behind it.
      maxRetries: 0,
    });
  }

  async tail(request: TailRequest): Promise<TailResponse> {
    const res = await this.send("wal/tail", "GET", "/_api/wal/tail", {
      search: {
        from: request.from.toString(),
        lastScanned: request.lastScanned.toString(),
        chunkSize: String(request.chunkSize),
        syncerId: this.client.syncerId,
        clientInfo: this.client.clientInfo,
      },
    });
    const header = (name: string): string | null => res.headers.get(`x-arango-replication-${name}`);
    const lastIncluded = parseTick(header("lastincluded"));
    const lastScanned = parseTick(header("lastscanned"));
    const lastTick = parseTick(header("lasttick"));
    const checkMore = header("checkmore");
    if (lastIncluded === undefined || lastTick === undefined || checkMore === null) {
      // The reference client treats a response without these headers as invalid (§4.4).
      throw new SyncError("SOURCE_PROTOCOL", "wal/tail answered without its replication headers", {
        retryable: true,
      });
    }
    const body = res.status === 204 ? "" : typeof res.parsedBody === "string" ? res.parsedBody : "";
    return {
      body,
      lastIncluded,
      lastScanned: lastScanned ?? 0n,
      lastTick,
      fromPresent: header("frompresent") === "true",
      checkMore: checkMore === "true",
    };
  }

  async lastTick(): Promise<Tick> {
    const res = await this.send("wal/lastTick", "GET", "/_api/wal/lastTick");
    return requireTick(objectField(res.parsedBody, "tick"), "wal/lastTick");
  }

  /** The oldest and newest tick the server can still serve (`tickMin` moves when WAL is pruned). */
  async range(): Promise<{ tickMin: Tick; tickMax: Tick }> {
    const res = await this.send("wal/range", "GET", "/_api/wal/range");
    return {
      tickMin: requireTick(objectField(res.parsedBody, "tickMin"), "wal/range"),
      tickMax: requireTick(objectField(res.parsedBody, "tickMax"), "wal/range"),
    };
  }

  /**
   * Without the syncerId: a batch registers its client at the batch's tick, and its dumps
   * refresh that with the batch's short ttl (§6.2, §11), which would move the daemon's
   * registration past WAL it still needs (a resumed snapshot tails from an earlier batch's
   * tick). The caller registers with `tail` at the tick it will stream from.
   */
  async createBatch(ttlSeconds: number): Promise<{ id: string; snapshotTick: Tick }> {
    const res = await this.send("replication/batch", "POST", "/_api/replication/batch", {
      body: { ttl: ttlSeconds },
      search: { clientInfo: this.client.clientInfo },
    });
    const id = objectField(res.parsedBody, "id");
    if (typeof id !== "string")
      throw new SyncError("SOURCE_PROTOCOL", "replication/batch answered without an id");
    return {
      id,
      snapshotTick: requireTick(objectField(res.parsedBody, "lastTick"), "replication/batch"),
    };
  }

  async extendBatch(id: string, ttlSeconds: number): Promise<void> {
    const path = `/_api/replication/batch/${encodeURIComponent(id)}`;
    await this.send("replication/batch extend", "PUT", path, { body: { ttl: ttlSeconds } });
  }

  async deleteBatch(id: string): Promise<void> {
    await this.send(
      "replication/batch delete",
      "DELETE",
      `/_api/replication/batch/${encodeURIComponent(id)}`,
    );
  }

  async inventory(batchId: string): Promise<Inventory> {
    const res = await this.send("replication/inventory", "GET", "/_api/replication/inventory", {
      search: { batchId, includeSystem: "false" },
    });
    const collections = objectField(res.parsedBody, "collections");
    const state = objectField(res.parsedBody, "state");
    if (!Array.isArray(collections)) {
      throw new SyncError("SOURCE_PROTOCOL", "replication/inventory answered without collections");
    }
    return {
      snapshotTick: requireTick(objectField(state, "lastLogTick"), "replication/inventory"),
      collections: collections.map((entry: unknown) => {
        const parameters = objectField(entry, "parameters");
        const name = objectField(parameters, "name");
        const guid = objectField(parameters, "globallyUniqueId");
        const type = objectField(parameters, "type");
        if (typeof name !== "string" || typeof guid !== "string" || typeof type !== "number") {
          throw new SyncError(
            "SOURCE_PROTOCOL",
            "replication/inventory has a collection without name/id/type",
          );
        }
        return { name, globallyUniqueId: guid, type, isSystem: name.startsWith("_") };
      }),
    };
  }

  /** Next chunk of a collection's snapshot. The server's cursor is stateful: never call twice at once. */
  async dump(batchId: string, collection: string, chunkSize: number): Promise<DumpChunk> {
    const res = await this.send("replication/dump", "GET", "/_api/replication/dump", {
      search: { collection, batchId, chunkSize: String(chunkSize), useEnvelope: "false" },
    });
    return {
      body: res.status === 204 ? "" : typeof res.parsedBody === "string" ? res.parsedBody : "",
      checkMore: res.headers.get("x-arango-replication-checkmore") === "true",
    };
  }

  /** Names of the database's non-system collections (`GET /_api/collection`). */
  async collectionNames(): Promise<string[]> {
    const res = await this.send("collection list", "GET", "/_api/collection", {
      search: { excludeSystem: "true" },
    });
    const result = objectField(res.parsedBody, "result");
    return Array.isArray(result)
      ? result
          .map((c: unknown) => objectField(c, "name"))
          .filter((n): n is string => typeof n === "string")
      : [];
  }

  /**
   * Documents in a collection now (`GET /_api/collection/<name>/count`): what a snapshot of it
   * will dump, give or take the writes racing it. For progress reporting only.
   */
  async collectionCount(name: string): Promise<number> {
    const res = await this.send(
      "collection count",
      "GET",
      `/_api/collection/${encodeURIComponent(name)}/count`,
    );
    const count = objectField(res.parsedBody, "count");
    if (typeof count !== "number" || !Number.isFinite(count)) {
      throw new SyncError(
        "SOURCE_PROTOCOL",
        `collection count of ${name} answered without a count`,
      );
    }
    return count;
  }

  close(): void {
    this.db.close();
  }

  /**
   * One request below `/_db/<database>`. `db.request(…, false)` is the mechanism behind the
   * deprecated `db.route()` (deprecated only because Foxx routes go away in ArangoDB 4.0).
   */
  private async send(
    what: string,
    method: string,
    pathname: string,
    options: { search?: Record<string, string>; body?: unknown } = {},
  ): Promise<ProcessedResponse> {
    try {
      return await this.db.request({ method, pathname, ...options }, false);
    } catch (error) {
      throw classifySourceError(what, error);
    }
  }
}

/** Maps a driver failure to the daemon's error model: auth and usage are fatal, the rest retryable. */
export function classifySourceError(what: string, error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  if (isArangoError(error)) {
    const status = error.code ?? 0;
    const detail = `${what}: ${error.errorMessage} (HTTP ${status}, errorNum ${error.errorNum})`;
    if (status === 401 || status === 403) {
      return new SyncError(
        "SOURCE_AUTH",
        `${detail}; check ARANGO_USERNAME/ARANGO_PASSWORD and that the user is an admin`,
        {
          cause: error,
        },
      );
    }
    if (error.errorNum === 1600 || (what.startsWith("replication/dump") && status === 404)) {
      return new SyncError("SOURCE_BATCH_EXPIRED", `${detail}; the snapshot batch is gone`, {
        cause: error,
        retryable: true,
      });
    }
    if (status === 501) {
      return new SyncError(
        "SOURCE_PROTOCOL",
        `${detail}; point ARANGO_URL at a single server, not a coordinator`,
        {
          cause: error,
        },
      );
    }
    return new SyncError(status >= 500 ? "SOURCE_UNAVAILABLE" : "SOURCE_PROTOCOL", detail, {
      cause: error,
      retryable: status >= 500 || status === 429,
    });
  }
  if (isNetworkError(error) || error instanceof TypeError) {
    return new SyncError("SOURCE_UNAVAILABLE", `${what}: ${error.message}`, {
      cause: error,
      retryable: true,
    });
  }
  return new SyncError("SOURCE_UNAVAILABLE", `${what}: ${String(error)}`, {
    cause: error,
    retryable: true,
  });
}

function objectField(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function requireTick(value: unknown, what: string): Tick {
  const tick = typeof value === "string" ? parseTick(value) : undefined;
  if (tick === undefined)
    throw new SyncError("SOURCE_PROTOCOL", `${what} answered without a valid tick`);
  return tick;
}
