/**
 * Starts an emulated ArangoDB server: the storage engine, the HTTP front and every route family.
 * Tests and the demo use `startEmulator()`; `arango-pg-sync emulator --port N` runs one standalone.
 *
 * Test-only extras: `controlApi: true` adds the `/_emulator/*` routes of fault-control.ts, the
 * same controls are methods of the returned object (`faults`, `pruneWal`, `restart`), and
 * `persistPath` keeps the state in a file across emulator processes (persistence.ts).
 */
import { randomInt } from "node:crypto";
import { EmulatedServer, type EmulatorOptions } from "./emulated-server.js";
import {
  type ControlTarget,
  type FaultControl,
  type PruneOptions,
  type RestartOptions,
  faultControl,
  registerControlRoutes,
} from "./fault-control.js";
import { EmulatorHttpServer, type FaultRule, Router } from "./http-server.js";
import { loadState, restoreState, saveState } from "./persistence.js";
import {
  type ReplicationOptions,
  type ReplicationService,
  registerReplicationRoutes,
} from "./routes-replication.js";
import { registerRestRoutes } from "./routes-rest.js";
import type { PruneResult } from "./wal-retention.js";

export interface StartOptions extends EmulatorOptions {
  port?: number;
  host?: string;
  /** WAL retention timeouts and the replication API version (routes-replication.ts). */
  replication?: ReplicationOptions;
  /** Serve the test-only `/_emulator/*` control routes (never on by default). */
  controlApi?: boolean;
  /** Load the state from this file at start and save it there periodically and on close. */
  persistPath?: string;
  /** How often the state is saved to `persistPath` (default 5 000 ms). */
  persistIntervalMs?: number;
}

export interface Emulator extends ControlTarget {
  readonly url: string;
  /** The current storage engine (a new one after `restart({keepState: false})`). */
  readonly state: EmulatedServer;
  readonly http: EmulatorHttpServer;
  readonly replication: ReplicationService;
  readonly faults: FaultControl;
  pruneWal(options?: PruneOptions): PruneResult;
  restart(options?: RestartOptions): Promise<void>;
  /** Writes the state to `persistPath` now (no-op without it). */
  save(): Promise<void>;
  close(): Promise<void>;
}

interface Front {
  http: EmulatorHttpServer;
  replication: ReplicationService;
}

class RunningEmulator implements Emulator {
  readonly faults: FaultControl;
  private front: Front;
  private saving: Promise<void> = Promise.resolve();
  private persistTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private current: EmulatedServer,
    readonly url: string,
    private readonly port: number,
    front: Front,
    private readonly options: StartOptions,
  ) {
    this.front = front;
    this.faults = faultControl(() => this.front.http.faults);
    const { persistPath } = options;
    if (persistPath !== undefined) {
      this.persistTimer = setInterval(() => {
        void this.save().catch(() => undefined);
      }, options.persistIntervalMs ?? 5_000);
      this.persistTimer.unref();
    }
  }

  get state(): EmulatedServer {
    return this.current;
  }

  get http(): EmulatorHttpServer {
    return this.front.http;
  }

  get replication(): ReplicationService {
    return this.front.replication;
  }

  pruneWal(options: PruneOptions = {}): PruneResult {
    return options.force === true
      ? this.replication.forcePrune(options.below)
      : this.replication.runRetention();
  }

  /**
   * Stops the HTTP front (cutting every connection) and starts it again on the same port. What a
   * real restart loses is lost: dump batches and cursors, client registrations, stream
   * transactions, tokens. Fault rules are emulator settings and stay.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    if (this.closed) return;
    const rules: FaultRule[] = [...this.front.http.faults];
    this.front.replication.stop();
    await this.front.http.close();
    if (options.keepState === false) {
      this.current = new EmulatedServer({
        ...this.options,
        // A fresh server: new data directory, new server id.
        serverId: BigInt(randomInt(1, 2 ** 47)),
      });
    } else {
      for (const trx of this.current.runningTransactions()) {
        this.current.abortTransaction(trx.database, trx.id);
      }
    }
    this.front = await listenFront(this.current, this.options, this, this.port);
    this.front.http.faults.push(...rules);
  }

  async save(): Promise<void> {
    const path = this.options.persistPath;
    if (path === undefined) return;
    const state = this.current;
    // Saves run one after the other; each writes the state as it is when it starts.
    this.saving = this.saving.catch(() => undefined).then(() => saveState(path, state));
    return this.saving;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.persistTimer !== undefined) clearInterval(this.persistTimer);
    this.front.replication.stop();
    await this.front.http.close();
    await this.save();
  }
}

async function listenFront(
  state: EmulatedServer,
  options: StartOptions,
  control: ControlTarget,
  port: number,
): Promise<Front & { url: string }> {
  const router = new Router();
  const http = new EmulatorHttpServer(state, router);
  registerRestRoutes(router, state, http);
  const replication = registerReplicationRoutes(router, state, options.replication);
  if (options.controlApi === true) registerControlRoutes(router, control);
  try {
    const url = await http.listen(port, options.host ?? "127.0.0.1");
    return { http, replication, url };
  } catch (error) {
    replication.stop();
    throw error;
  }
}

async function initialState(options: StartOptions): Promise<EmulatedServer> {
  const saved =
    options.persistPath === undefined ? undefined : await loadState(options.persistPath);
  if (saved === undefined) return new EmulatedServer(options);
  const restored = restoreState(saved);
  const state = new EmulatedServer({
    ...options,
    serverId: restored.serverId,
    restoredState: restored.restoredState,
  });
  state.users.clear();
  for (const [name, user] of restored.users) state.users.set(name, user);
  state.readOnly = restored.readOnly;
  return state;
}

export async function startEmulator(options: StartOptions = {}): Promise<Emulator> {
  const state = await initialState(options);
  // The control routes need the emulator object, which needs the listening front: a forwarding
  // target bridges the two.
  const started: { emulator?: RunningEmulator } = {};
  const running = (): RunningEmulator => {
    if (started.emulator === undefined) throw new Error("emulator not started");
    return started.emulator;
  };
  const target: ControlTarget = {
    get faults() {
      return running().faults;
    },
    pruneWal: (prune) => running().pruneWal(prune),
    restart: (restart) => running().restart(restart),
  };
  const front = await listenFront(state, options, target, options.port ?? 0);
  const emulator = new RunningEmulator(state, front.url, front.http.port, front, options);
  started.emulator = emulator;
  return emulator;
}
