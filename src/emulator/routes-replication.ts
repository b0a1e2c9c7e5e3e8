/** Replication routes: wal/tail, lastTick, range, logger-state, batch, inventory, dump. */
import type { EmulatedServer } from "./emulated-server.js";
import type { Router } from "./http-server.js";

export interface ReplicationService {
  /** Stops background timers (WAL pruning). */
  stop(): void;
}

export function registerReplicationRoutes(
  router: Router,
  state: EmulatedServer,
): ReplicationService {
  void router;
  void state;
  return { stop() {} };
}
