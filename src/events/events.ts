/**
 * The domain types of the change stream, in two layers:
 *
 * - `Marker`: one decoded line of a `/_api/wal/tail` body, exactly as ArangoDB reports it
 *   (arangodb-protocol.md §7.2–7.3). Collections are still named by `cuid`, and transaction
 *   begin/commit markers are still separate items.
 * - `ChangeEvent`: what the rest of the pipeline consumes once a marker is resolved against the
 *   collection catalog (`resolve-event.ts`): documents and collections by name.
 *
 * Ticks are `bigint` (tick.ts). Transaction ids stay decimal strings: they are compared for
 * equality only, come from a different counter than ticks (protocol §8), and are never ordered.
 */
import type { Tick } from "./tick.js";

export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export type JsonObject = { readonly [key: string]: JsonValue };

/**
 * A stored ArangoDB document: the complete new version for inserts, updates and replaces alike
 * (protocol §10). The decoder guarantees string `_key` and `_rev`. Numbers went through
 * `JSON.parse`: an integer literal beyond ±2^53 arrives rounded to the nearest double (protocol
 * §10; ATSPro stores no such numbers). Ticks and tids are strings on the wire, so they are exact.
 */
export type ArangoDocument = JsonObject;

/** Operation types of the RocksDB WAL tail (arangodb/arangod/Replication/common-defines.h). */
export const MarkerType = {
  databaseCreated: 1100,
  databaseDropped: 1101,
  collectionCreated: 2000,
  collectionDropped: 2001,
  collectionRenamed: 2002,
  collectionChanged: 2003,
  collectionTruncated: 2004,
  indexCreated: 2100,
  indexDropped: 2101,
  viewCreated: 2110,
  viewDropped: 2111,
  viewChanged: 2112,
  transactionBegun: 2200,
  transactionCommitted: 2201,
  transactionAborted: 2202,
  documentUpserted: 2300,
  documentRemoved: 2302,
} as const;

/** The `tid` of a standalone single-document operation (protocol §9). */
export const SINGLE_OPERATION_TID = "0";

interface MarkerBase {
  readonly tick: Tick;
  /** Database name, resolved by the server at read time (protocol §7.4). */
  readonly db: string;
}

export interface DocumentUpsertMarker extends MarkerBase {
  readonly kind: "document-upsert";
  readonly type: typeof MarkerType.documentUpserted;
  readonly cuid: string;
  readonly tid: string;
  readonly key: string;
  readonly rev: string;
  readonly document: ArangoDocument;
}

export interface DocumentRemoveMarker extends MarkerBase {
  readonly kind: "document-remove";
  readonly type: typeof MarkerType.documentRemoved;
  readonly cuid: string;
  readonly tid: string;
  readonly key: string;
  /** The revision of the removed document, not a new one (protocol §7.3). */
  readonly rev: string;
}

export type DocumentMarker = DocumentUpsertMarker | DocumentRemoveMarker;

export interface TransactionBeginMarker extends MarkerBase {
  readonly kind: "transaction-begin";
  readonly type: typeof MarkerType.transactionBegun;
  readonly tid: string;
}

export interface TransactionCommitMarker extends MarkerBase {
  readonly kind: "transaction-commit";
  readonly type: typeof MarkerType.transactionCommitted;
  readonly tid: string;
}

/** Never produced by the RocksDB engine (protocol §9); decoded so an old server cannot surprise us. */
export interface TransactionAbortMarker extends MarkerBase {
  readonly kind: "transaction-abort";
  readonly type: typeof MarkerType.transactionAborted;
  readonly tid: string;
}

export type TransactionMarker =
  TransactionBeginMarker | TransactionCommitMarker | TransactionAbortMarker;

export type CollectionType = "document" | "edge";

export interface CollectionCreateMarker extends MarkerBase {
  readonly kind: "collection-create";
  readonly type: typeof MarkerType.collectionCreated;
  readonly cuid: string;
  readonly name: string;
  /** Absent in the documented example; present (2 or 3) in what the server writes. */
  readonly collectionType: CollectionType | undefined;
  readonly data: JsonObject;
}

export interface CollectionDropMarker extends MarkerBase {
  readonly kind: "collection-drop";
  readonly type: typeof MarkerType.collectionDropped;
  readonly cuid: string;
}

export interface CollectionRenameMarker extends MarkerBase {
  readonly kind: "collection-rename";
  readonly type: typeof MarkerType.collectionRenamed;
  readonly cuid: string;
  /** The collection's name when the server read the WAL, which may be newer than this rename. */
  readonly name: string;
}

export interface CollectionChangeMarker extends MarkerBase {
  readonly kind: "collection-change";
  readonly type: typeof MarkerType.collectionChanged;
  readonly cuid: string;
  readonly data: JsonObject;
}

export interface CollectionTruncateMarker extends MarkerBase {
  readonly kind: "collection-truncate";
  readonly type: typeof MarkerType.collectionTruncated;
  readonly cuid: string;
}

export interface DatabaseCreateMarker extends MarkerBase {
  readonly kind: "database-create";
  readonly type: typeof MarkerType.databaseCreated;
  readonly data: JsonObject | undefined;
}

export interface DatabaseDropMarker extends MarkerBase {
  readonly kind: "database-drop";
  readonly type: typeof MarkerType.databaseDropped;
}

export type IgnoredDdlType =
  | typeof MarkerType.indexCreated
  | typeof MarkerType.indexDropped
  | typeof MarkerType.viewCreated
  | typeof MarkerType.viewDropped
  | typeof MarkerType.viewChanged;

/** Index and view definitions: nothing to mirror, but they occupy ticks the checkpoint must pass. */
export interface IgnoredDdlMarker extends MarkerBase {
  readonly kind: "ignored-ddl";
  readonly type: IgnoredDdlType;
  readonly cuid: string | undefined;
}

/**
 * A well-formed marker (object with a valid tick) of a type this version does not know. The caller
 * logs and skips it; it is never fatal.
 */
export interface UnknownMarker {
  readonly kind: "unknown";
  readonly type: number;
  readonly tick: Tick;
  readonly db: string | undefined;
  readonly tid: string | undefined;
  readonly raw: JsonObject;
}

export type CollectionMarker =
  | CollectionCreateMarker
  | CollectionDropMarker
  | CollectionRenameMarker
  | CollectionChangeMarker
  | CollectionTruncateMarker;

export type Marker =
  | DocumentMarker
  | TransactionMarker
  | CollectionMarker
  | DatabaseCreateMarker
  | DatabaseDropMarker
  | IgnoredDdlMarker
  | UnknownMarker;

// ---------------------------------------------------------------------------------------------
// Events, after cuid → collection name resolution.

export interface DocumentUpserted {
  readonly kind: "document-upserted";
  readonly collection: string;
  readonly key: string;
  readonly rev: string;
  readonly tick: Tick;
  readonly document: ArangoDocument;
}

export interface DocumentRemoved {
  readonly kind: "document-removed";
  readonly collection: string;
  readonly key: string;
  /** The removed document's revision (protocol §7.3): for verification, never for ordering. */
  readonly rev: string;
  readonly tick: Tick;
}

export interface CollectionCreated {
  readonly kind: "collection-created";
  readonly collection: string;
  readonly cuid: string;
  readonly tick: Tick;
}

export interface CollectionDropped {
  readonly kind: "collection-dropped";
  readonly collection: string;
  readonly cuid: string;
  readonly tick: Tick;
}

export interface CollectionRenamed {
  readonly kind: "collection-renamed";
  readonly cuid: string;
  /** Undefined when the collection was not in the catalog before the rename. */
  readonly previousName: string | undefined;
  readonly collection: string;
  readonly tick: Tick;
}

/** Every document of the collection is gone; a big truncate has no per-document markers (§9). */
export interface CollectionTruncated {
  readonly kind: "collection-truncated";
  readonly collection: string;
  readonly cuid: string;
  readonly tick: Tick;
}

export interface DatabaseDropped {
  readonly kind: "database-dropped";
  readonly db: string;
  readonly tick: Tick;
}

export type DocumentEvent = DocumentUpserted | DocumentRemoved;

export type ChangeEvent =
  | DocumentUpserted
  | DocumentRemoved
  | CollectionCreated
  | CollectionDropped
  | CollectionRenamed
  | CollectionTruncated
  | DatabaseDropped;
