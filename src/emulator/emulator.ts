/**
 * Starts an emulated ArangoDB server: the storage engine, the HTTP front and every route family.
 * Tests and the demo use `startEmulator()`; `arango-pg-sync emulator --port N` runs one standalone.
 */
import { EmulatedServer, type EmulatorOptions } from "./emulated-server.js";
import { EmulatorHttpServer, Router } from "./http-server.js";
import { registerReplicationRoutes, type ReplicationService } from "./routes-replication.js";
import { registerRestRoutes } from "./routes-rest.js";

export interface StartOptions extends EmulatorOptions {
  port?: number;
  host?: string;
}

export interface Emulator {
  readonly url: string;
  readonly state: EmulatedServer;
  readonly http: EmulatorHttpServer;
  readonly replication: ReplicationService;
  close(): Promise<void>;
}

export async function startEmulator(options: StartOptions = {}): Promise<Emulator> {
  const state = new EmulatedServer(options);
  const router = new Router();
  const http = new EmulatorHttpServer(state, router);
  registerRestRoutes(router, state, http);
  const replication = registerReplicationRoutes(router, state);
  const url = await http.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  return {
    url,
    state,
    http,
    replication,
    async close() {
      replication.stop();
      await http.close();
    },
  };
}
