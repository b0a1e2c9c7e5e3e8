/**
 * Server information and mode: `GET /_api/version` (RestVersionHandler) and
 * `/_admin/server/mode|availability` (RestAdminServerHandler, arangodb 3.12).
 */
import { ErrorNum, badRequest, forbidden } from "./arango-error.js";
import type { EmulatedServer } from "./emulated-server.js";
import type { HandlerResponse, RequestContext, Router } from "./http-server.js";
import { booleanParameter, okObject } from "./request-parameters.js";

export function registerServerRoutes(router: Router, state: EmulatedServer): void {
  router.get("/_api/version", (context) => version(state, context));
  router.get("/_admin/server/mode", () => modeResponse(state));
  router.put("/_admin/server/mode", (context) => setMode(state, context));
  router.get("/_admin/server/availability", () => modeResponse(state));
}

/**
 * `{"server","version","license"}`; `details=true` adds a `details` object. Only the details that
 * describe this kind of deployment are given (a single server on the RocksDB engine); a real
 * server also lists build and library versions.
 */
function version(state: EmulatedServer, context: RequestContext): HandlerResponse {
  const body: Record<string, unknown> = {
    server: "arango",
    version: state.version,
    license: "community",
  };
  if (booleanParameter(context, "details", false)) {
    body["details"] = {
      architecture: "64bit",
      endianness: "little",
      license: "community",
      mode: "server",
      role: "SINGLE",
      "server-version": state.version,
      "storage-engine": "rocksdb",
    };
  }
  return { status: 200, body };
}

/**
 * The mode as `writeModeResult` reports it. The availability probe answers the same way: its
 * 503 is for servers starting up, stopping or in maintenance, and read-only mode is not one of
 * those (the handler checks ServerState::mode(), then reports readOnly() in the body).
 */
function modeResponse(state: EmulatedServer): HandlerResponse {
  return { status: 200, body: okObject(200, { mode: state.readOnly ? "readonly" : "default" }) };
}

/** Only users with read-write access to `_system` (checked on the configured level) may switch. */
function setMode(state: EmulatedServer, context: RequestContext): HandlerResponse {
  if (state.authentication && context.username !== "") {
    if (state.databaseAccess(context.user, "_system") !== "rw") {
      throw forbidden(ErrorNum.FORBIDDEN);
    }
  }
  const body = context.body();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "body must be an object");
  }
  const mode = (body as Record<string, unknown>)["mode"];
  if (typeof mode !== "string")
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "mode must be a string");
  if (mode !== "readonly" && mode !== "default") {
    throw badRequest(ErrorNum.HTTP_BAD_PARAMETER, "mode invalid");
  }
  state.readOnly = mode === "readonly";
  return modeResponse(state);
}
