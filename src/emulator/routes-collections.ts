/**
 * `/_api/collection` (RestCollectionHandler, 3.12): list, create, drop, and the per-collection
 * reads (`properties`, `count`, `figures`) and actions (`truncate`, `rename`, `properties`,
 * `load`, `unload`, `compact`). Successful answers are `{"error":false,"code":200, ...}` with
 * the collection's representation: `id, name, status, type` first, then either
 * `isSystem, globallyUniqueId` or the full properties, then `figures` and `count` when asked.
 */
import { ArangoError, ErrorNum, badRequest, forbidden } from "./arango-error.js";
import { type CollectionState, EDGE_COLLECTION } from "./catalog.js";
import type { EmulatedServer, StreamTransaction } from "./emulated-server.js";
import type { HandlerResponse, RequestContext, Router } from "./http-server.js";
import {
  booleanParameter,
  okObject,
  okResult,
  pathParameter,
  transactionOf,
} from "./request-parameters.js";

export function registerCollectionRoutes(router: Router, state: EmulatedServer): void {
  router.get("/_api/collection", (context) => {
    const excludeSystem = booleanParameter(context, "excludeSystem", false);
    const collections = [...context.database().collections.values()].filter(
      (collection) => !excludeSystem || !collection.isSystem,
    );
    return { status: 200, body: okResult(200, collections.map(summary)) };
  });
  router.post("/_api/collection", (context) => createCollection(state, context));
  router.get("/_api/collection/:name", (context) => ({
    status: 200,
    body: okObject(200, summary(lookup(context))),
  }));
  router.get("/_api/collection/:name/properties", (context) =>
    standard(context, withProperties(lookup(context))),
  );
  router.get("/_api/collection/:name/count", (context) => {
    const collection = lookup(context);
    const trx = transactionOf(state, context);
    return standard(context, {
      ...withProperties(collection),
      count: state.countDocuments(collection, inDatabase(trx, collection)),
    });
  });
  router.get("/_api/collection/:name/figures", (context) => {
    const collection = lookup(context);
    return standard(context, {
      ...withProperties(collection),
      figures: figures(collection),
      count: collection.documents.size,
    });
  });
  router.put("/_api/collection/:name/truncate", (context) => truncate(state, context));
  router.put("/_api/collection/:name/properties", (context) => {
    const collection = lookup(context);
    const body = objectOrEmpty(context.body());
    // Only these attributes can change after creation (RestCollectionHandler "properties").
    const changes: Record<string, unknown> = {};
    for (const name of ["waitForSync", "schema", "cacheEnabled", "computedValues"]) {
      if (body[name] !== undefined) changes[name] = body[name];
    }
    requireWriteAccess(state, context, collection);
    state.changeCollection(collection, changes);
    return standard(context, withProperties(collection));
  });
  router.put("/_api/collection/:name/rename", (context) => {
    const collection = lookup(context);
    const name = objectOrEmpty(context.body())["name"];
    if (typeof name !== "string") {
      throw badRequest(ErrorNum.ARANGO_ILLEGAL_NAME, "name is empty");
    }
    requireWriteAccess(state, context, collection);
    state.renameCollection(collection, name);
    return standard(context, summary(collection));
  });
  // Loading and unloading are no-ops since 3.9 that answer with the representation; "load"
  // includes the count unless the body says `"count": false`.
  router.put("/_api/collection/:name/load", (context) => {
    const collection = lookup(context);
    const withCount = objectOrEmpty(context.body())["count"] !== false;
    return standard(
      context,
      withCount
        ? { ...summary(collection), count: collection.documents.size }
        : summary(collection),
    );
  });
  router.put("/_api/collection/:name/unload", (context) =>
    standard(context, summary(lookup(context))),
  );
  router.put("/_api/collection/:name/compact", (context) =>
    standard(context, summary(lookup(context))),
  );
  router.delete("/_api/collection/:name", (context) => {
    const collection = lookup(context);
    const { id } = collection;
    requireWriteAccess(state, context, collection);
    state.dropCollection(collection, { isSystem: booleanParameter(context, "isSystem", false) });
    return { status: 200, body: okObject(200, { id }) };
  });
}

/** methods::Collections::lookup: by name or id; unknown is 404/1203 with the default message. */
function lookup(context: RequestContext): CollectionState {
  return context.database().collection(pathParameter(context, "name"));
}

/** The representation without properties (`GET /_api/collection[/<name>]`, rename, truncate). */
function summary(collection: CollectionState): Record<string, unknown> {
  return {
    id: collection.id,
    name: collection.name,
    status: 3,
    type: collection.type,
    isSystem: collection.isSystem,
    globallyUniqueId: collection.globallyUniqueId,
  };
}

/** The representation with properties (`properties`, `count`, `figures`, create). */
function withProperties(collection: CollectionState): Record<string, unknown> {
  const { id, name, status, type, ...properties } = collection.properties();
  return { id, name, status, type, ...properties };
}

/**
 * RocksDB figures: index count and size, an estimate of the documents' size and the (disabled)
 * document cache. The sizes are estimates on a real server too.
 */
function figures(collection: CollectionState): Record<string, unknown> {
  let documentsSize = 0;
  let keysSize = 0;
  for (const document of collection.documents.values()) {
    documentsSize += Buffer.byteLength(JSON.stringify(document));
    keysSize += Buffer.byteLength(document._key);
  }
  // The primary index, plus the edge index of an edge collection.
  const indexCount = collection.type === EDGE_COLLECTION ? 2 : 1;
  return {
    indexes: { count: indexCount, size: keysSize * indexCount },
    documentsSize,
    cacheInUse: false,
    cacheSize: 0,
    cacheUsage: 0,
  };
}

/** RestCollectionHandler::standardResponse: generateOk plus a `location` header. */
function standard(
  context: RequestContext,
  representation: Record<string, unknown>,
): HandlerResponse {
  return {
    status: 200,
    body: okObject(200, representation),
    headers: {
      location: `/_db/${encodeURIComponent(context.databaseName)}${context.path}`,
    },
  };
}

/**
 * `{"name", "type", "waitForSync", "keyOptions", "isSystem", ...}` → 200 and the representation
 * with properties. A user limited to reading the database cannot create collections.
 */
function createCollection(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const body = context.body();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(ErrorNum.BAD_PARAMETER);
  }
  const spec = body as Record<string, unknown>;
  const database = context.database();
  if (state.databaseAccess(context.user, database.name) !== "rw") {
    throw forbidden(ErrorNum.FORBIDDEN, `cannot create collection in ${database.name}`);
  }
  const collection = state.createCollection(database, {
    name: spec["name"],
    type: spec["type"],
    waitForSync: spec["waitForSync"],
    keyOptions: spec["keyOptions"],
    isSystem: spec["isSystem"] === true,
  });
  return { status: 200, body: okObject(200, withProperties(collection)) };
}

/**
 * Truncate runs as an exclusive write transaction (or inside the stream transaction named by
 * `x-arango-trx-id`) and answers with the representation without properties.
 */
function truncate(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const collection = lookup(context);
  const trx = inDatabase(transactionOf(state, context), collection);
  if (trx === undefined) {
    if (state.databaseAccess(context.user, collection.database.name) === "ro") {
      throw forbidden(ErrorNum.ARANGO_READ_ONLY, `read only: ${collection.name} [exclusive]`);
    }
    state.truncateCollection(collection);
  } else {
    state.truncateInTransaction(trx, collection);
  }
  return standard(context, summary(collection));
}

/** A user with read-only access to the database may not change its collections. */
function requireWriteAccess(
  state: EmulatedServer,
  context: RequestContext,
  collection: CollectionState,
): void {
  if (state.databaseAccess(context.user, collection.database.name) !== "rw") {
    throw forbidden(ErrorNum.FORBIDDEN);
  }
}

/** A transaction of another database cannot see this collection. */
function inDatabase(
  trx: StreamTransaction | undefined,
  collection: CollectionState,
): StreamTransaction | undefined {
  if (trx !== undefined && trx.database !== collection.database) {
    throw new ArangoError(
      404,
      ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND,
      `collection or view not found: ${collection.name}`,
    );
  }
  return trx;
}

function objectOrEmpty(body: unknown): Record<string, unknown> {
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}
