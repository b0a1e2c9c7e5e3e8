/**
 * ArangoDB's error numbers and default messages (lib/Basics/errors.dat, published as
 * docs-hugo site/data/3.12/errors.yaml) and the JSON error body every REST handler sends:
 * `{"code":<http>,"error":true,"errorMessage":"…","errorNum":<n>}`.
 */
export const ErrorNum = {
  BAD_PARAMETER: 10,
  FORBIDDEN: 11,
  RESOURCE_LIMIT: 32,
  HTTP_BAD_PARAMETER: 400,
  HTTP_UNAUTHORIZED: 401,
  HTTP_FORBIDDEN: 403,
  HTTP_NOT_FOUND: 404,
  HTTP_METHOD_NOT_ALLOWED: 405,
  HTTP_SERVER_ERROR: 500,
  HTTP_SERVICE_UNAVAILABLE: 503,
  HTTP_CORRUPTED_JSON: 600,
  HTTP_SUPERFLUOUS_SUFFICES: 601,
  ARANGO_READ_ONLY: 1004,
  ARANGO_CONFLICT: 1200,
  ARANGO_DOCUMENT_NOT_FOUND: 1202,
  ARANGO_DATA_SOURCE_NOT_FOUND: 1203,
  ARANGO_COLLECTION_PARAMETER_MISSING: 1204,
  ARANGO_DOCUMENT_HANDLE_BAD: 1205,
  ARANGO_DUPLICATE_NAME: 1207,
  ARANGO_ILLEGAL_NAME: 1208,
  ARANGO_UNIQUE_CONSTRAINT_VIOLATED: 1210,
  ARANGO_DOCUMENT_KEY_BAD: 1221,
  ARANGO_DOCUMENT_KEY_UNEXPECTED: 1222,
  ARANGO_DOCUMENT_TYPE_INVALID: 1227,
  ARANGO_DATABASE_NOT_FOUND: 1228,
  ARANGO_DATABASE_NAME_INVALID: 1229,
  ARANGO_USE_SYSTEM_DATABASE: 1230,
  ARANGO_INVALID_EDGE_ATTRIBUTE: 1233,
  ARANGO_COLLECTION_TYPE_INVALID: 1218,
  REPLICATION_START_TICK_NOT_PRESENT: 1414,
  CLUSTER_UNSUPPORTED: 1470,
  CURSOR_NOT_FOUND: 1600,
  TRANSACTION_UNREGISTERED_COLLECTION: 1652,
  TRANSACTION_DISALLOWED_OPERATION: 1653,
  TRANSACTION_ABORTED: 1654,
  TRANSACTION_NOT_FOUND: 1655,
  USER_INVALID_NAME: 1700,
  USER_DUPLICATE: 1702,
  USER_NOT_FOUND: 1703,
} as const;

const defaultMessages: Record<number, string> = {
  10: "bad parameter",
  11: "forbidden",
  400: "bad parameter",
  401: "unauthorized",
  403: "forbidden",
  404: "not found",
  405: "method not supported",
  412: "precondition failed",
  600: "invalid JSON object",
  601: "superfluous URL suffices",
  1004: "read only",
  1200: "conflict",
  1202: "document not found",
  1203: "collection or view not found",
  1205: "illegal document identifier",
  1207: "duplicate name",
  1208: "illegal name",
  1210: "unique constraint violated",
  1218: "collection type invalid",
  1221: "illegal document key",
  1222: "unexpected document key",
  1227: "invalid document type",
  1228: "database not found",
  1229: "database name invalid",
  1230: "operation only allowed in system database",
  1233: "edge attribute missing or invalid",
  1600: "cursor not found",
  1652: "unregistered collection used in transaction",
  1653: "disallowed operation inside transaction",
  1654: "transaction aborted",
  1655: "transaction not found",
  1700: "invalid user name",
  1702: "duplicate user",
  1703: "user not found",
};

/**
 * An error a REST handler turns into ArangoDB's JSON error body with its HTTP status. `extra`
 * holds attributes some errors add after the standard ones (a failed precondition reports the
 * document's `_id`, `_key` and current `_rev`: RestVocbaseBaseHandler::generateConflictError).
 */
export class ArangoError extends Error {
  override readonly name = "ArangoError";
  readonly extra: Record<string, unknown> = {};

  constructor(
    readonly httpCode: number,
    readonly errorNum: number,
    message?: string,
  ) {
    super(message ?? defaultMessages[errorNum] ?? "internal error");
  }

  /** Adds attributes to the error body (after `error`, `code`, `errorNum`, `errorMessage`). */
  with(extra: Record<string, unknown>): this {
    Object.assign(this.extra, extra);
    return this;
  }

  toBody(): Record<string, unknown> & {
    code: number;
    error: true;
    errorMessage: string;
    errorNum: number;
  } {
    return {
      code: this.httpCode,
      error: true,
      errorMessage: this.message,
      errorNum: this.errorNum,
      ...this.extra,
    };
  }
}

/** The default message ArangoDB's errors.dat gives an error number. */
export function errorMessageOf(errorNum: number): string {
  return defaultMessages[errorNum] ?? "internal error";
}

export const notFound = (errorNum: number, message?: string): ArangoError =>
  new ArangoError(404, errorNum, message);
export const badRequest = (errorNum: number, message?: string): ArangoError =>
  new ArangoError(400, errorNum, message);
export const conflict = (errorNum: number, message?: string): ArangoError =>
  new ArangoError(409, errorNum, message);
export const forbidden = (errorNum: number, message?: string): ArangoError =>
  new ArangoError(403, errorNum, message);
