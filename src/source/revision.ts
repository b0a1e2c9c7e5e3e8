/**
 * ArangoDB `_rev` values: a 64-bit hybrid-logical-clock value, `(ms since 1970 << 20) + counter`,
 * written big-endian in base 64 with an order-preserving alphabet and no leading padding
 * (lib/Basics/HybridLogicalClock.cpp, arangodb-protocol.md §10). Pure: the emulator uses the
 * encoder, the daemon the decoder (write time for lag metrics).
 */
const ALPHABET = "-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DECODE = new Map(Array.from(ALPHABET, (c, i) => [c, BigInt(i)]));
const COUNTER_BITS = 20n;
const COUNTER_MASK = (1n << COUNTER_BITS) - 1n;
/** Revisions at or below this (a 2016 cut-off) are printed as plain decimal numbers by ArangoDB. */
const LEGACY_DECIMAL_LIMIT = 1n << 50n;

export function encodeRevision(value: bigint): string {
  if (value <= 0n) return "";
  let text = "";
  let rest = value;
  while (rest > 0n) {
    text = ALPHABET.charAt(Number(rest & 63n)) + text;
    rest >>= 6n;
  }
  return text;
}

/** Decodes a `_rev`; undefined when it is neither an HLC string nor a legacy decimal revision. */
export function decodeRevision(rev: string): bigint | undefined {
  if (rev.length === 0 || rev.length > 11) {
    return /^[0-9]{1,20}$/.test(rev) ? BigInt(rev) : undefined;
  }
  let value = 0n;
  for (const char of rev) {
    const digit = DECODE.get(char);
    if (digit === undefined) return undefined;
    value = (value << 6n) | digit;
  }
  return value;
}

export function revisionFromTime(ms: number, counter = 0): bigint {
  return (BigInt(ms) << COUNTER_BITS) + BigInt(counter);
}

/** The wall-clock write time (ms since 1970) a revision carries, if it carries one. */
export function revisionTimeMs(rev: string): number | undefined {
  const value = decodeRevision(rev);
  if (value === undefined || value <= LEGACY_DECIMAL_LIMIT) return undefined;
  return Number(value >> COUNTER_BITS);
}

export function revisionCounter(value: bigint): number {
  return Number(value & COUNTER_MASK);
}

/**
 * A hybrid logical clock: never goes backwards, even when the wall clock does, by counting
 * within the last millisecond it has seen (HybridLogicalClock::getTimeStamp).
 */
export class HybridLogicalClock {
  private last = 0n;

  constructor(private readonly now: () => number = Date.now) {}

  next(): bigint {
    const physical = BigInt(this.now());
    const lastTime = this.last >> COUNTER_BITS;
    this.last =
      physical <= lastTime
        ? (lastTime << COUNTER_BITS) + (this.last & COUNTER_MASK) + 1n
        : physical << COUNTER_BITS;
    return this.last;
  }

  /** Moves the clock past a revision seen elsewhere (restart from persisted state). */
  observe(value: bigint): void {
    if (value > this.last) this.last = value;
  }

  nextRevision(): string {
    return encodeRevision(this.next());
  }
}
