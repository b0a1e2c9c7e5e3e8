/**
 * Databases, collections and their documents, as a RocksDB single server holds them.
 *
 * Stored documents are immutable objects: every write stores a new object, so a WAL record, a dump
 * snapshot and a reader can all hold a reference without copying. Attribute order is ArangoDB's:
 * `_key`, `_id`, `_from`, `_to` (edges), `_rev`, then the user's attributes (§10).
 */
import { ArangoError, ErrorNum, badRequest } from "./arango-error.js";

export type StoredDocument = Readonly<Record<string, unknown>> & {
  readonly _key: string;
  readonly _id: string;
  readonly _rev: string;
};

export const DOCUMENT_COLLECTION = 2;
export const EDGE_COLLECTION = 3;
export type CollectionType = typeof DOCUMENT_COLLECTION | typeof EDGE_COLLECTION;

export interface KeyOptions {
  type: "traditional" | "autoincrement" | "uuid" | "padded";
  allowUserKeys: boolean;
}

export class CollectionState {
  readonly documents = new Map<string, StoredDocument>();
  dropped = false;
  waitForSync = false;
  schema: object | null = null;

  constructor(
    readonly database: DatabaseState,
    readonly id: string,
    public name: string,
    readonly type: CollectionType,
    readonly globallyUniqueId: string,
    readonly keyOptions: KeyOptions,
  ) {}

  get isSystem(): boolean {
    return this.name.startsWith("_");
  }

  /** `_id` as a reader sees it: always built from the collection's current name (§7.4 point 5). */
  idOf(key: string): string {
    return `${this.name}/${key}`;
  }

  /** The document with its `_id` resolved against the current name (renames keep stored objects). */
  present(document: StoredDocument): StoredDocument {
    const id = this.idOf(document._key);
    return document._id === id ? document : { ...document, _id: id };
  }

  /** The properties object of `GET /_api/collection/<name>/properties` and of the inventory. */
  properties(): Record<string, unknown> {
    return {
      writeConcern: 1,
      waitForSync: this.waitForSync,
      usesRevisionsAsDocumentIds: true,
      syncByRevision: true,
      statusString: "loaded",
      id: this.id,
      isSmartChild: false,
      schema: this.schema,
      name: this.name,
      type: this.type,
      status: 3,
      cacheEnabled: false,
      isSystem: this.isSystem,
      internalValidatorType: 0,
      globallyUniqueId: this.globallyUniqueId,
      keyOptions: {
        allowUserKeys: this.keyOptions.allowUserKeys,
        type: this.keyOptions.type,
        lastValue: 0,
      },
      computedValues: null,
      objectId: String(BigInt(this.id) + 1n),
    };
  }
}

export class DatabaseState {
  readonly collections = new Map<string, CollectionState>();
  readonly collectionsById = new Map<string, CollectionState>();
  dropped = false;

  constructor(
    readonly id: string,
    readonly name: string,
  ) {}

  get isSystem(): boolean {
    return this.name === "_system";
  }

  /** Looks a collection up by name or by numeric id, as ArangoDB's REST handlers accept both. */
  findCollection(nameOrId: string): CollectionState | undefined {
    return this.collections.get(nameOrId) ?? this.collectionsById.get(nameOrId);
  }

  collection(nameOrId: string): CollectionState {
    const collection = this.findCollection(nameOrId);
    if (collection === undefined) {
      throw new ArangoError(
        404,
        ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND,
        "collection or view not found",
      );
    }
    return collection;
  }
}

// Key characters allowed by ArangoDB's traditional key generator validation (max 254 bytes).
const KEY_PATTERN = /^[a-zA-Z0-9_\-:.@()+,=;$!*'%]{1,254}$/;

export function validateKey(key: unknown): string {
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw badRequest(ErrorNum.ARANGO_DOCUMENT_KEY_BAD, "illegal document key");
  }
  return key;
}

// Collection names: letters first (or "_" for system collections), then letters, digits, "_" and "-".
const COLLECTION_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]{0,255}$/;

export function validateCollectionName(name: unknown): string {
  if (typeof name !== "string" || !COLLECTION_NAME.test(name)) {
    throw badRequest(ErrorNum.ARANGO_ILLEGAL_NAME, "illegal name");
  }
  return name;
}

// Database names (traditional naming): a letter first, then letters, digits, "_" and "-"; max 64.
const DATABASE_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

export function validateDatabaseName(name: unknown): string {
  if (typeof name !== "string" || (name !== "_system" && !DATABASE_NAME.test(name))) {
    throw badRequest(ErrorNum.ARANGO_DATABASE_NAME_INVALID, "database name invalid");
  }
  return name;
}

/** `_from`/`_to` must be document handles: `<collection>/<key>`. */
export function validateHandle(value: unknown): string {
  if (typeof value !== "string") throw badRequest(ErrorNum.ARANGO_INVALID_EDGE_ATTRIBUTE);
  const slash = value.indexOf("/");
  if (slash <= 0 || !KEY_PATTERN.test(value.slice(slash + 1))) {
    throw badRequest(ErrorNum.ARANGO_INVALID_EDGE_ATTRIBUTE);
  }
  return value;
}
