/**
 * `/_api/document` (RestDocumentHandler, RestVocbaseBaseHandler and transaction::Methods of
 * arangodb 3.12): insert, read, replace, update and remove of single documents
 * (`/<collection>/<key>`) and of arrays (`/<collection>` with an array body).
 *
 * - A single operation is a single-operation transaction (WAL `tid` "0"); an array request, and
 *   an insert that may overwrite (`overwriteMode` update or replace), is one transaction group
 *   (RestDocumentHandler::addTransactionHints). With `x-arango-trx-id` the operation joins that
 *   stream transaction instead.
 * - Success is 201 (200 for removals) when the write was synced (`waitForSync` or the
 *   collection's waitForSync), else 202 (generate20x). Single results carry `etag` and `location`.
 * - In an array request every item succeeds or fails on its own: a failed item is
 *   `{"error":true,"errorNum","errorMessage"}` in the result array and counted in
 *   `x-arango-error-codes`; the request itself still succeeds.
 */
import { ArangoError, ErrorNum, badRequest, forbidden, notFound } from "./arango-error.js";
import type { CollectionState, StoredDocument } from "./catalog.js";
import type {
  EmulatedServer,
  StreamTransaction,
  WriteOptions,
  WriteResult,
} from "./emulated-server.js";
import type { HandlerResponse, RequestContext, Router } from "./http-server.js";
import {
  booleanParameter,
  documentCollection,
  pathParameter,
  revisionHeader,
  transactionOf,
} from "./request-parameters.js";

export function registerDocumentRoutes(router: Router, state: EmulatedServer): void {
  router.post("/_api/document/:collection", (context) =>
    insert(state, context, pathParameter(context, "collection")),
  );
  router.post("/_api/document", (context) => insert(state, context, collectionParameter(context)));
  router.get("/_api/document/:collection/:key", (context) => readOne(state, context));
  router.add("HEAD", "/_api/document/:collection/:key", (context) => readOne(state, context));
  router.get("/_api/document/:collection", () => {
    throw notFound(
      ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND,
      "expecting GET /_api/document/<collection>/<key>",
    );
  });
  router.put("/_api/document/:collection/:key", (context) => modifyOne(state, context, false));
  router.patch("/_api/document/:collection/:key", (context) => modifyOne(state, context, true));
  router.put("/_api/document/:collection", (context) =>
    context.query.has("onlyget") ? readMany(state, context) : modifyMany(state, context, false),
  );
  router.patch("/_api/document/:collection", (context) => modifyMany(state, context, true));
  router.delete("/_api/document/:collection/:key", (context) => removeOne(state, context));
  router.delete("/_api/document/:collection", (context) => removeMany(state, context));
}

/** One item of an array request: its result, or the error reported in its place. */
type Outcome = { result: WriteResult } | { error: ArangoError };

interface Target {
  trx: StreamTransaction | undefined;
  collection: CollectionState;
}

/** `POST /_api/document?collection=<name>`, the older form of naming the collection. */
function collectionParameter(context: RequestContext): string {
  const name = context.query.get("collection");
  if (name === null || name === "") {
    throw badRequest(
      ErrorNum.ARANGO_COLLECTION_PARAMETER_MISSING,
      "'collection' is missing, expecting /_api/document POST /_api/document/<collection> or query parameter 'collection'",
    );
  }
  return name;
}

/** A request body that must be present and valid JSON. */
function requiredBody(context: RequestContext): unknown {
  const body = context.body();
  if (body === undefined) throw badRequest(ErrorNum.HTTP_CORRUPTED_JSON);
  return body;
}

/**
 * The collection a request reads, seen through the stream transaction it names, if any. An
 * unknown collection fails when the transaction would register it.
 */
function readTarget(state: EmulatedServer, context: RequestContext): Target {
  const trx = transactionOf(state, context);
  const database = trx?.database ?? context.database();
  return { trx, collection: documentCollection(database, pathParameter(context, "collection")) };
}

/**
 * The collection a request writes. Outside a transaction, a user who may only read the
 * database (or anyone in read-only mode, checked by the engine) fails registering it for
 * writing: 403/1004 (TransactionState::checkCollectionPermission).
 */
function writeTarget(state: EmulatedServer, context: RequestContext, name: string): Target {
  const trx = transactionOf(state, context);
  const database = trx?.database ?? context.database();
  const collection = documentCollection(database, name);
  if (trx === undefined && state.databaseAccess(context.user, database.name) === "ro") {
    throw forbidden(ErrorNum.ARANGO_READ_ONLY, `read only: ${collection.name} [write]`);
  }
  return { trx, collection };
}

/** Runs one item of an array request; a single request lets its error end the request. */
function attempt(isArray: boolean, operation: () => WriteResult): Outcome {
  if (!isArray) return { result: operation() };
  try {
    return { result: operation() };
  } catch (error) {
    if (error instanceof ArangoError) return { error };
    throw error;
  }
}

/** An item that cannot be processed at all: reported in its place, like any failed item. */
function failure(errorNum: number, message?: string): Outcome {
  return { error: badRequest(errorNum, message) };
}

/** The overwrite mode of an insert: `overwrite=true` means replace; `overwriteMode` wins. */
function overwriteModeOf(context: RequestContext): WriteOptions["overwriteMode"] {
  const mode = context.query.get("overwriteMode");
  if (mode === "ignore" || mode === "replace" || mode === "update" || mode === "conflict") {
    return mode;
  }
  return booleanParameter(context, "overwrite", false) ? "replace" : undefined;
}

function insert(state: EmulatedServer, context: RequestContext, name: string): HandlerResponse {
  const body = requiredBody(context);
  const overwriteMode = overwriteModeOf(context);
  const overwriting = overwriteMode === "update" || overwriteMode === "replace";
  const options: WriteOptions = {
    waitForSync: booleanParameter(context, "waitForSync", false),
    returnNew: booleanParameter(context, "returnNew", false),
    // The old version exists only when an insert replaces or updates a document.
    returnOld: booleanParameter(context, "returnOld", false) && overwriting,
    silent: booleanParameter(context, "silent", false),
  };
  if (overwriteMode !== undefined) options.overwriteMode = overwriteMode;
  if (overwriteMode === "update") {
    // Unlike PATCH, an updating insert removes null attributes unless told to keep them.
    options.mergeObjects = booleanParameter(context, "mergeObjects", true);
    options.keepNull = booleanParameter(context, "keepNull", false);
  }
  const { trx, collection } = writeTarget(state, context, name);
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  const outcomes = state.write(collection, trx, isArray || overwriting, (writes) =>
    items.map((item) => attempt(isArray, () => state.insert(writes, collection, item, options))),
  );
  return written(context, name, collection, isArray, outcomes, options, 201);
}

function readOne(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const { trx, collection } = readTarget(state, context);
  const ifNoneMatch = revisionHeader(context, "if-none-match");
  const ifMatch = revisionHeader(context, "if-match");
  const document = state.readDocument(collection, pathParameter(context, "key"), trx);
  const etag = { etag: `"${document._rev}"` };
  if (ifMatch !== undefined && ifMatch !== document._rev) {
    // A read with a failed precondition reports the current revision (GetDocumentProcessor).
    throw new ArangoError(412, ErrorNum.ARANGO_CONFLICT).with({
      _id: document._id,
      _key: document._key,
      _rev: document._rev,
    });
  }
  if (ifNoneMatch === document._rev) return { status: 304, headers: etag };
  return { status: 200, body: document, headers: etag };
}

/** `PUT /_api/document/<collection>?onlyget=true` with keys or `{_key}` objects. */
function readMany(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const body = requiredBody(context);
  const { trx, collection } = readTarget(state, context);
  const ignoreRevs = booleanParameter(context, "ignoreRevs", true);
  const read = (item: unknown): StoredDocument => {
    const key = keyPart(item);
    if (key === undefined) throw badRequest(ErrorNum.ARANGO_DOCUMENT_HANDLE_BAD);
    const document = state.readDocument(collection, key, trx);
    const expected = isObject(item) && !ignoreRevs ? item["_rev"] : undefined;
    if (typeof expected === "string" && expected !== document._rev) {
      throw new ArangoError(412, ErrorNum.ARANGO_CONFLICT);
    }
    return document;
  };
  // An object body reads one document and fails like a single read.
  if (!Array.isArray(body)) return { status: 200, body: read(body) };
  const items = body.map((item: unknown) => {
    try {
      return read(item);
    } catch (error) {
      if (error instanceof ArangoError) return babyError(error);
      throw error;
    }
  });
  return { status: 200, body: items };
}

/**
 * `PUT`/`PATCH /_api/document/<collection>/<key>`. When the body's `_key` differs from the URL's
 * (or is missing), or an `If-Match` header names another revision than the body, the handler
 * rebuilds the body without `_id`, `_key` and `_rev` and adds the URL's key and the expected
 * revision (RestDocumentHandler::modifyDocument, TRI_SanitizeObject). A `_rev` given by
 * `If-Match`, or in the body with `ignoreRevs=false`, is a precondition: 412 when it fails.
 */
function modifyOne(
  state: EmulatedServer,
  context: RequestContext,
  isPatch: boolean,
): HandlerResponse {
  const name = pathParameter(context, "collection");
  const key = pathParameter(context, "key");
  const body = requiredBody(context);
  if (!isObject(body)) throw badRequest(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID);
  const options = modifyOptions(context, isPatch);
  const headerRev = revisionHeader(context, "if-match");
  if (headerRev !== undefined) options.ignoreRevs = false;
  const revInBody = typeof body["_rev"] === "string" ? body["_rev"] : undefined;
  const keyInBody = body["_key"];
  let effective = body;
  if (
    (headerRev !== undefined && revInBody !== headerRev) ||
    keyInBody === undefined ||
    keyInBody === null ||
    (typeof keyInBody === "string" && keyInBody !== key)
  ) {
    const { _id: _ignoredId, _key: _ignoredKey, _rev: _ignoredRev, ...rest } = body;
    effective = { ...rest, _key: key };
    if (headerRev !== undefined) effective["_rev"] = headerRev;
    else if (options.ignoreRevs === false && revInBody !== undefined) effective["_rev"] = revInBody;
  }
  const effectiveKey = effective["_key"];
  if (typeof effectiveKey !== "string" || effectiveKey === "") {
    throw badRequest(ErrorNum.ARANGO_DOCUMENT_KEY_BAD);
  }
  const { trx, collection } = writeTarget(state, context, name);
  const result = state.write(collection, trx, false, (writes) =>
    isPatch
      ? state.update(writes, collection, effectiveKey, effective, options)
      : state.replace(writes, collection, effectiveKey, effective, options),
  );
  return written(context, name, collection, false, [{ result }], options, 201);
}

/** `PUT`/`PATCH /_api/document/<collection>` with an array of documents that carry `_key`. */
function modifyMany(
  state: EmulatedServer,
  context: RequestContext,
  isPatch: boolean,
): HandlerResponse {
  const name = pathParameter(context, "collection");
  const body = requiredBody(context);
  if (!Array.isArray(body)) throw badRequest(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID);
  const options = modifyOptions(context, isPatch);
  const { trx, collection } = writeTarget(state, context, name);
  const outcomes = state.write(collection, trx, true, (writes) =>
    body.map((item: unknown): Outcome => {
      // ModifyProcessor: the item must be an object whose `_key` is a non-empty string.
      if (!isObject(item)) return failure(ErrorNum.ARANGO_DOCUMENT_TYPE_INVALID);
      const key = item["_key"];
      if (key === undefined) return failure(ErrorNum.ARANGO_DOCUMENT_HANDLE_BAD);
      if (typeof key !== "string" || key === "") return failure(ErrorNum.ARANGO_DOCUMENT_KEY_BAD);
      return attempt(true, () =>
        isPatch
          ? state.update(writes, collection, key, item, options)
          : state.replace(writes, collection, key, item, options),
      );
    }),
  );
  return written(context, name, collection, true, outcomes, options, 201);
}

function modifyOptions(context: RequestContext, isPatch: boolean): WriteOptions {
  const options: WriteOptions = {
    ignoreRevs: booleanParameter(context, "ignoreRevs", true),
    waitForSync: booleanParameter(context, "waitForSync", false),
    returnNew: booleanParameter(context, "returnNew", false),
    returnOld: booleanParameter(context, "returnOld", false),
    silent: booleanParameter(context, "silent", false),
  };
  if (isPatch) {
    options.keepNull = booleanParameter(context, "keepNull", true);
    options.mergeObjects = booleanParameter(context, "mergeObjects", true);
  }
  return options;
}

function removeOptions(context: RequestContext): WriteOptions {
  return {
    returnOld: booleanParameter(context, "returnOld", false),
    ignoreRevs: booleanParameter(context, "ignoreRevs", true),
    waitForSync: booleanParameter(context, "waitForSync", false),
    silent: booleanParameter(context, "silent", false),
  };
}

/** `DELETE /_api/document/<collection>/<key>`, with `If-Match` as precondition. */
function removeOne(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const name = pathParameter(context, "collection");
  const key = pathParameter(context, "key");
  const options = removeOptions(context);
  const headerRev = revisionHeader(context, "if-match");
  const search: Record<string, unknown> = { _key: key };
  if (headerRev !== undefined) {
    options.ignoreRevs = false;
    search["_rev"] = headerRev;
  }
  const { trx, collection } = writeTarget(state, context, name);
  const result = state.write(collection, trx, false, (writes) =>
    state.remove(writes, collection, key, options, search),
  );
  return written(context, name, collection, false, [{ result }], options, 200);
}

/**
 * `DELETE /_api/document/<collection>` with an array of keys, document ids or `{_key}` objects
 * (an object body removes that one document). Anything else is "Request body not parseable".
 */
function removeMany(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const name = pathParameter(context, "collection");
  const body = requiredBody(context);
  if (!Array.isArray(body) && !isObject(body)) {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "Request body not parseable");
  }
  const options = removeOptions(context);
  const { trx, collection } = writeTarget(state, context, name);
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  const outcomes = state.write(collection, trx, isArray, (writes) =>
    items.map((item): Outcome => {
      // RemoveProcessor: a string (everything up to a "/" stripped) or an object's `_key`.
      const key = keyPart(item);
      if (key === undefined) {
        if (!isArray) throw badRequest(ErrorNum.ARANGO_DOCUMENT_HANDLE_BAD);
        return failure(ErrorNum.ARANGO_DOCUMENT_HANDLE_BAD);
      }
      return attempt(isArray, () =>
        state.remove(writes, collection, key, options, isObject(item) ? item : undefined),
      );
    }),
  );
  return written(context, name, collection, isArray, outcomes, options, 200);
}

/** The response of a write request (RestVocbaseBaseHandler::generate20x). */
function written(
  context: RequestContext,
  name: string,
  collection: CollectionState,
  isArray: boolean,
  outcomes: readonly Outcome[],
  options: WriteOptions,
  syncedStatus: 200 | 201,
): HandlerResponse {
  const succeeded = outcomes.some((outcome) => "result" in outcome);
  // A successful write on a waitForSync collection is synced even without the parameter.
  const synced = options.waitForSync === true || (collection.waitForSync && succeeded);
  const status = synced ? syncedStatus : 202;
  if (!isArray) {
    const outcome = outcomes[0];
    if (outcome === undefined) throw new ArangoError(500, ErrorNum.HTTP_SERVER_ERROR);
    if ("error" in outcome) throw outcome.error;
    const { result } = outcome;
    return {
      status,
      body: options.silent === true ? {} : result,
      headers: {
        etag: `"${result._rev}"`,
        location: `/_db/${encodeURIComponent(context.databaseName)}/_api/document/${name}/${encodeURIComponent(result._key)}`,
      },
    };
  }
  const counts = new Map<number, number>();
  for (const outcome of outcomes) {
    if ("error" in outcome) {
      counts.set(outcome.error.errorNum, (counts.get(outcome.error.errorNum) ?? 0) + 1);
    }
  }
  const headers: Record<string, string> =
    counts.size === 0 ? {} : { "x-arango-error-codes": JSON.stringify(Object.fromEntries(counts)) };
  if (options.silent === true) {
    // Silent results leave out the successes; with no failure at all the body is `{}`.
    const failures = outcomes.flatMap((outcome) =>
      "error" in outcome ? [babyError(outcome.error)] : [],
    );
    return { status, body: failures.length === 0 ? {} : failures, headers };
  }
  const items = outcomes.map((outcome) =>
    "error" in outcome ? babyError(outcome.error) : outcome.result,
  );
  return { status, body: items, headers };
}

/** How transaction::Methods reports a failed item of an array request (createBabiesError). */
function babyError(error: ArangoError): Record<string, unknown> {
  return { error: true, errorNum: error.errorNum, errorMessage: error.message };
}

/** transaction::helpers::extractKeyPart: a string's part after "/", or an object's `_key`. */
function keyPart(item: unknown): string | undefined {
  const key =
    typeof item === "string"
      ? item.slice(item.indexOf("/") + 1)
      : isObject(item) && typeof item["_key"] === "string"
        ? item["_key"]
        : "";
  return key === "" ? undefined : key;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
