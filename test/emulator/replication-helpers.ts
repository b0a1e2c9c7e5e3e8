/**
 * Helpers for the replication tests: raw HTTP against an in-process emulator (plain fetch, so
 * headers can be checked exactly), writes through the storage engine, and NDJSON parsing.
 */
import http from "node:http";
import type { CollectionState, DatabaseState, StoredDocument } from "../../src/emulator/catalog.js";
import type { EmulatedServer } from "../../src/emulator/emulated-server.js";

export const ROOT = `Basic ${Buffer.from("root:").toString("base64")}`;

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Bytes of the body as received. */
  bytes: number;
}

export interface RequestInit {
  method?: string;
  body?: unknown;
  authorization?: string | null;
  /**
   * Send on a connection of its own instead of fetch's keep-alive pool. After the emulator cut
   * every connection (a restart), the pool may not have seen a socket close yet and would send on
   * it; a real client gets the same error there and retries.
   */
  newConnection?: boolean;
}

export async function request(
  url: string,
  path: string,
  init: RequestInit = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (init.authorization !== null) headers["authorization"] = init.authorization ?? ROOT;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  }
  if (init.newConnection === true) {
    return requestOnNewConnection(`${url}${path}`, init.method ?? "GET", headers, body);
  }
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? "GET",
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const buffer = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    text: buffer.toString("utf8"),
    bytes: buffer.length,
  };
}

function requestOnNewConnection(
  target: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(target, { method, headers, agent: false }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => {
        const buffer = Buffer.concat(chunks);
        const received = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const one of [value ?? []].flat()) received.append(name, one);
        }
        resolve({
          status: incoming.statusCode ?? 0,
          headers: received,
          text: buffer.toString("utf8"),
          bytes: buffer.length,
        });
      });
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

export function header(response: RawResponse, name: string): string {
  const value = response.headers.get(name);
  if (value === null) throw new Error(`missing header ${name}`);
  return value;
}

export function tickHeader(response: RawResponse, name: string): bigint {
  return BigInt(header(response, `x-arango-replication-${name}`));
}

/** The x-arango-replication-* header names of a response, sorted. */
export function replicationHeaderNames(response: RawResponse): string[] {
  return [...response.headers.keys()]
    .filter((name) => name.startsWith("x-arango-replication-"))
    .sort();
}

export type Marker = Record<string, unknown> & { tick: string; type: number };

/** NDJSON lines; every line, the last included, must end with "\n". */
export function markersOf(text: string): Marker[] {
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Error("body does not end with a newline");
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as Marker);
}

export function json(response: RawResponse): Record<string, unknown> {
  return JSON.parse(response.text) as Record<string, unknown>;
}

// ------------------------------------------------------------------ engine writes

export function systemDatabase(state: EmulatedServer): DatabaseState {
  return state.database("_system");
}

export function createCollection(
  state: EmulatedServer,
  name: string,
  database: DatabaseState = systemDatabase(state),
  type: 2 | 3 = 2,
): CollectionState {
  return state.createCollection(database, { name, type });
}

export function insert(
  state: EmulatedServer,
  collection: CollectionState,
  body: Record<string, unknown>,
): StoredDocument {
  return state.write(collection, undefined, false, (writes) => {
    const result = state.insert(writes, collection, body, { returnNew: true });
    if (result.new === undefined) throw new Error("insert returned no document");
    return result.new;
  });
}

/** One multi-document request: its own transaction group (2200 … 2201) in one write batch. */
export function insertMany(
  state: EmulatedServer,
  collection: CollectionState,
  bodies: Record<string, unknown>[],
): void {
  state.write(collection, undefined, true, (writes) => {
    for (const body of bodies) state.insert(writes, collection, body, {});
  });
}

export function update(
  state: EmulatedServer,
  collection: CollectionState,
  key: string,
  body: Record<string, unknown>,
): void {
  state.write(collection, undefined, false, (writes) =>
    state.update(writes, collection, key, body, {}),
  );
}

export function remove(state: EmulatedServer, collection: CollectionState, key: string): void {
  state.write(collection, undefined, false, (writes) => state.remove(writes, collection, key, {}));
}

/** Writes inside one stream transaction, committed as one write batch. */
export function streamTransaction(
  state: EmulatedServer,
  collection: CollectionState,
  work: (put: (body: Record<string, unknown>) => void, drop: (key: string) => void) => void,
): string {
  const { database } = collection;
  const trx = state.beginTransaction(database, { write: [collection.name] });
  work(
    (body) => {
      state.write(collection, trx, false, (writes) => state.insert(writes, collection, body, {}));
    },
    (key) => {
      state.write(collection, trx, false, (writes) => state.remove(writes, collection, key, {}));
    },
  );
  state.commitTransaction(database, trx.id);
  return trx.id;
}

/** `logger-state` lastLogTick, as the recorded example scripts take it. */
export async function lastLogTick(url: string, database = "_system"): Promise<string> {
  const response = await request(url, `/_db/${database}/_api/replication/logger-state`);
  const state = json(response)["state"] as Record<string, unknown>;
  return String(state["lastLogTick"]);
}

/**
 * Follows the tail like arangodb-protocol.md §13 until the server has nothing more: `from`
 * advances to lastincluded, lastScanned is passed back (starting at `from`, as
 * api-replication-spec.rb "validates chunkSize restrictions" does, or at a previous response's
 * lastscanned). Returns every marker and the responses.
 */
export async function tailAll(
  url: string,
  from: bigint,
  query: Record<string, string> = {},
  options: { database?: string; lastScanned?: bigint } = {},
): Promise<{ markers: Marker[]; responses: RawResponse[]; from: bigint }> {
  const database = options.database ?? "_system";
  const markers: Marker[] = [];
  const responses: RawResponse[] = [];
  let lastScanned = options.lastScanned ?? from;
  for (let round = 0; round < 10_000; round++) {
    const search = new URLSearchParams({
      ...query,
      from: from.toString(),
      lastScanned: lastScanned.toString(),
    });
    const response = await request(url, `/_db/${database}/_api/wal/tail?${search.toString()}`);
    if (response.status !== 200 && response.status !== 204) {
      throw new Error(`tail answered ${response.status}: ${response.text}`);
    }
    responses.push(response);
    markers.push(...markersOf(response.text));
    const lastIncluded = tickHeader(response, "lastincluded");
    const scanned = tickHeader(response, "lastscanned");
    const progressed = lastIncluded > from;
    if (progressed) from = lastIncluded;
    else if (lastIncluded === 0n && scanned > from) from = scanned - 1n;
    lastScanned = scanned;
    if (!(header(response, "x-arango-replication-checkmore") === "true" && progressed)) {
      return { markers, responses, from };
    }
  }
  throw new Error("tail did not settle");
}
