/**
 * The state of one emulated ArangoDB single server (RocksDB engine): databases, collections,
 * documents, stream transactions, users, server mode and the write-ahead log. HTTP lives in
 * http-server.ts and the route files; this class is the storage engine they share.
 *
 * JavaScript runs one request handler at a time, so every method here is atomic, like a RocksDB
 * write batch: a reader never sees half of a write.
 */
import { HybridLogicalClock } from "../source/revision.js";
import {
  ArangoError,
  ErrorNum,
  badRequest,
  conflict,
  forbidden,
  notFound,
} from "./arango-error.js";
import {
  CollectionState,
  DOCUMENT_COLLECTION,
  DatabaseState,
  EDGE_COLLECTION,
  type KeyOptions,
  type StoredDocument,
  validateCollectionName,
  validateDatabaseName,
  validateHandle,
  validateKey,
} from "./catalog.js";
import { buildDocument, isPlainObject, mergeDocument } from "./document-body.js";
import { type PendingRecord, WriteAheadLog, WriteCost } from "./write-ahead-log.js";

export interface EmulatorOptions {
  /** Server id (uint64); the `h<hex>/` prefix of every globallyUniqueId. */
  serverId?: bigint;
  version?: string;
  /** When false every request is served as root, like `--server.authentication false`. */
  authentication?: boolean;
  rootPassword?: string;
  /** Wall clock for `_rev` values and `time` fields; tests may pin it. */
  now?: () => number;
  /** First WAL sequence number of a fresh server (e.g. to test ticks above 2^53). */
  firstSequence?: bigint;
  /** A saved state to start from instead of a fresh `_system` database (persistence.ts). */
  restoredState?: RestoredState;
}

/** What a restart from saved state brings back: the catalog, the retained WAL and the counters. */
export interface RestoredState {
  databases: readonly DatabaseState[];
  wal: WriteAheadLog;
  serverTick: bigint;
  /** Highest hybrid-logical-clock value handed out before the save. */
  revision: bigint;
}

/** A database permission (auth::Level): administrate, access, no access. */
export type AccessLevel = "rw" | "ro" | "none";

export interface User {
  password: string;
  active: boolean;
  /** Read-write on `_system`: what ArangoDB calls an admin user (needed for /_api/wal). */
  admin: boolean;
  /** Database permissions by name; `*` applies to databases without their own entry. */
  databases: Map<string, AccessLevel>;
}

/** Documents written by one operation, request or stream transaction, committed as one WAL batch. */
export class WriteSet {
  private readonly changes = new Map<CollectionState, Map<string, StoredDocument | null>>();
  readonly records: PendingRecord[] = [];

  constructor(
    readonly database: DatabaseState,
    /** "0" for a single-document operation, else the transaction id. */
    readonly tid: string,
  ) {}

  read(collection: CollectionState, key: string): StoredDocument | undefined {
    const pending = this.changes.get(collection)?.get(key);
    if (pending === null) return undefined;
    return pending ?? collection.documents.get(key);
  }

  /** Keys this write set has touched in a collection (its own writes shadow the store). */
  touched(collection: CollectionState): ReadonlyMap<string, StoredDocument | null> | undefined {
    return this.changes.get(collection);
  }

  put(collection: CollectionState, document: StoredDocument): void {
    this.changesOf(collection).set(document._key, document);
    const edge = collection.type === EDGE_COLLECTION;
    this.records.push({
      kind: "document",
      database: this.database,
      collection,
      tid: this.tid,
      document,
      writes: edge ? WriteCost.edgeDocument : WriteCost.document,
    });
  }

  remove(collection: CollectionState, key: string, rev: string): void {
    this.changesOf(collection).set(key, null);
    const edge = collection.type === EDGE_COLLECTION;
    this.records.push({
      kind: "remove",
      database: this.database,
      collection,
      tid: this.tid,
      key,
      rev,
      writes: edge ? WriteCost.edgeRemove : WriteCost.remove,
    });
  }

  get isEmpty(): boolean {
    return this.records.length === 0;
  }

  /** Applies the changes to the store (the caller appends the WAL batch in the same turn). */
  applyToStore(): void {
    for (const [collection, keys] of this.changes) {
      if (collection.dropped) continue;
      for (const [key, document] of keys) {
        if (document === null) collection.documents.delete(key);
        else collection.documents.set(key, document);
      }
    }
  }

  private changesOf(collection: CollectionState): Map<string, StoredDocument | null> {
    let keys = this.changes.get(collection);
    if (keys === undefined) {
      keys = new Map();
      this.changes.set(collection, keys);
    }
    return keys;
  }
}

export interface StreamTransaction {
  readonly id: string;
  readonly database: DatabaseState;
  readonly writeCollections: ReadonlySet<CollectionState>;
  readonly readCollections: ReadonlySet<CollectionState>;
  readonly writes: WriteSet;
  /** Reads of collections not declared at begin are allowed (`allowImplicit`, default true). */
  readonly allowImplicit: boolean;
  status: "running" | "committed" | "aborted";
  /** The idle timeout aborted it; later commits say "expired" (transaction::Manager). */
  expired: boolean;
  expiresAt: number;
}

export interface WriteOptions {
  waitForSync?: boolean;
  returnNew?: boolean;
  returnOld?: boolean;
  silent?: boolean;
  keepNull?: boolean;
  mergeObjects?: boolean;
  /** Compare `_rev` of the body (or `ifMatch`) with the stored one; default: ignore revisions. */
  ignoreRevs?: boolean;
  ifMatch?: string;
  overwriteMode?: "ignore" | "replace" | "update" | "conflict";
}

export interface WriteResult {
  _id: string;
  _key: string;
  _rev: string;
  _oldRev?: string;
  new?: StoredDocument;
  old?: StoredDocument;
}

/** ArangoDB's default stream-transaction idle timeout (`--transaction.streaming-idle-timeout`). */
const STREAM_TRANSACTION_IDLE_SECONDS = 60;
/** Truncates of at least this many documents write one range delete and a 2004 marker (§9). */
const RANGE_DELETE_THRESHOLD = 32768;
/** Truncates below the threshold remove documents in intermediate commits of this size (§9). */
const TRUNCATE_COMMIT_SIZE = 10000;

const SYSTEM_COLLECTIONS_EVERY_DATABASE = ["_analyzers", "_aqlfunctions", "_graphs"];
const SYSTEM_COLLECTIONS_SYSTEM_DATABASE = [
  "_apps",
  "_appbundles",
  "_frontend",
  "_jobs",
  "_queues",
  "_users",
];

export class EmulatedServer {
  readonly serverId: bigint;
  readonly version: string;
  readonly authentication: boolean;
  readonly users = new Map<string, User>();
  readonly wal: WriteAheadLog;
  readonly clock: HybridLogicalClock;
  readonly now: () => number;
  readOnly = false;
  private readonly databases = new Map<string, DatabaseState>();
  private readonly transactions = new Map<string, StreamTransaction>();
  /** Keys written by running stream transactions: others get a write-write conflict. */
  private readonly locks = new Map<CollectionState, Map<string, string>>();
  /** TRI_NewTickServer(): ids of databases, collections, transactions, batches and generated keys. */
  private serverTick = 100n;

  constructor(options: EmulatorOptions = {}) {
    this.serverId = options.serverId ?? 114433185744346n;
    this.version = options.version ?? "3.12.10";
    this.authentication = options.authentication ?? true;
    this.now = options.now ?? Date.now;
    this.clock = new HybridLogicalClock(this.now);
    this.users.set("root", {
      password: options.rootPassword ?? "",
      active: true,
      admin: true,
      databases: new Map([["*", "rw"]]),
    });
    this.wal = options.restoredState?.wal ?? new WriteAheadLog(options.firstSequence);
    const restored = options.restoredState;
    if (restored === undefined) {
      this.createDatabase("_system", "1");
      return;
    }
    for (const database of restored.databases) this.databases.set(database.name, database);
    this.observeServerTick(restored.serverTick);
    this.clock.observe(restored.revision);
  }

  nextServerTick(): string {
    this.serverTick += 1n;
    return this.serverTick.toString();
  }

  /** Keeps generated ids above values restored from a persisted state. */
  observeServerTick(value: bigint): void {
    if (value > this.serverTick) this.serverTick = value;
  }

  get currentServerTick(): bigint {
    return this.serverTick;
  }

  guidOf(collectionId: string): string {
    return `h${this.serverId.toString(16).toUpperCase()}/${collectionId}`;
  }

  // -------------------------------------------------------------------- users

  /** A new user without database permissions (RestUsersHandler: StoreUser, UserManager). */
  createUser(name: unknown, spec: { passwd?: unknown; active?: unknown }): User {
    if (typeof name !== "string" || name === "") throw badRequest(ErrorNum.USER_INVALID_NAME);
    if (this.users.has(name)) throw conflict(ErrorNum.USER_DUPLICATE);
    const user: User = {
      password: typeof spec.passwd === "string" ? spec.passwd : "",
      active: typeof spec.active === "boolean" ? spec.active : true,
      admin: false,
      databases: new Map(),
    };
    this.users.set(name, user);
    return user;
  }

  /** Sets a database permission; read-write on `_system` is what makes a user an admin. */
  grantDatabase(username: string, database: string, level: AccessLevel): void {
    const user = this.users.get(username);
    if (user === undefined) throw notFound(ErrorNum.USER_NOT_FOUND);
    user.databases.set(database, level);
    user.admin = this.databaseAccess(user, "_system") === "rw";
  }

  /** A user's permission on a database: its own entry, else the `*` entry, else none. */
  databaseAccess(user: User, database: string): AccessLevel {
    if (!this.authentication) return "rw";
    return user.databases.get(database) ?? user.databases.get("*") ?? "none";
  }

  // ---------------------------------------------------------------- databases

  database(name: string): DatabaseState {
    const database = this.databases.get(name);
    if (database === undefined) throw notFound(ErrorNum.ARANGO_DATABASE_NOT_FOUND);
    return database;
  }

  findDatabase(name: string): DatabaseState | undefined {
    return this.databases.get(name);
  }

  listDatabases(): DatabaseState[] {
    return [...this.databases.values()];
  }

  createDatabase(name: string, id?: string): DatabaseState {
    // Databases::create: only admins, and nobody but the superuser in read-only mode.
    this.refuseInReadOnlyMode(() => forbidden(ErrorNum.FORBIDDEN));
    validateDatabaseName(name);
    if (this.databases.has(name))
      throw conflict(ErrorNum.ARANGO_DUPLICATE_NAME, `duplicate database name '${name}'`);
    const database = new DatabaseState(id ?? this.nextServerTick(), name);
    this.databases.set(name, database);
    this.wal.append([
      {
        kind: "database-create",
        database,
        definition: { database: Number(database.id), id: database.id, name },
        writes: WriteCost.databaseDefinition,
      },
    ]);
    const system = name === "_system" ? SYSTEM_COLLECTIONS_SYSTEM_DATABASE : [];
    for (const collection of [...SYSTEM_COLLECTIONS_EVERY_DATABASE, ...system].sort()) {
      this.createCollection(database, { name: collection, isSystem: true });
    }
    return database;
  }

  dropDatabase(name: string): void {
    // Databases::drop needs read-write on `_system`, which read-only mode takes away.
    this.refuseInReadOnlyMode(() => forbidden(ErrorNum.FORBIDDEN));
    if (name === "_system") throw new ArangoError(403, ErrorNum.FORBIDDEN, "forbidden");
    const database = this.database(name);
    this.databases.delete(name);
    database.dropped = true;
    for (const collection of database.collections.values()) collection.dropped = true;
    this.wal.append([{ kind: "database-drop", database, writes: WriteCost.databaseDrop }]);
  }

  // -------------------------------------------------------------- collections

  createCollection(
    database: DatabaseState,
    spec: {
      name: unknown;
      type?: unknown;
      waitForSync?: unknown;
      isSystem?: boolean;
      keyOptions?: unknown;
    },
  ): CollectionState {
    // methods::Collections::create needs read-write access to the database.
    this.refuseInReadOnlyMode(() =>
      forbidden(ErrorNum.FORBIDDEN, `cannot create collection in ${database.name}`),
    );
    const name = validateCollectionName(spec.name);
    if (name.startsWith("_") && spec.isSystem !== true) {
      throw badRequest(ErrorNum.ARANGO_ILLEGAL_NAME, "illegal name");
    }
    if (database.collections.has(name))
      throw conflict(ErrorNum.ARANGO_DUPLICATE_NAME, "duplicate name");
    const type = spec.type === undefined ? DOCUMENT_COLLECTION : spec.type;
    if (type !== DOCUMENT_COLLECTION && type !== EDGE_COLLECTION) {
      throw badRequest(ErrorNum.ARANGO_COLLECTION_TYPE_INVALID);
    }
    const id = this.nextServerTick();
    const keyOptions = parseKeyOptions(spec.keyOptions);
    const guid = name.startsWith("_") ? name : this.guidOf(id);
    const collection = new CollectionState(database, id, name, type, guid, keyOptions);
    collection.waitForSync = spec.waitForSync === true;
    database.collections.set(name, collection);
    database.collectionsById.set(id, collection);
    this.wal.append([
      {
        kind: "collection-create",
        database,
        collection,
        definition: definitionOf(collection),
        writes: WriteCost.collectionDefinition,
      },
    ]);
    return collection;
  }

  dropCollection(collection: CollectionState, options: { isSystem?: boolean } = {}): void {
    // Dropping needs read-write access to the database and the collection.
    this.refuseInReadOnlyMode(() => forbidden(ErrorNum.FORBIDDEN));
    if (collection.isSystem && options.isSystem !== true) {
      throw new ArangoError(403, ErrorNum.FORBIDDEN, "forbidden");
    }
    this.assertNotLocked(collection);
    const { database } = collection;
    database.collections.delete(collection.name);
    database.collectionsById.delete(collection.id);
    collection.dropped = true;
    this.wal.append([
      { kind: "collection-drop", database, collection, writes: WriteCost.collectionDrop },
    ]);
  }

  renameCollection(collection: CollectionState, newName: unknown): void {
    this.refuseInReadOnlyMode(() => forbidden(ErrorNum.FORBIDDEN));
    // vocbase renameCollection: system collections cannot be renamed at all, and a regular
    // collection cannot take a system name.
    if (collection.isSystem) throw forbidden(ErrorNum.FORBIDDEN);
    const name = validateCollectionName(newName);
    if (name.startsWith("_")) throw badRequest(ErrorNum.ARANGO_ILLEGAL_NAME, "illegal name");
    const { database } = collection;
    if (database.collections.has(name))
      throw conflict(ErrorNum.ARANGO_DUPLICATE_NAME, "duplicate name");
    database.collections.delete(collection.name);
    collection.name = name;
    database.collections.set(name, collection);
    this.wal.append([
      { kind: "collection-rename", database, collection, writes: WriteCost.collectionDefinition },
    ]);
  }

  changeCollection(collection: CollectionState, properties: Record<string, unknown>): void {
    this.refuseInReadOnlyMode(() => forbidden(ErrorNum.FORBIDDEN));
    if (typeof properties["waitForSync"] === "boolean")
      collection.waitForSync = properties["waitForSync"];
    if (properties["schema"] !== undefined) {
      collection.schema = isPlainObject(properties["schema"]) ? properties["schema"] : null;
    }
    this.wal.append([
      {
        kind: "collection-change",
        database: collection.database,
        collection,
        definition: definitionOf(collection),
        writes: WriteCost.collectionDefinition,
      },
    ]);
  }

  truncateCollection(collection: CollectionState): void {
    // A truncate runs as an exclusive transaction on the collection (RestCollectionHandler).
    this.refuseInReadOnlyMode(() =>
      forbidden(ErrorNum.ARANGO_READ_ONLY, readOnlyRefusal(collection, "exclusive")),
    );
    this.assertNotLocked(collection);
    const { database } = collection;
    const count = collection.documents.size;
    if (count === 0) return;
    if (count >= RANGE_DELETE_THRESHOLD) {
      collection.documents.clear();
      // One range delete for the documents and one per index (primary only here).
      this.wal.append([{ kind: "collection-truncate", database, collection, writes: 2 }]);
      return;
    }
    // Small collections: removals in transaction groups with intermediate commits, same tid.
    const tid = this.nextServerTick();
    const documents = [...collection.documents.values()];
    for (let offset = 0; offset < documents.length; offset += TRUNCATE_COMMIT_SIZE) {
      const writes = new WriteSet(database, tid);
      for (const document of documents.slice(offset, offset + TRUNCATE_COMMIT_SIZE)) {
        writes.remove(collection, document._key, document._rev);
      }
      this.commitWrites(writes);
    }
  }

  // ---------------------------------------------------------------- documents

  /**
   * A document as a reader sees it (inside a stream transaction: with its own writes). Keys are
   * not validated on reads: a malformed key is simply not found (GetDocumentProcessor).
   */
  readDocument(collection: CollectionState, key: string, trx?: StreamTransaction): StoredDocument {
    if (trx !== undefined) this.assertTransactionReads(trx, collection);
    const document =
      trx === undefined ? collection.documents.get(key) : trx.writes.read(collection, key);
    if (document === undefined) throw notFound(ErrorNum.ARANGO_DOCUMENT_NOT_FOUND);
    return collection.present(document);
  }

  /** How many documents a reader sees (inside a stream transaction: with its own writes). */
  countDocuments(collection: CollectionState, trx?: StreamTransaction): number {
    if (trx === undefined) return collection.documents.size;
    this.assertTransactionReads(trx, collection);
    let count = collection.documents.size;
    for (const [key, document] of trx.writes.touched(collection) ?? []) {
      const stored = collection.documents.has(key);
      if (document === null && stored) count -= 1;
      else if (document !== null && !stored) count += 1;
    }
    return count;
  }

  /** A truncate inside a stream transaction: removals of every document the transaction sees. */
  truncateInTransaction(trx: StreamTransaction, collection: CollectionState): void {
    this.assertTransactionWrites(trx, collection);
    const keys = new Set([
      ...collection.documents.keys(),
      ...(trx.writes.touched(collection)?.keys() ?? []),
    ]);
    const visible = [...keys].flatMap((key) => {
      const document = trx.writes.read(collection, key);
      return document === undefined ? [] : [document];
    });
    for (const document of visible) this.lock(trx.writes, collection, document._key);
    for (const document of visible) trx.writes.remove(collection, document._key, document._rev);
  }

  /**
   * Runs document operations in one write set: a single operation (tid "0"), a multi-document
   * request (its own transaction group) or a stream transaction's step. Commits unless `trx` is set.
   */
  write<T>(
    collection: CollectionState,
    trx: StreamTransaction | undefined,
    multiDocument: boolean,
    body: (writes: WriteSet) => T,
  ): T {
    if (trx !== undefined) {
      // The collection was registered for writing at begin; read-only mode stops the commit.
      this.assertTransactionWrites(trx, collection);
      return body(trx.writes);
    }
    this.refuseInReadOnlyMode(() =>
      forbidden(ErrorNum.ARANGO_READ_ONLY, readOnlyRefusal(collection, "write")),
    );
    const writes = new WriteSet(collection.database, multiDocument ? this.nextServerTick() : "0");
    const result = body(writes);
    this.commitWrites(writes);
    return result;
  }

  insert(
    writes: WriteSet,
    collection: CollectionState,
    body: unknown,
    options: WriteOptions,
  ): WriteResult {
    if (!isPlainObject(body))
      throw badRequest(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID, "invalid document type");
    let key: string;
    if (body["_key"] === undefined) {
      key = this.nextServerTick();
    } else {
      // KeyGenerator::validate: a user key where the generator does not allow one.
      if (!collection.keyOptions.allowUserKeys)
        throw badRequest(ErrorNum.ARANGO_DOCUMENT_KEY_UNEXPECTED);
      key = validateKey(body["_key"]);
    }
    const existing = writes.read(collection, key);
    if (existing !== undefined) {
      const mode = options.overwriteMode ?? "conflict";
      if (mode === "conflict") {
        throw conflict(
          ErrorNum.ARANGO_UNIQUE_CONSTRAINT_VIOLATED,
          `unique constraint violated - in index primary of type primary over '_key'; conflicting key: ${key}`,
        );
      }
      if (mode === "ignore") {
        return { _id: collection.idOf(key), _key: key, _rev: existing._rev };
      }
      return mode === "update"
        ? this.update(writes, collection, key, body, { ...options, ignoreRevs: true })
        : this.replace(writes, collection, key, body, { ...options, ignoreRevs: true });
    }
    const edge = this.edgeAttributes(collection, body);
    const rev = this.clock.nextRevision();
    // A new document keeps every attribute as sent, nulls included: keepNull only governs the
    // update branch of an overwriting insert (transaction::helpers::newObjectForInsert).
    const document = buildDocument(
      { key, id: collection.idOf(key), rev, ...edge },
      body,
    ) as StoredDocument;
    this.lock(writes, collection, key);
    writes.put(collection, document);
    return withReturns({ _id: document._id, _key: key, _rev: rev }, options, document, undefined);
  }

  replace(
    writes: WriteSet,
    collection: CollectionState,
    key: string,
    body: unknown,
    options: WriteOptions,
  ): WriteResult {
    if (!isPlainObject(body))
      throw badRequest(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID, "invalid document type");
    const old = this.existingForWrite(writes, collection, key, body, options);
    const edge = this.edgeAttributes(collection, body);
    const rev = this.clock.nextRevision();
    const document = buildDocument(
      { key, id: collection.idOf(key), rev, ...edge },
      body,
    ) as StoredDocument;
    this.lock(writes, collection, key);
    writes.put(collection, document);
    return withReturns(
      { _id: document._id, _key: key, _rev: rev, _oldRev: old._rev },
      options,
      document,
      old,
    );
  }

  update(
    writes: WriteSet,
    collection: CollectionState,
    key: string,
    body: unknown,
    options: WriteOptions,
  ): WriteResult {
    if (!isPlainObject(body))
      throw badRequest(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID, "invalid document type");
    const old = this.existingForWrite(writes, collection, key, body, options);
    if (Object.keys(body).every((name) => name === "_key")) {
      // A patch naming nothing but the key changes nothing: ArangoDB (3.10 and later) skips the
      // write, keeps the revision and writes no WAL marker (ModifyingProcessorBase, isNoOp). The
      // REST handler adds `_key` from the URL before that check, so `{}` and `{_key}` are no-ops
      // while a one-attribute patch such as `{name: "x"}` is a real write.
      this.lock(writes, collection, key);
      return withReturns(
        { _id: collection.idOf(key), _key: key, _rev: old._rev, _oldRev: old._rev },
        options,
        old,
        old,
      );
    }
    const rev = this.clock.nextRevision();
    const system = {
      key,
      id: collection.idOf(key),
      rev,
      ...(collection.type === EDGE_COLLECTION
        ? {
            from:
              body["_from"] === undefined
                ? (old["_from"] as string)
                : validateHandle(body["_from"]),
            to: body["_to"] === undefined ? (old["_to"] as string) : validateHandle(body["_to"]),
          }
        : {}),
    };
    const document = mergeDocument(system, old, body, {
      keepNull: options.keepNull ?? true,
      mergeObjects: options.mergeObjects ?? true,
    }) as StoredDocument;
    this.lock(writes, collection, key);
    writes.put(collection, document);
    return withReturns(
      { _id: document._id, _key: key, _rev: rev, _oldRev: old._rev },
      options,
      document,
      old,
    );
  }

  remove(
    writes: WriteSet,
    collection: CollectionState,
    key: string,
    options: WriteOptions,
    body?: unknown,
  ): WriteResult {
    const old = this.existingForWrite(
      writes,
      collection,
      key,
      isPlainObject(body) ? body : {},
      options,
    );
    this.lock(writes, collection, key);
    writes.remove(collection, key, old._rev);
    return withReturns(
      { _id: collection.idOf(key), _key: key, _rev: old._rev },
      options,
      undefined,
      old,
    );
  }

  // ------------------------------------------------------ stream transactions

  /**
   * POST /_api/transaction/begin (transaction::Manager::createManagedTrx). Collections are
   * registered exclusive first, then write, then read; each is looked up and permission-checked
   * in turn, so the first unknown or refused one decides the error.
   */
  beginTransaction(
    database: DatabaseState,
    collections: { read?: unknown; write?: unknown; exclusive?: unknown },
    options: { allowImplicit?: boolean; readOnlyAccess?: boolean } = {},
  ): StreamTransaction {
    const register = (names: unknown, mode: "read" | "write" | "exclusive"): CollectionState[] => {
      const list = typeof names === "string" ? [names] : names === undefined ? [] : names;
      if (!Array.isArray(list)) throw badRequest(ErrorNum.BAD_PARAMETER);
      return list.map((name: unknown) => {
        if (typeof name !== "string" || name === "") throw badRequest(ErrorNum.BAD_PARAMETER);
        const collection = database.findCollection(name);
        if (collection === undefined) {
          throw notFound(
            ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND,
            `collection or view not found: ${name}`,
          );
        }
        if (mode !== "read") {
          const refusal = (): ArangoError =>
            forbidden(ErrorNum.ARANGO_READ_ONLY, readOnlyRefusal(collection, mode));
          if (options.readOnlyAccess === true) throw refusal();
          this.refuseInReadOnlyMode(refusal);
        }
        return collection;
      });
    };
    const exclusive = register(collections.exclusive, "exclusive");
    const write = [...exclusive, ...register(collections.write, "write")];
    const read = register(collections.read, "read");
    const id = this.nextServerTick();
    const trx: StreamTransaction = {
      id,
      database,
      writeCollections: new Set(write),
      readCollections: new Set([...write, ...read]),
      // The transaction id is the tid of every marker the transaction writes.
      writes: new WriteSet(database, id),
      allowImplicit: options.allowImplicit ?? true,
      status: "running",
      expired: false,
      expiresAt: this.now() + STREAM_TRANSACTION_IDLE_SECONDS * 1000,
    };
    this.transactions.set(id, trx);
    return trx;
  }

  /** A transaction by id, whatever its state and database (Manager::getManagedTrxStatus). */
  findTransaction(id: string): StreamTransaction | undefined {
    this.expireTransactions();
    return this.transactions.get(id);
  }

  /**
   * The running transaction a request names in `x-arango-trx-id`, with the errors of
   * transaction::Manager::leaseManagedTrx for the others. Using it restarts its idle timeout.
   */
  leaseTransaction(id: string): StreamTransaction {
    const trx = this.findTransaction(id);
    if (trx === undefined) {
      throw notFound(ErrorNum.TRANSACTION_NOT_FOUND, `transaction ${id} not found`);
    }
    if (trx.expired) {
      throw notFound(ErrorNum.TRANSACTION_NOT_FOUND, `transaction ${id} has already expired`);
    }
    if (trx.status === "aborted") {
      throw new ArangoError(
        410,
        ErrorNum.TRANSACTION_ABORTED,
        `transaction ${id} has already been aborted`,
      );
    }
    if (trx.status === "committed") {
      throw badRequest(
        ErrorNum.TRANSACTION_DISALLOWED_OPERATION,
        `transaction ${id} has already been committed`,
      );
    }
    trx.expiresAt = this.now() + STREAM_TRANSACTION_IDLE_SECONDS * 1000;
    return trx;
  }

  /** Running stream transactions, of one database if given (Manager::toVelocyPack). */
  runningTransactions(database?: DatabaseState): StreamTransaction[] {
    this.expireTransactions();
    return [...this.transactions.values()].filter(
      (t) => t.status === "running" && (database === undefined || t.database === database),
    );
  }

  /**
   * PUT /_api/transaction/<id>: applies the transaction's writes as one WAL batch. Committing
   * twice is fine; committing an aborted transaction is not (Manager::updateTransaction).
   */
  commitTransaction(database: DatabaseState, id: string): StreamTransaction {
    const trx = this.settleTransaction(database, id, "commit");
    if (trx.status === "committed") return trx;
    if (this.readOnly && trx.writeCollections.size > 0) {
      // transaction::Methods::commit refuses a write transaction in read-only mode, and the
      // manager then aborts it.
      this.finishTransaction(trx, "aborted");
      throw forbidden(ErrorNum.ARANGO_READ_ONLY, "server is in read-only mode");
    }
    this.commitWrites(trx.writes);
    this.finishTransaction(trx, "committed");
    return trx;
  }

  /** DELETE /_api/transaction/<id>: drops the transaction's writes; nothing reaches the WAL. */
  abortTransaction(database: DatabaseState, id: string): StreamTransaction {
    const trx = this.settleTransaction(database, id, "abort");
    if (trx.status === "running") this.finishTransaction(trx, "aborted");
    return trx;
  }

  /** The checks of Manager::updateTransaction before a commit or an abort. */
  private settleTransaction(
    database: DatabaseState,
    id: string,
    operation: "commit" | "abort",
  ): StreamTransaction {
    const trx = this.findTransaction(id);
    if (trx === undefined) {
      // An unknown id is remembered as aborted: a second abort of it succeeds.
      const tombstone: StreamTransaction = {
        id,
        database,
        writeCollections: new Set(),
        readCollections: new Set(),
        writes: new WriteSet(database, id),
        allowImplicit: true,
        status: "aborted",
        expired: false,
        expiresAt: this.now(),
      };
      this.transactions.set(id, tombstone);
      throw notFound(
        ErrorNum.TRANSACTION_NOT_FOUND,
        `transaction ${id} not found on ${operation} operation`,
      );
    }
    if (trx.database !== database) {
      throw notFound(
        ErrorNum.TRANSACTION_NOT_FOUND,
        `transaction ${id} inaccessible on ${operation} operation`,
      );
    }
    const wanted = operation === "commit" ? "committed" : "aborted";
    if (trx.status !== "running" && trx.status !== wanted) {
      throw badRequest(
        ErrorNum.TRANSACTION_DISALLOWED_OPERATION,
        `while trying to ${operation} transaction ${id}: transaction was already ${
          trx.expired ? "expired" : trx.status
        }`,
      );
    }
    return trx;
  }

  private finishTransaction(trx: StreamTransaction, status: "committed" | "aborted"): void {
    this.unlock(trx.id);
    trx.status = status;
    trx.expiresAt = this.now();
  }

  // ------------------------------------------------------------------ helpers

  /** Stores a write set and appends its WAL batch: begin, operations, commit for transactions. */
  commitWrites(writes: WriteSet): void {
    if (writes.isEmpty) return;
    writes.applyToStore();
    if (writes.tid === "0") {
      this.wal.append(writes.records);
      return;
    }
    const { database, tid } = writes;
    this.wal.append([
      { kind: "begin", database, tid, writes: 0 },
      ...writes.records,
      { kind: "commit", database, tid, writes: 0 },
    ]);
  }

  /**
   * Read-only server mode (PUT /_admin/server/mode) caps every user below the superuser at
   * read-only access (UserManager::databaseAuthLevel), so a write fails with the error of the
   * permission check that refuses it; `refusal` builds that error.
   */
  refuseInReadOnlyMode(refusal: () => ArangoError): void {
    if (this.readOnly) throw refusal();
  }

  /** Reads of a collection not declared at begin need `allowImplicit` (TransactionState). */
  assertTransactionReads(trx: StreamTransaction, collection: CollectionState): void {
    if (!trx.allowImplicit && !trx.readCollections.has(collection)) {
      throw badRequest(
        ErrorNum.TRANSACTION_UNREGISTERED_COLLECTION,
        `unregistered collection used in transaction: ${collection.name} [read]`,
      );
    }
  }

  private existingForWrite(
    writes: WriteSet,
    collection: CollectionState,
    key: string,
    body: Record<string, unknown>,
    options: WriteOptions,
  ): StoredDocument {
    // Like reads, writes do not validate the key: an unknown or malformed key is not found.
    const old = writes.read(collection, key);
    if (old === undefined) throw notFound(ErrorNum.ARANGO_DOCUMENT_NOT_FOUND);
    const expected = options.ifMatch ?? (options.ignoreRevs === false ? body["_rev"] : undefined);
    if (typeof expected === "string" && expected !== old._rev) {
      // A failed precondition reports the current revision (generateConflictError).
      throw new ArangoError(
        412,
        ErrorNum.ARANGO_CONFLICT,
        "conflict, _rev values do not match",
      ).with({ _id: collection.idOf(key), _key: key, _rev: old._rev });
    }
    return collection.present(old);
  }

  private edgeAttributes(
    collection: CollectionState,
    body: Record<string, unknown>,
  ): { from?: string; to?: string } {
    if (collection.type !== EDGE_COLLECTION) return {};
    return { from: validateHandle(body["_from"]), to: validateHandle(body["_to"]) };
  }

  /** Writes need a running transaction that declared the collection for writing. */
  private assertTransactionWrites(trx: StreamTransaction, collection: CollectionState): void {
    this.leaseTransaction(trx.id);
    if (!trx.writeCollections.has(collection)) {
      // TransactionState::addCollection: no write access to collections added after begin.
      throw badRequest(
        ErrorNum.TRANSACTION_UNREGISTERED_COLLECTION,
        `unregistered collection used in transaction: ${collection.name} [write]`,
      );
    }
  }

  private lock(writes: WriteSet, collection: CollectionState, key: string): void {
    const owner = this.locks.get(collection)?.get(key);
    const self = writes.tid !== "0" && this.transactions.has(writes.tid) ? writes.tid : undefined;
    if (owner !== undefined && owner !== self) {
      throw conflict(ErrorNum.ARANGO_CONFLICT, "write-write conflict");
    }
    if (self === undefined) return;
    let keys = this.locks.get(collection);
    if (keys === undefined) {
      keys = new Map();
      this.locks.set(collection, keys);
    }
    keys.set(key, self);
  }

  private assertNotLocked(collection: CollectionState): void {
    if ((this.locks.get(collection)?.size ?? 0) > 0) {
      throw conflict(ErrorNum.ARANGO_CONFLICT, "collection is locked by a running transaction");
    }
  }

  private unlock(tid: string): void {
    for (const [collection, keys] of this.locks) {
      for (const [key, owner] of keys) if (owner === tid) keys.delete(key);
      if (keys.size === 0) this.locks.delete(collection);
    }
  }

  private expireTransactions(): void {
    const now = this.now();
    for (const [id, trx] of this.transactions) {
      if (trx.status === "running" && trx.expiresAt < now) {
        this.unlock(id);
        trx.status = "aborted";
        trx.expired = true;
      }
      if (trx.status !== "running" && trx.expiresAt < now - 60_000) this.transactions.delete(id);
    }
  }
}

function parseKeyOptions(value: unknown): KeyOptions {
  const options = isPlainObject(value) ? value : {};
  const type = options["type"];
  return {
    type: type === "autoincrement" || type === "uuid" || type === "padded" ? type : "traditional",
    allowUserKeys: options["allowUserKeys"] !== false,
  };
}

/** The collection definition written to the WAL (2000/2003 `data`), objectIds stripped (§7.3). */
function definitionOf(collection: CollectionState): Record<string, unknown> {
  const { objectId: _objectId, statusString: _status, ...definition } = collection.properties();
  return { ...definition, deleted: collection.dropped };
}

/** `old` before `new`, as buildDocumentIdentity adds them to an operation's result. */
function withReturns(
  result: WriteResult,
  options: WriteOptions,
  document: StoredDocument | undefined,
  old: StoredDocument | undefined,
): WriteResult {
  if (options.returnOld === true && old !== undefined) result.old = old;
  if (options.returnNew === true && document !== undefined) result.new = document;
  return result;
}

/** TransactionState::checkCollectionPermission's refusal when access is capped at read-only. */
function readOnlyRefusal(collection: CollectionState, mode: "write" | "exclusive"): string {
  return `read only: ${collection.name} [${mode}]`;
}
