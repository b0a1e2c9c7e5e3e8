/**
 * Optional persistence of the emulated server to one JSON file, so a restarted emulator serves
 * the same databases, documents and retained WAL (same ticks, same markers) as before, as a real
 * server does after a restart. Saved: databases and collections (ids, globallyUniqueIds, names,
 * dropped flags of those the WAL still names), documents, the retained write batches, the last
 * sequence number, the server tick, the clock, users and the read-only flag. Not saved, as a real
 * restart loses them: dump batches, replication clients, stream transactions, tokens.
 *
 * The file is replaced atomically (written to a temporary file, then renamed over the old one).
 * Stored documents are shared between the collections and the WAL records; the file holds each
 * document once and refers to it by index.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import {
  CollectionState,
  type CollectionType,
  DatabaseState,
  type KeyOptions,
  type StoredDocument,
} from "./catalog.js";
import type { EmulatedServer, RestoredState, User } from "./emulated-server.js";
import { type WalRecord, type WriteBatch, WriteAheadLog } from "./write-ahead-log.js";

const FORMAT = "arango-emulator-state/1";

interface SavedDatabase {
  id: string;
  name: string;
  dropped: boolean;
}

interface SavedCollection {
  database: number;
  id: string;
  name: string;
  type: CollectionType;
  guid: string;
  keyOptions: KeyOptions;
  dropped: boolean;
  waitForSync: boolean;
  schema: object | null;
  /** Indexes into `documents`, in the collection's order. */
  documents: number[];
}

interface SavedRecord {
  kind: WalRecord["kind"];
  tick: string;
  database: number;
  collection?: number;
  tid?: string;
  document?: number;
  key?: string;
  rev?: string;
  definition?: object;
}

interface SavedUser {
  name: string;
  password: string;
  active: boolean;
  admin: boolean;
  databases: [string, string][];
}

export interface SavedState {
  format: string;
  serverId: string;
  serverTick: string;
  revision: string;
  lastSequence: string;
  readOnly: boolean;
  users: SavedUser[];
  databases: SavedDatabase[];
  collections: SavedCollection[];
  documents: readonly Record<string, unknown>[];
  batches: { start: string; end: string; records: SavedRecord[] }[];
}

/** The server's state as plain JSON data. */
export function captureState(state: EmulatedServer): SavedState {
  const databases: DatabaseState[] = [];
  const databaseIndex = new Map<DatabaseState, number>();
  const collections: CollectionState[] = [];
  const collectionIndex = new Map<CollectionState, number>();
  const documents: StoredDocument[] = [];
  const documentIndex = new Map<StoredDocument, number>();

  const databaseRef = (database: DatabaseState): number => {
    let index = databaseIndex.get(database);
    if (index === undefined) {
      index = databases.push(database) - 1;
      databaseIndex.set(database, index);
    }
    return index;
  };
  const collectionRef = (collection: CollectionState): number => {
    let index = collectionIndex.get(collection);
    if (index === undefined) {
      databaseRef(collection.database);
      index = collections.push(collection) - 1;
      collectionIndex.set(collection, index);
    }
    return index;
  };
  const documentRef = (document: StoredDocument): number => {
    let index = documentIndex.get(document);
    if (index === undefined) {
      index = documents.push(document) - 1;
      documentIndex.set(document, index);
    }
    return index;
  };

  for (const database of state.listDatabases()) {
    databaseRef(database);
    for (const collection of database.collections.values()) collectionRef(collection);
  }
  const batches = state.wal.retainedBatches.map((batch) => ({
    start: batch.start.toString(),
    end: batch.end.toString(),
    records: batch.records.map((record): SavedRecord => {
      const saved: SavedRecord = {
        kind: record.kind,
        tick: record.tick.toString(),
        database: databaseRef(record.database),
      };
      if ("collection" in record) saved.collection = collectionRef(record.collection);
      if ("tid" in record) saved.tid = record.tid;
      if (record.kind === "document") saved.document = documentRef(record.document);
      if (record.kind === "remove") {
        saved.key = record.key;
        saved.rev = record.rev;
      }
      if ("definition" in record) saved.definition = record.definition;
      return saved;
    }),
  }));
  const savedCollections = collections.map((collection): SavedCollection => ({
    database: databaseRef(collection.database),
    id: collection.id,
    name: collection.name,
    type: collection.type,
    guid: collection.globallyUniqueId,
    keyOptions: { ...collection.keyOptions },
    dropped: collection.dropped,
    waitForSync: collection.waitForSync,
    schema: collection.schema,
    documents: [...collection.documents.values()].map(documentRef),
  }));
  return {
    format: FORMAT,
    serverId: state.serverId.toString(),
    serverTick: state.currentServerTick.toString(),
    // A fresh clock value is above every revision handed out so far.
    revision: state.clock.next().toString(),
    lastSequence: state.wal.lastSequence.toString(),
    readOnly: state.readOnly,
    users: [...state.users].map(([name, user]) => ({
      name,
      password: user.password,
      active: user.active,
      admin: user.admin,
      databases: [...user.databases].map(([database, level]): [string, string] => [
        database,
        level,
      ]),
    })),
    databases: databases.map((database) => ({
      id: database.id,
      name: database.name,
      dropped: database.dropped,
    })),
    collections: savedCollections,
    documents,
    batches,
  };
}

/** What `new EmulatedServer()` needs to continue from a saved state. */
export interface Restored {
  serverId: bigint;
  restoredState: RestoredState;
  users: Map<string, User>;
  readOnly: boolean;
}

export function restoreState(saved: SavedState): Restored {
  if (saved.format !== FORMAT) throw new Error(`unknown emulator state format ${saved.format}`);
  const databases = saved.databases.map((entry) => {
    const database = new DatabaseState(entry.id, entry.name);
    database.dropped = entry.dropped;
    return database;
  });
  const at = <T>(list: readonly T[], index: number | undefined, what: string): T => {
    const item = index === undefined ? undefined : list[index];
    if (item === undefined) throw new Error(`saved emulator state: missing ${what} ${index}`);
    return item;
  };
  const documents = saved.documents as StoredDocument[];
  const collections = saved.collections.map((entry) => {
    const database = at(databases, entry.database, "database");
    const collection = new CollectionState(
      database,
      entry.id,
      entry.name,
      entry.type,
      entry.guid,
      entry.keyOptions,
    );
    collection.dropped = entry.dropped;
    collection.waitForSync = entry.waitForSync;
    collection.schema = entry.schema;
    for (const index of entry.documents) {
      const document = at(documents, index, "document");
      collection.documents.set(document._key, document);
    }
    if (!collection.dropped && !database.dropped) {
      database.collections.set(collection.name, collection);
      database.collectionsById.set(collection.id, collection);
    }
    return collection;
  });
  const batches: WriteBatch[] = saved.batches.map((batch) => ({
    start: BigInt(batch.start),
    end: BigInt(batch.end),
    records: batch.records.map((record) =>
      restoreRecord(record, databases, collections, documents),
    ),
  }));
  const users = new Map<string, User>();
  for (const user of saved.users) {
    users.set(user.name, {
      password: user.password,
      active: user.active,
      admin: user.admin,
      databases: new Map(user.databases) as User["databases"],
    });
  }
  return {
    serverId: BigInt(saved.serverId),
    restoredState: {
      databases: databases.filter((database) => !database.dropped),
      wal: WriteAheadLog.restore(batches, BigInt(saved.lastSequence)),
      serverTick: BigInt(saved.serverTick),
      revision: BigInt(saved.revision),
    },
    users,
    readOnly: saved.readOnly,
  };
}

function restoreRecord(
  saved: SavedRecord,
  databases: readonly DatabaseState[],
  collections: readonly CollectionState[],
  documents: readonly StoredDocument[],
): WalRecord {
  const tick = BigInt(saved.tick);
  const database = databases[saved.database];
  if (database === undefined) throw new Error(`saved emulator state: missing database`);
  const collection = (): CollectionState => {
    const found = saved.collection === undefined ? undefined : collections[saved.collection];
    if (found === undefined) throw new Error(`saved emulator state: missing collection`);
    return found;
  };
  const tid = saved.tid ?? "0";
  const definition = saved.definition ?? {};
  switch (saved.kind) {
    case "begin":
    case "commit":
      return { kind: saved.kind, tick, database, tid };
    case "document": {
      const document = saved.document === undefined ? undefined : documents[saved.document];
      if (document === undefined) throw new Error(`saved emulator state: missing document`);
      return { kind: "document", tick, database, collection: collection(), tid, document };
    }
    case "remove":
      return {
        kind: "remove",
        tick,
        database,
        collection: collection(),
        tid,
        key: saved.key ?? "",
        rev: saved.rev ?? "",
      };
    case "collection-create":
    case "collection-change":
      return { kind: saved.kind, tick, database, collection: collection(), definition };
    case "collection-drop":
    case "collection-rename":
    case "collection-truncate":
      return { kind: saved.kind, tick, database, collection: collection() };
    case "database-create":
      return { kind: "database-create", tick, database, definition };
    case "database-drop":
      return { kind: "database-drop", tick, database };
  }
}

/** Writes the state to `path` atomically. */
export async function saveState(path: string, state: EmulatedServer): Promise<void> {
  const text = JSON.stringify(captureState(state));
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** The saved state at `path`, or undefined when there is no file yet. */
export async function loadState(path: string): Promise<SavedState | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as SavedState;
}
