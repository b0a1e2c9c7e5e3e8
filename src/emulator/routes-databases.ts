/**
 * `/_api/database` (RestDatabaseHandler, methods::Databases, 3.12 HTTP manual "Databases"):
 * listing, the current database, creating and dropping. Managing databases is only possible
 * from `_system` (403/1230 elsewhere) and only for admins (403/11).
 */
import { ArangoError, ErrorNum, badRequest, forbidden } from "./arango-error.js";
import type { DatabaseState } from "./catalog.js";
import type { EmulatedServer } from "./emulated-server.js";
import type { HandlerResponse, RequestContext, Router } from "./http-server.js";
import { okResult, pathParameter } from "./request-parameters.js";

export function registerDatabaseRoutes(router: Router, state: EmulatedServer): void {
  router.get("/_api/database", (context) => {
    requireSystemDatabase(context);
    return { status: 200, body: okResult(200, names(state.listDatabases())) };
  });
  router.get("/_api/database/user", (context) => ({
    status: 200,
    body: okResult(
      200,
      names(
        state
          .listDatabases()
          .filter((database) => state.databaseAccess(context.user, database.name) !== "none"),
      ),
    ),
  }));
  router.get("/_api/database/current", (context) => {
    const database = context.database();
    return {
      status: 200,
      body: okResult(200, {
        name: database.name,
        id: database.id,
        isSystem: database.isSystem,
        path: `/var/lib/arangodb3/databases/database-${database.id}`,
      }),
    };
  });
  router.post("/_api/database", (context) => createDatabase(state, context));
  router.delete("/_api/database/:name", (context) => dropDatabase(state, context));
}

/** DatabaseFeature::getDatabaseNames returns the names sorted. */
function names(databases: readonly DatabaseState[]): string[] {
  return databases.map((database) => database.name).sort();
}

function requireSystemDatabase(context: RequestContext): void {
  if (context.databaseName !== "_system") {
    throw forbidden(ErrorNum.ARANGO_USE_SYSTEM_DATABASE);
  }
}

function requireAdmin(state: EmulatedServer, context: RequestContext): void {
  if (state.authentication && state.databaseAccess(context.user, "_system") !== "rw") {
    throw forbidden(ErrorNum.FORBIDDEN);
  }
}

/**
 * `{"name", "options", "users"}` → 201 `{"result": true}`. The users listed (created when
 * missing) get read-write access to the new database. Errors other than "forbidden" and
 * "duplicate name" are sent as 400 with their own error number (RestDatabaseHandler).
 */
function createDatabase(state: EmulatedServer, context: RequestContext): HandlerResponse {
  requireSystemDatabase(context);
  const body = context.body();
  const spec =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  requireAdmin(state, context);
  const name = spec["name"];
  if (typeof name !== "string") throw badRequest(ErrorNum.ARANGO_DATABASE_NAME_INVALID);
  try {
    state.createDatabase(name);
  } catch (error) {
    if (
      error instanceof ArangoError &&
      error.errorNum !== ErrorNum.FORBIDDEN &&
      error.errorNum !== ErrorNum.ARANGO_DUPLICATE_NAME
    ) {
      throw badRequest(error.errorNum, error.message);
    }
    throw error;
  }
  const users = Array.isArray(spec["users"]) ? (spec["users"] as unknown[]) : [];
  for (const entry of users) {
    if (typeof entry !== "object" || entry === null) continue;
    const user = entry as Record<string, unknown>;
    const username = user["username"] ?? user["user"];
    if (typeof username !== "string" || username === "") continue;
    if (!state.users.has(username)) state.createUser(username, user);
    state.grantDatabase(username, name, "rw");
  }
  return { status: 201, body: okResult(201, true) };
}

function dropDatabase(state: EmulatedServer, context: RequestContext): HandlerResponse {
  requireSystemDatabase(context);
  requireAdmin(state, context);
  state.dropDatabase(pathParameter(context, "name"));
  return { status: 200, body: okResult(200, true) };
}
