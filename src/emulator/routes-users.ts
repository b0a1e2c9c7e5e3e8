/**
 * Authentication and users: `POST /_open/auth` and `/_open/auth/renew` (RestAuthHandler) and the
 * part of `/_api/user` (RestUsersHandler) needed to create non-admin users and grant them
 * databases. Tokens are opaque random strings kept by the HTTP front, not signed JWTs: clients
 * only ever send them back as `Authorization: Bearer <token>`.
 */
import { ArangoError, ErrorNum, badRequest, forbidden, notFound } from "./arango-error.js";
import type { AccessLevel, EmulatedServer, User } from "./emulated-server.js";
import type { EmulatorHttpServer, HandlerResponse, RequestContext, Router } from "./http-server.js";
import { okObject, pathParameter } from "./request-parameters.js";

export function registerUserRoutes(
  router: Router,
  state: EmulatedServer,
  http: EmulatorHttpServer,
): void {
  router.post("/_open/auth", (context) => login(state, http, context));
  router.post("/_open/auth/renew", (context) => renew(http, context));
  router.post("/_api/user", (context) => createUser(state, context));
  router.get("/_api/user/:user", (context) => getUser(state, context));
  router.delete("/_api/user/:user", (context) => deleteUser(state, context));
  router.get("/_api/user/:user/database/:database", (context) => getGrant(state, context));
  router.put("/_api/user/:user/database/:database", (context) => grant(state, context));
}

/**
 * `{"username","password"}` → `{"jwt": token}`; wrong credentials are a 401 "Wrong credentials",
 * a malformed body a 400 "invalid JSON". With authentication off the handler answers with the
 * placeholder token "invalid" (3.12.6 and later), which the server then accepts like anything.
 */
function login(
  state: EmulatedServer,
  http: EmulatorHttpServer,
  context: RequestContext,
): HandlerResponse {
  const body = context.body();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "invalid JSON");
  }
  const { username, password } = body as Record<string, unknown>;
  if (typeof username !== "string" || typeof password !== "string") {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "invalid JSON");
  }
  if (!state.authentication) return { status: 200, body: { jwt: "invalid" } };
  const user = state.users.get(username);
  if (user?.active !== true || user.password !== password) {
    throw new ArangoError(401, ErrorNum.HTTP_UNAUTHORIZED, "Wrong credentials");
  }
  return { status: 200, body: { jwt: http.issueToken(username) } };
}

/**
 * Only a request authenticated with a token can renew it. A new token is only handed out when
 * the old one expires within 150 seconds; these tokens never expire, so the body stays empty.
 */
function renew(http: EmulatorHttpServer, context: RequestContext): HandlerResponse {
  if (http.tokenUser(context.headers.authorization) === undefined) {
    throw notFound(ErrorNum.USER_NOT_FOUND);
  }
  return { status: 200, body: {} };
}

/** Creating users is for admins only; the new user has no database permission yet. */
function createUser(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const body = context.body();
  // A body that is not an object gets an empty 200 response (RestUsersHandler::postRequest).
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { status: 200 };
  if (!isAdmin(state, context)) throw forbidden(ErrorNum.FORBIDDEN);
  const spec = body as Record<string, unknown>;
  const name = spec["user"];
  const user = state.createUser(name, spec);
  return { status: 201, body: userBody(String(name), user, 201) };
}

function getUser(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const name = pathParameter(context, "user");
  if (name !== context.username && !isAdmin(state, context)) {
    throw forbidden(ErrorNum.HTTP_FORBIDDEN);
  }
  const user = state.users.get(name);
  if (user === undefined) throw notFound(ErrorNum.USER_NOT_FOUND);
  return { status: 200, body: userBody(name, user, 200) };
}

function deleteUser(state: EmulatedServer, context: RequestContext): HandlerResponse {
  if (!isAdmin(state, context)) throw forbidden(ErrorNum.FORBIDDEN);
  const name = pathParameter(context, "user");
  if (!state.users.delete(name)) throw notFound(ErrorNum.USER_NOT_FOUND);
  return { status: 202, body: okObject(202, {}) };
}

/** The configured level on one database, as `{"result": "rw" | "ro" | "none"}`. */
function getGrant(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const name = pathParameter(context, "user");
  if (name !== context.username && !isAdmin(state, context)) {
    throw forbidden(ErrorNum.HTTP_FORBIDDEN);
  }
  const user = state.users.get(name);
  if (user === undefined) throw notFound(ErrorNum.USER_NOT_FOUND);
  const level = state.databaseAccess(user, pathParameter(context, "database"));
  return { status: 200, body: okObject(200, { result: level }) };
}

/** `{"grant": "rw" | "ro" | "none"}` → `{"<database>": level, "error": false, "code": 200}`. */
function grant(state: EmulatedServer, context: RequestContext): HandlerResponse {
  if (!isAdmin(state, context)) throw forbidden(ErrorNum.FORBIDDEN);
  const body = context.body();
  const value =
    typeof body === "object" && body !== null ? (body as Record<string, unknown>)["grant"] : null;
  if (typeof value !== "string") throw badRequest(ErrorNum.BAD_PARAMETER);
  // auth::convertToAuthLevel: anything but "rw" and "ro" grants no access.
  const level: AccessLevel = value === "rw" || value === "ro" ? value : "none";
  const database = pathParameter(context, "database");
  state.grantDatabase(pathParameter(context, "user"), database, level);
  return { status: 200, body: { [database]: level, error: false, code: 200 } };
}

/** ExecContext::isAdminUser: read-write on `_system` (everyone when authentication is off). */
function isAdmin(state: EmulatedServer, context: RequestContext): boolean {
  return !state.authentication || state.databaseAccess(context.user, "_system") === "rw";
}

/** UserManager::serializeUser followed by `error` and `code` (generateUserResult). */
function userBody(name: string, user: User, code: number): Record<string, unknown> {
  return { user: name, active: user.active, extra: {}, error: false, code };
}
