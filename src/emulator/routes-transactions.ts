/**
 * Stream transactions, `/_api/transaction` (RestTransactionHandler, transaction::Manager, and the
 * 3.12 HTTP manual "Stream Transactions"). Results are
 * `{"code": <http>, "error": false, "result": {"id": "<id>", "status": "running|committed|aborted"}}`.
 * Document and collection requests join a transaction through the `x-arango-trx-id` header;
 * its writes reach the store and the WAL (one 2200 … 2201 group with the transaction id as
 * `tid`) only on commit, and never after an abort.
 */
import { ErrorNum, badRequest, notFound } from "./arango-error.js";
import type { EmulatedServer, StreamTransaction } from "./emulated-server.js";
import type { HandlerResponse, RequestContext, Router } from "./http-server.js";
import { pathParameter } from "./request-parameters.js";

export function registerTransactionRoutes(router: Router, state: EmulatedServer): void {
  router.post("/_api/transaction/begin", (context) => begin(state, context));
  router.get("/_api/transaction", (context) => ({
    status: 200,
    body: {
      transactions: state
        .runningTransactions(context.database())
        .map((trx) => ({ id: trx.id, state: trx.status })),
    },
  }));
  router.get("/_api/transaction/:id", (context) => {
    const id = transactionId(context, "Illegal transaction ID");
    const trx = state.findTransaction(id);
    if (trx === undefined) throw notFound(ErrorNum.TRANSACTION_NOT_FOUND);
    return result(200, trx);
  });
  router.put("/_api/transaction/:id", (context) =>
    result(
      200,
      state.commitTransaction(context.database(), transactionId(context, "bad transaction ID")),
    ),
  );
  router.delete("/_api/transaction/:id", (context) => {
    if (pathParameter(context, "id") === "write") return abortWriteTransactions(state);
    return result(
      200,
      state.abortTransaction(context.database(), transactionId(context, "bad transaction ID")),
    );
  });
}

/**
 * `{"collections": {"read", "write", "exclusive"}, "allowImplicit", ...}` → 201 and a running
 * transaction. Each collection list is a name or an array of names; an unknown collection is
 * 404/1203 and a write collection in read-only mode 403/1004 (transaction::Manager).
 */
function begin(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const body = context.body();
  const spec =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  const collections = spec?.["collections"];
  if (typeof collections !== "object" || collections === null || Array.isArray(collections)) {
    throw badRequest(ErrorNum.BAD_PARAMETER, "missing 'collections'");
  }
  const { read, write, exclusive } = collections as Record<string, unknown>;
  for (const list of [read, write, exclusive]) {
    const valid =
      list === undefined ||
      typeof list === "string" ||
      (Array.isArray(list) && list.every((name) => typeof name === "string"));
    if (!valid) throw badRequest(ErrorNum.BAD_PARAMETER, "invalid 'collections' attribute");
  }
  const database = context.database();
  const allowImplicit = spec?.["allowImplicit"];
  const trx = state.beginTransaction(
    database,
    { read, write, exclusive },
    {
      ...(typeof allowImplicit === "boolean" ? { allowImplicit } : {}),
      // A user who may only read the database cannot register collections for writing.
      readOnlyAccess: state.databaseAccess(context.user, database.name) === "ro",
    },
  );
  return result(201, trx);
}

/** The id in the path: a number, else 400/10 with the handler's message. */
function transactionId(context: RequestContext, message: string): string {
  const raw = pathParameter(context, "id");
  const digits = /^\d+/.exec(raw)?.[0];
  if (digits === undefined || BigInt(digits) === 0n)
    throw badRequest(ErrorNum.BAD_PARAMETER, message);
  return BigInt(digits).toString();
}

/**
 * `DELETE /_api/transaction/write`: aborts running write transactions. A real server limits this
 * to the caller's own transactions; the emulator does not record who began a transaction.
 */
function abortWriteTransactions(state: EmulatedServer): HandlerResponse {
  for (const trx of state.runningTransactions()) {
    if (trx.writeCollections.size > 0) state.abortTransaction(trx.database, trx.id);
  }
  return { status: 200, body: { error: false, code: 200 } };
}

/** RestTransactionHandler::generateTransactionResult: `code` comes before `error` here. */
function result(code: number, trx: StreamTransaction): HandlerResponse {
  return {
    status: code,
    body: { code, error: false, result: { id: trx.id, status: trx.status } },
  };
}
