/**
 * WAL ticks are RocksDB sequence numbers: uint64 sent as decimal strings
 * (arangodb-protocol.md §8). They are kept as `bigint` everywhere; a JS number would silently
 * lose precision above 2^53.
 */
export type Tick = bigint;

export const MAX_TICK: Tick = 2n ** 64n - 1n;

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses a decimal uint64 string; returns undefined for anything else. */
export function parseTick(text: string | null | undefined): Tick | undefined {
  if (text === null || text === undefined || !DECIMAL.test(text)) return undefined;
  const value = BigInt(text);
  return value <= MAX_TICK ? value : undefined;
}

export function maxTick(a: Tick, b: Tick): Tick {
  return a > b ? a : b;
}

export function minTick(a: Tick, b: Tick): Tick {
  return a < b ? a : b;
}
