/**
 * The REST API families of an ArangoDB 3.12 single server that arangojs uses, registered in one
 * place: server version and mode, authentication and users, databases, collections, documents
 * and stream transactions. The replication API lives in routes-replication.ts.
 */
import type { EmulatedServer } from "./emulated-server.js";
import type { EmulatorHttpServer, Router } from "./http-server.js";
import { registerCollectionRoutes } from "./routes-collections.js";
import { registerDatabaseRoutes } from "./routes-databases.js";
import { registerDocumentRoutes } from "./routes-documents.js";
import { registerServerRoutes } from "./routes-server.js";
import { registerTransactionRoutes } from "./routes-transactions.js";
import { registerUserRoutes } from "./routes-users.js";

export function registerRestRoutes(
  router: Router,
  state: EmulatedServer,
  http: EmulatorHttpServer,
): void {
  registerServerRoutes(router, state);
  registerUserRoutes(router, state, http);
  registerDatabaseRoutes(router, state);
  registerCollectionRoutes(router, state);
  registerDocumentRoutes(router, state);
  registerTransactionRoutes(router, state);
}
