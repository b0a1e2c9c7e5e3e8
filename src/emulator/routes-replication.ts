/**
 * Replication routes of a RocksDB single server: `/_api/wal/*` (RestWalAccessHandler.cpp) and
 * `/_api/replication/*` (RestReplicationHandler.cpp, RocksDBRestReplicationHandler.cpp), as
 * specified in arangodb-protocol.md §2–§6 and §16.
 *
 * Version: 3.12.10 and later, where `logger-first-tick`, `logger-tick-ranges`, `logger-follow`,
 * `server-id` and the applier routes are gone and answer like any unknown command (§3, §16).
 * `legacyReplicationApi` brings back the three cheap read-only ones for older versions.
 *
 * JSON bodies are sent as `application/json`, dumps and WAL tails as `application/x-arango-dump`,
 * both without a charset, as the recorded 3.10/3.11 exchanges show.
 */
import { ArangoError, ErrorNum } from "./arango-error.js";
import type { CollectionState, DatabaseState } from "./catalog.js";
import { DumpBatches } from "./dump-batches.js";
import type { EmulatedServer } from "./emulated-server.js";
import type { Handler, HandlerResponse, RequestContext, Router } from "./http-server.js";
import {
  DEFAULT_REPLICATION_TTL_SECONDS,
  type ReplicationClients,
  clientIdentityOf,
  parseBoolean,
  parseUint64,
  replicationTime,
} from "./replication-clients.js";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, isExcludedCollection, tailWal } from "./wal-tail.js";
import { type PruneResult, type RetentionOptions, WalRetention } from "./wal-retention.js";

export interface ReplicationOptions extends RetentionOptions {
  /** Serve `logger-first-tick`, `logger-tick-ranges` and `server-id` as servers before 3.12.10 do. */
  legacyReplicationApi?: boolean;
  /** Answer `/_api/wal/*` as a Coordinator does (501, errorNum 1470). */
  coordinator?: boolean;
}

export interface ReplicationService {
  readonly batches: DumpBatches;
  readonly retention: WalRetention;
  /** Replication clients registered in a database (what logger-state lists). */
  clientsOf(database: DatabaseState): ReplicationClients;
  /** One retention pass now (normally run by the background timer). */
  runRetention(): PruneResult;
  /** Test hook: prunes the WAL below `below` (default: all but the newest batch), clients or not. */
  forcePrune(below?: bigint): PruneResult;
  /** Stops background timers (WAL pruning). */
  stop(): void;
}

const JSON_TYPE = "application/json";
const DUMP_TYPE = "application/x-arango-dump";
const UINT64_MAX = 2n ** 64n - 1n;
/** `RestReplicationHandler` dump chunk size default (128 KiB) and cap (128 MiB). */
const DUMP_DEFAULT_CHUNK_SIZE = 128 * 1024;
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
/** TRI_ERROR_CLUSTER_ONLY_ON_COORDINATOR (lib/Basics/errors.dat). */
const CLUSTER_ONLY_ON_COORDINATOR = 1471;

/** Commands removed in 3.12.10 that `legacyReplicationApi` serves again (read-only ones). */
const LEGACY_COMMANDS = new Set(["logger-first-tick", "logger-tick-ranges", "server-id"]);

export function registerReplicationRoutes(
  router: Router,
  state: EmulatedServer,
  options: ReplicationOptions = {},
): ReplicationService {
  const batches = new DumpBatches(state);
  const retention = new WalRetention(state, options);
  const routes = new ReplicationRoutes(state, batches, retention, options);
  for (const method of METHODS) {
    router.add(
      method,
      "/_api/wal/*suffix",
      guarded((context) => routes.wal(context)),
    );
    router.add(
      method,
      "/_api/replication/*suffix",
      guarded((context) => routes.replication(context)),
    );
  }
  retention.start();
  return {
    batches,
    retention,
    clientsOf: (database) => retention.clientsOf(database),
    runRetention: () => retention.runOnce(),
    forcePrune: (below) => retention.forcePrune(below),
    stop() {
      retention.stop();
    },
  };
}

/** Turns ArangoErrors into JSON error bodies with this file's content type. */
function guarded(handler: (context: RequestContext) => HandlerResponse): Handler {
  return (context) => {
    try {
      return handler(context);
    } catch (error) {
      if (!(error instanceof ArangoError)) throw error;
      return { status: error.httpCode, body: error.toBody(), contentType: JSON_TYPE };
    }
  };
}

function json(body: unknown, status = 200): HandlerResponse {
  return { status, body: stringifyJson(body), contentType: JSON_TYPE };
}

/** JSON with bigints written as plain integer literals (`totalEvents` is a uint64 number). */
export function stringifyJson(value: unknown): string {
  const marker = "\u0000bigint:";
  const text = JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === "bigint" ? `${marker}${inner.toString()}` : inner,
  );
  return text.replace(/"\\u0000bigint:([0-9]+)"/g, "$1");
}

function suffixesOf(context: RequestContext): string[] {
  return (context.params["suffix"] ?? "").split("/").filter((part) => part !== "");
}

/** `lookupCollection(nameOrId)`: a numeric string is an id, else a name, else a globallyUniqueId. */
function lookupCollection(database: DatabaseState, value: string): CollectionState | undefined {
  if (value === "") return undefined;
  if (/^[0-9]+$/.test(value)) return database.collectionsById.get(value);
  const byName = database.collections.get(value);
  if (byName !== undefined) return byName;
  for (const collection of database.collections.values()) {
    if (collection.globallyUniqueId === value) return collection;
  }
  return undefined;
}

class ReplicationRoutes {
  constructor(
    private readonly state: EmulatedServer,
    private readonly batches: DumpBatches,
    private readonly retention: WalRetention,
    private readonly options: ReplicationOptions,
  ) {}

  // ------------------------------------------------------------------ /_api/wal

  /** RestWalAccessHandler::execute: coordinator check, admin check, then the sub-command. */
  wal(context: RequestContext): HandlerResponse {
    if (this.options.coordinator === true) {
      throw new ArangoError(
        501,
        ErrorNum.CLUSTER_UNSUPPORTED,
        "'/_api/wal' is not yet supported in a cluster",
      );
    }
    if (!context.user.admin) throw new ArangoError(403, ErrorNum.FORBIDDEN);
    const [command] = suffixesOf(context);
    const { method } = context;
    if (command === undefined) {
      throw new ArangoError(
        400,
        ErrorNum.HTTP_BAD_PARAMETER,
        "expected GET _api/wal/[tail|range|lastTick]>",
      );
    }
    if (command === "range" && method === "GET") return this.tickRange();
    if (command === "lastTick" && method === "GET") return this.lastTick();
    if (command === "tail" && (method === "GET" || method === "PUT")) return this.tail(context);
    if (command === "open-transactions" && method === "GET") return this.openTransactions(context);
    throw new ArangoError(
      400,
      ErrorNum.HTTP_BAD_PARAMETER,
      "expected GET _api/wal/[tail|range|lastTick|open-transactions]>",
    );
  }

  private serverInfo(): { version: string; serverId: string } {
    return { version: this.state.version, serverId: this.state.serverId.toString() };
  }

  private time(): string {
    return replicationTime(this.state.now());
  }

  /** §5: `tickMin` is the start of the oldest retained batch, `tickMax` the latest sequence. */
  private tickRange(): HandlerResponse {
    const { wal } = this.state;
    return json({
      time: this.time(),
      tickMin: wal.firstSequence.toString(),
      tickMax: wal.lastSequence.toString(),
      server: this.serverInfo(),
    });
  }

  private lastTick(): HandlerResponse {
    return json({
      time: this.time(),
      tick: this.state.wal.lastSequence.toString(),
      server: this.serverInfo(),
    });
  }

  /** §4: validation of `parseFilter`, the scan of wal-tail.ts, headers of §4.2, registration. */
  private tail(context: RequestContext): HandlerResponse {
    const { query } = context;
    const from = parseUint64(query.get("from"), 0n);
    const lastScanned = parseUint64(query.get("lastScanned"), 0n);
    const to = parseUint64(query.get("to"), UINT64_MAX);
    if (from > to || to === 0n) {
      throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, "invalid from/to values");
    }
    let database: DatabaseState | undefined;
    let collection: CollectionState | undefined;
    if (parseBoolean(query.get("global"), false)) {
      if (context.databaseName !== "_system") {
        throw new ArangoError(
          403,
          ErrorNum.FORBIDDEN,
          "global tailing is only possible from within _system database",
        );
      }
    } else {
      database = context.database();
      const name = query.get("collection");
      if (name !== null) {
        collection = lookupCollection(database, name);
        if (collection === undefined) {
          throw new ArangoError(404, ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND);
        }
      }
    }
    if (context.method === "PUT") validateOpenTransactionIds(context.rawBody);
    const identity = clientIdentityOf(query);
    const chunkSizeText = query.get("chunkSize");
    const chunkSize =
      chunkSizeText === null
        ? DEFAULT_CHUNK_SIZE
        : Number(
            parseUint64(chunkSizeText) > BigInt(MAX_CHUNK_SIZE)
              ? BigInt(MAX_CHUNK_SIZE)
              : parseUint64(chunkSizeText),
          );

    const result = tailWal(this.state.wal, {
      database,
      from,
      to,
      lastScanned,
      chunkSize,
      includeSystem: parseBoolean(query.get("includeSystem"), false),
      includeFoxxQueues: parseBoolean(query.get("includeFoxxQueues"), false),
      collection,
    });
    // Every tail call registers its client in every database with lastServedTick = from.
    this.retention.trackEverywhere(identity, from, DEFAULT_REPLICATION_TTL_SECONDS);
    const headers = {
      "x-arango-replication-checkmore": String(result.checkMore),
      "x-arango-replication-lastincluded": result.lastIncluded.toString(),
      "x-arango-replication-lastscanned": result.lastScanned.toString(),
      "x-arango-replication-lasttick": result.lastTick.toString(),
      "x-arango-replication-frompresent": String(result.fromPresent),
    };
    if (result.markerCount === 0) return { status: 204, contentType: DUMP_TYPE, headers };
    return { status: 200, body: result.body, contentType: DUMP_TYPE, headers };
  }

  /** The RocksDB engine never has open transactions in its WAL: always 204, nothing included. */
  private openTransactions(context: RequestContext): HandlerResponse {
    const { query } = context;
    const { wal } = this.state;
    const from = parseUint64(query.get("from"), wal.firstSequence);
    const to = parseUint64(query.get("to"), wal.lastSequence);
    if (from > to || to === 0n) {
      throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, "invalid from/to values");
    }
    return {
      status: 204,
      contentType: JSON_TYPE,
      headers: {
        "x-arango-replication-frompresent": "true",
        "x-arango-replication-lastincluded": "0",
      },
    };
  }

  // ---------------------------------------------------------- /_api/replication

  /** RestReplicationHandler::execute. */
  replication(context: RequestContext): HandlerResponse {
    const suffixes = suffixesOf(context);
    const [command] = suffixes;
    const { method } = context;
    const badCall = (): never => {
      if (suffixes.length !== 1) {
        throw new ArangoError(
          400,
          ErrorNum.HTTP_SUPERFLUOUS_SUFFICES,
          "expecting URL /_api/replication/<command>",
        );
      }
      throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
    };
    if (command === undefined) return badCall();
    this.testPermissions(context, command);
    switch (command) {
      case "logger-state":
        return method === "GET" ? this.loggerState(context) : badCall();
      case "batch":
        return this.batch(context, suffixes);
      case "inventory":
        return method === "GET" ? this.inventory(context) : badCall();
      case "dump":
        return method === "GET" ? this.dump(context) : badCall();
      case "determine-open-transactions":
        return method === "GET" ? this.determineOpenTransactions() : badCall();
      case "clusterInventory":
        if (method !== "GET") return badCall();
        throw new ArangoError(
          403,
          CLUSTER_ONLY_ON_COORDINATOR,
          "this operation is only valid on a coordinator in a cluster",
        );
      default:
        if (this.options.legacyReplicationApi === true && LEGACY_COMMANDS.has(command)) {
          return method === "GET" ? this.legacy(command) : badCall();
        }
        throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, `invalid command '${command}'`);
    }
  }

  /**
   * `testPermissions`: for authenticated requests a dump needs a `collection` parameter before
   * anything else is looked at (404/1203); the emulator grants collection read access to every
   * user that can use the database.
   */
  private testPermissions(context: RequestContext, command: string): void {
    if (!this.state.authentication) return;
    if (command === "dump" && context.method === "GET" && !context.query.get("collection")) {
      throw new ArangoError(404, ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND);
    }
  }

  private loggerStateObject(database: DatabaseState | undefined): Record<string, unknown> {
    const tick = this.state.wal.lastSequence;
    let clients: Record<string, string>[] = [];
    if (database !== undefined) {
      this.retention.collectClients();
      clients = this.retention.clientsOf(database).toJson();
    }
    return {
      state: {
        running: true,
        lastLogTick: tick.toString(),
        lastUncommittedLogTick: tick.toString(),
        totalEvents: tick,
        time: this.time(),
      },
      server: { ...this.serverInfo(), engine: "rocksdb" },
      clients,
    };
  }

  /** §6.1 (RocksDBEngine::createLoggerState): clients are those of the request's database. */
  private loggerState(context: RequestContext): HandlerResponse {
    return json(this.loggerStateObject(context.database()));
  }

  /** §6.2–§6.4. */
  private batch(context: RequestContext, suffixes: string[]): HandlerResponse {
    const { method, query } = context;
    const database = context.database();
    const idText = suffixes[1];
    if (method === "POST") {
      const body = objectBody(context);
      const identity = clientIdentityOf(query);
      const ttl = typeof body["ttl"] === "number" ? body["ttl"] : DEFAULT_REPLICATION_TTL_SECONDS;
      const batch = this.batches.create(ttl, identity);
      const response: Record<string, unknown> = {
        id: batch.id,
        lastTick: batch.snapshotTick.toString(),
      };
      if (parseBoolean(query.get("state"), false)) {
        // The leader state as logger-state describes it, without a database's clients.
        response["state"] = this.loggerStateObject(undefined);
      }
      this.retention.clientsOf(database).track(identity, batch.snapshotTick, ttl);
      return json(response);
    }
    if (method === "PUT" && idText !== undefined) {
      const body = objectBody(context);
      const ttl = typeof body["ttl"] === "number" ? body["ttl"] : DEFAULT_REPLICATION_TTL_SECONDS;
      const batch = this.batches.extend(batchIdOf(idText), ttl, (db) =>
        this.retention.clientsOf(db),
      );
      if (batch === undefined) throw new ArangoError(404, ErrorNum.CURSOR_NOT_FOUND);
      this.retention.clientsOf(database).extend(batch.identity, ttl);
      return { status: 204, contentType: JSON_TYPE };
    }
    if (method === "DELETE" && idText !== undefined) {
      if (!this.batches.remove(batchIdOf(idText))) {
        throw new ArangoError(404, ErrorNum.CURSOR_NOT_FOUND);
      }
      return { status: 204, contentType: JSON_TYPE };
    }
    throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
  }

  /** §6.5 (handleCommandInventory, RocksDBReplicationContext::getInventory, vocbase inventory). */
  private inventory(context: RequestContext): HandlerResponse {
    const { query } = context;
    const batchId = query.get("batchId");
    if (batchId === null) {
      throw new ArangoError(404, ErrorNum.CURSOR_NOT_FOUND, "batchId not specified");
    }
    const batch = this.batches.find(batchIdOf(batchId));
    if (batch === undefined) {
      throw new ArangoError(404, ErrorNum.CURSOR_NOT_FOUND, "context was not found");
    }
    // `tick` is the server tick before the inventory draws its own (TRI_CurrentTickServer).
    const tick = this.state.currentServerTick;
    this.state.nextServerTick();
    const includeSystem = parseBoolean(query.get("includeSystem"), true);
    const includeFoxxQueues = parseBoolean(query.get("includeFoxxQueues"), false);
    const global = parseBoolean(query.get("global"), false);
    const database = context.database();
    if (global && database.name !== "_system") {
      throw new ArangoError(
        403,
        ErrorNum.FORBIDDEN,
        "global inventory can only be created from within _system database",
      );
    }
    const filter = (collection: CollectionState): boolean =>
      !isExcludedCollection(collection.name, includeSystem, includeFoxxQueues);
    const result: Record<string, unknown> = {};
    if (global) {
      const databases: Record<string, unknown> = {};
      const all = this.state.listDatabases().sort((a, b) => compareText(a.name, b.name));
      for (const db of all) databases[db.name] = databaseInventory(db, filter, null);
      result["databases"] = databases;
    } else {
      Object.assign(result, databaseInventory(database, filter, query.get("collection")));
    }
    this.retention.clientsOf(database).track(batch.identity, batch.snapshotTick, batch.ttlSeconds);
    result["state"] = {
      running: true,
      lastLogTick: batch.snapshotTick.toString(),
      lastUncommittedLogTick: batch.snapshotTick.toString(),
      totalEvents: batch.snapshotTick,
      time: this.time(),
    };
    result["tick"] = tick.toString();
    return json(result);
  }

  /** §6.6 (handleCommandDump, RocksDBReplicationContext::dumpJson). */
  private dump(context: RequestContext): HandlerResponse {
    const { query } = context;
    const name = query.get("collection") ?? "";
    if (name === "") {
      throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, "invalid collection parameter");
    }
    const batchId = query.get("batchId");
    if (batchId === null) {
      throw new ArangoError(
        404,
        ErrorNum.HTTP_BAD_PARAMETER,
        "replication dump - request misses batchId",
      );
    }
    const batch = this.batches.find(batchIdOf(batchId));
    if (batch === undefined) {
      throw new ArangoError(
        404,
        ErrorNum.HTTP_BAD_PARAMETER,
        "replication dump - unable to find context (it could be expired)",
      );
    }
    const useEnvelope = parseBoolean(query.get("useEnvelope"), true);
    const chunkSizeText = query.get("chunkSize");
    const requested =
      chunkSizeText === null ? BigInt(DUMP_DEFAULT_CHUNK_SIZE) : parseUint64(chunkSizeText);
    const chunkSize = Number(
      requested > BigInt(MAX_CHUNK_SIZE) ? BigInt(MAX_CHUNK_SIZE) : requested,
    );
    const database = context.database();
    const collection = lookupCollection(database, name);
    if (collection === undefined) {
      throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, "replication dump - bad parameter");
    }
    this.retention.clientsOf(database).track(batch.identity, batch.snapshotTick, batch.ttlSeconds);
    const chunk = batch.dump(collection, chunkSize, useEnvelope);
    const headers = {
      "x-arango-replication-checkmore": String(chunk.hasMore),
      "x-arango-replication-lastincluded": chunk.body === "" ? "0" : String(chunk.counter),
    };
    if (chunk.body === "") return { status: 204, contentType: DUMP_TYPE, headers };
    return { status: 200, body: chunk.body, contentType: DUMP_TYPE, headers };
  }

  /** RocksDB only has finished transactions in its WAL (RocksDBRestReplicationHandler). */
  private determineOpenTransactions(): HandlerResponse {
    return {
      status: 200,
      body: "[]",
      contentType: DUMP_TYPE,
      headers: {
        "x-arango-replication-lasttick": "0",
        "x-arango-replication-frompresent": "true",
      },
    };
  }

  /** Routes of servers before 3.12.10 (docs-hugo-3.11 recorded exchanges). */
  private legacy(command: string): HandlerResponse {
    const { wal } = this.state;
    if (command === "logger-first-tick") return json({ firstTick: wal.firstSequence.toString() });
    if (command === "server-id") return json({ serverId: this.state.serverId.toString() });
    return json([
      {
        datafile: "/000001.log",
        status: "open",
        tickMin: wal.firstSequence.toString(),
        tickMax: wal.lastSequence.toString(),
      },
    ]);
  }
}

/** `PUT /_api/wal/tail` carries the legacy list of open transaction ids (ignored by RocksDB). */
function validateOpenTransactionIds(rawBody: string): void {
  const invalid = new ArangoError(
    400,
    ErrorNum.HTTP_BAD_PARAMETER,
    "invalid body value. expecting array",
  );
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw invalid;
  }
  if (!Array.isArray(body)) throw invalid;
  if (body.some((id) => typeof id !== "string")) {
    throw new ArangoError(
      400,
      ErrorNum.HTTP_BAD_PARAMETER,
      "invalid body value. expecting array of ids",
    );
  }
}

/** The batch body must be a JSON object (arangodb-protocol.md §6.2). */
function objectBody(context: RequestContext): Record<string, unknown> {
  const body = context.body();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ArangoError(400, ErrorNum.HTTP_BAD_PARAMETER, "invalid JSON");
  }
  return body as Record<string, unknown>;
}

/** Batch ids are read with `StringUtils::uint64`, so `007` names batch 7. */
function batchIdOf(text: string): string {
  return parseUint64(text).toString();
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One database's inventory: `properties` (CreateDatabaseInfo::toVelocyPack on a single server),
 * `collections` sorted by type then name, each `{indexes, parameters}`, and `views`.
 */
function databaseInventory(
  database: DatabaseState,
  filter: (collection: CollectionState) => boolean,
  only: string | null,
): Record<string, unknown> {
  let collections = [...database.collections.values()].filter(
    (collection) => !collection.dropped && filter(collection),
  );
  if (only !== null) {
    collections = collections.filter((collection) => collection.name === only);
  }
  collections.sort((a, b) => a.type - b.type || compareText(a.name, b.name));
  return {
    properties: { id: database.id, name: database.name, isSystem: database.isSystem },
    collections: collections.map((collection) => ({
      // Primary and edge indexes are not part of an inventory; the emulator has no others.
      indexes: [],
      parameters: inventoryParameters(collection),
    })),
    views: [],
  };
}

/**
 * `toVelocyPackForInventory`: the collection properties without `objectId`, `path`,
 * `statusString` and `indexes`, with `cid`, `version` (LogicalCollection::Version::v37 = 9) and
 * `deleted` as api-replication-spec.rb expects them.
 */
function inventoryParameters(collection: CollectionState): Record<string, unknown> {
  const {
    objectId: _objectId,
    statusString: _statusString,
    ...properties
  } = collection.properties();
  return {
    ...properties,
    cid: collection.id,
    version: 9,
    deleted: collection.dropped,
  };
}
