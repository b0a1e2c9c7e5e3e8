/**
 * Replication clients a database keeps track of, so WAL files they still need are not pruned
 * (arangodb-protocol.md §4.3, §6.1, §11; Replication/ReplicationClients.cpp, SyncerId.cpp).
 *
 * - A client is keyed by its `syncerId` when set, else by its `serverId`; with neither it is not
 *   tracked at all (ReplicationClientsProgressTracker::getKey).
 * - `track` inserts or refreshes an entry; a refresh only moves `lastServedTick` when the new value
 *   is non-zero. `extend` refreshes the expiry of an existing entry and nothing else.
 * - A TTL of 0 or less means the default `BatchInfo::DefaultTimeout` of 7200 s.
 * - Expired entries are removed by a periodic garbage collection; until then they still count.
 */
import { ArangoError, ErrorNum } from "./arango-error.js";

/** `replutils::BatchInfo::DefaultTimeout` (Replication/utilities.h), in seconds. */
export const DEFAULT_REPLICATION_TTL_SECONDS = 7200;

const UINT64_MAX = 2n ** 64n - 1n;

/** The identity a replication request carries (`syncerId`, `serverId`, `clientInfo`). */
export interface ClientIdentity {
  /** 0n when unset. */
  syncerId: bigint;
  /** 0n when unset. */
  serverId: bigint;
  clientInfo: string;
}

interface ClientProgress extends ClientIdentity {
  lastSeen: number;
  expires: number;
  lastServedTick: bigint;
}

function keyOf(identity: ClientIdentity): string | undefined {
  if (identity.syncerId !== 0n) return `syncer:${identity.syncerId}`;
  if (identity.serverId !== 0n) return `server:${identity.serverId}`;
  return undefined;
}

function ttlMs(ttlSeconds: number): number {
  return (ttlSeconds > 0 ? ttlSeconds : DEFAULT_REPLICATION_TTL_SECONDS) * 1000;
}

/** `TRI_GetTimeStampReplication` / `utilities::timeString`: `YYYY-MM-DDTHH:MM:SSZ` in UTC. */
export function replicationTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** The clients of one database (`vocbase.replicationClients()`). */
export class ReplicationClients {
  private readonly clients = new Map<string, ClientProgress>();

  constructor(private readonly now: () => number) {}

  track(identity: ClientIdentity, lastServedTick: bigint, ttlSeconds: number): void {
    const key = keyOf(identity);
    if (key === undefined) return;
    const lastSeen = this.now();
    const expires = lastSeen + ttlMs(ttlSeconds);
    const existing = this.clients.get(key);
    if (existing === undefined) {
      this.clients.set(key, { ...identity, lastSeen, expires, lastServedTick });
      return;
    }
    existing.lastSeen = lastSeen;
    existing.expires = expires;
    if (lastServedTick > 0n) existing.lastServedTick = lastServedTick;
  }

  extend(identity: ClientIdentity, ttlSeconds: number): void {
    const key = keyOf(identity);
    if (key === undefined) return;
    const existing = this.clients.get(key);
    if (existing === undefined) return;
    existing.lastSeen = this.now();
    existing.expires = existing.lastSeen + ttlMs(ttlSeconds);
  }

  /** Removes entries that expired before `threshold` (ms since 1970). */
  garbageCollect(threshold: number): void {
    for (const [key, client] of this.clients) {
      if (client.expires < threshold) this.clients.delete(key);
    }
  }

  /** The lowest `lastServedTick` of all entries; undefined when there is none (UINT64_MAX). */
  lowestServedTick(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const client of this.clients.values()) {
      if (lowest === undefined || client.lastServedTick < lowest) lowest = client.lastServedTick;
    }
    return lowest;
  }

  get size(): number {
    return this.clients.size;
  }

  /** `clients[]` of logger-state, in the attribute order of `toVelocyPack`. */
  toJson(): Record<string, string>[] {
    return [...this.clients.values()].map((client) => ({
      syncerId: client.syncerId.toString(),
      serverId: client.serverId.toString(),
      clientInfo: client.clientInfo,
      time: replicationTime(client.lastSeen),
      expires: replicationTime(client.expires),
      lastServedTick: client.lastServedTick.toString(),
    }));
  }

  clear(): void {
    this.clients.clear();
  }
}

/**
 * `SyncerId::fromRequest`: absent means unset; otherwise non-empty, digits only, no leading zero,
 * non-zero and at most 2^64-1, else ERROR_BAD_PARAMETER (400, errorNum 10).
 */
export function parseSyncerId(value: string | null): bigint {
  if (value === null) return 0n;
  const invalid = (message: string): ArangoError =>
    new ArangoError(400, ErrorNum.BAD_PARAMETER, message);
  if (value === "") throw invalid("syncerId, if set, must not be empty");
  if (!/^[0-9]+$/.test(value)) throw invalid("syncerId must be an integer");
  if (value.startsWith("0")) {
    throw invalid(
      value.length === 1 ? "syncerId must be non-zero" : "syncerId must not begin with zero",
    );
  }
  const id = BigInt(value);
  // std::stoull reports out_of_range with the function name as its message.
  if (id > UINT64_MAX) throw invalid("syncerId is too large: stoull");
  return id;
}

/**
 * `StringUtils::uint64`: leading decimal digits (after optional blanks and `+`); anything else
 * reads as 0. Query parameters such as `from` and `serverId` are read this way, so `from=abc` is
 * `from=0`. Values above 2^64-1 are clamped here (the C++ overflow behaviour is not modelled).
 */
export function parseUint64(value: string | null, fallback = 0n): bigint {
  if (value === null) return fallback;
  const match = /^[ \t]*\+?([0-9]+)/.exec(value);
  if (match?.[1] === undefined) return 0n;
  const parsed = BigInt(match[1]);
  return parsed > UINT64_MAX ? UINT64_MAX : parsed;
}

/** `StringUtils::boolean`: true for `true`, `yes`, `on`, `y` and `1` (any case), else false. */
export function parseBoolean(value: string | null, fallback: boolean): boolean {
  if (value === null) return fallback;
  return ["true", "yes", "on", "y", "1"].includes(value.trim().toLowerCase());
}

/** The client identity of a replication request (`syncerId` validated, `serverId` lenient). */
export function clientIdentityOf(query: URLSearchParams): ClientIdentity {
  return {
    syncerId: parseSyncerId(query.get("syncerId")),
    serverId: parseUint64(query.get("serverId")),
    clientInfo: query.get("clientInfo") ?? "",
  };
}
