/**
 * What the REST routes read from a request the way ArangoDB's handlers read it: boolean query
 * parameters, revision headers, the stream transaction named in `x-arango-trx-id`, and the
 * success bodies of RestBaseHandler.
 */
import { ArangoError, ErrorNum, badRequest, notFound } from "./arango-error.js";
import type { CollectionState, DatabaseState } from "./catalog.js";
import type { EmulatedServer, StreamTransaction } from "./emulated-server.js";
import type { RequestContext } from "./http-server.js";

/** A path parameter captured by the route pattern (always present when the route matched). */
export function pathParameter(context: RequestContext, name: string): string {
  const value = context.params[name];
  if (value === undefined) throw new ArangoError(500, ErrorNum.HTTP_SERVER_ERROR, `no ${name}`);
  return value;
}

/**
 * A boolean query parameter: `GeneralRequest::parsedValue` reads a present value with
 * StringUtils::boolean (true for "true", "yes", "on", "y" and "1"), an absent one as `fallback`.
 */
export function booleanParameter(
  context: RequestContext,
  name: string,
  fallback: boolean,
): boolean {
  const value = context.query.get(name);
  if (value === null) return fallback;
  return ["true", "yes", "on", "y", "1"].includes(value.trim().toLowerCase());
}

/** A revision no stored document has: what an unparsable `If-Match`/`If-None-Match` compares as. */
const IMPOSSIBLE_REVISION = "\u0000";

/**
 * The revision in an `If-Match` or `If-None-Match` header, quotes and blanks stripped
 * (RestVocbaseBaseHandler::extractRevision); undefined without the header. An empty value cannot
 * match any document (the handler turns it into RevisionId::max()).
 */
export function revisionHeader(context: RequestContext, name: string): string | undefined {
  const raw = context.headers[name];
  if (raw === undefined) return undefined;
  const value = (Array.isArray(raw) ? (raw[0] ?? "") : raw)
    .trim()
    .replace(/^["']/, "")
    .replace(/["']$/, "")
    .trim();
  return value === "" ? IMPOSSIBLE_REVISION : value;
}

/**
 * The stream transaction a request runs in, named by `x-arango-trx-id`
 * (RestVocbaseBaseHandler::createTransaction): a non-numeric id is a bad parameter, an unknown,
 * finished or expired one fails as transaction::Manager::leaseManagedTrx says.
 */
export function transactionOf(
  state: EmulatedServer,
  context: RequestContext,
): StreamTransaction | undefined {
  const raw = context.headers["x-arango-trx-id"];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? (raw[0] ?? "") : raw;
  const digits = /^\s*(\d+)/.exec(value)?.[1];
  if (digits === undefined || BigInt(digits) === 0n) {
    throw badRequest(ErrorNum.BAD_PARAMETER, "invalid transaction ID");
  }
  return state.leaseTransaction(BigInt(digits).toString());
}

/**
 * A collection named in a document request: an unknown name fails when the transaction
 * registers it (transaction::Methods, throwCollectionNotFound).
 */
export function documentCollection(database: DatabaseState, name: string): CollectionState {
  const collection = database.findCollection(name);
  if (collection === undefined) {
    throw notFound(ErrorNum.ARANGO_DATA_SOURCE_NOT_FOUND, `collection or view not found: ${name}`);
  }
  return collection;
}

/** RestBaseHandler::generateOk with an object payload: its attributes after `error` and `code`. */
export function okObject(code: number, payload: Record<string, unknown>): Record<string, unknown> {
  return { error: false, code, ...payload };
}

/** RestBaseHandler::generateOk with any other payload: it goes into `result`. */
export function okResult(code: number, result: unknown): Record<string, unknown> {
  return { error: false, code, result };
}

/** The request body, which must be a JSON object (`parseVPackBody` plus the handler's check). */
export function objectBody(context: RequestContext): Record<string, unknown> {
  const body = context.body();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "body must be an object");
  }
  return body as Record<string, unknown>;
}
