/**
 * ISO-8601 strings → canonical UTC text for a `timestamptz` column.
 *
 * ATSPro writes naive UTC (`datetime.utcnow().isoformat()`, e.g. `2025-08-17T13:05:00.563112`,
 * fraction omitted when it is zero) and, later, `+00:00` offsets (atspro/shapes.md §2). A naive
 * value is read as UTC, never in the server's or the session's time zone, so the row does not
 * depend on where the daemon runs.
 *
 * Microseconds survive: the arithmetic is done in bigint microseconds, not through `Date` (which
 * keeps milliseconds). More than six fraction digits are rounded half-to-even to microseconds, as
 * PostgreSQL does. Output: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, trailing fraction zeros dropped, so
 * equal instants produce equal text.
 */
export type TimestampResult =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly detail: string };

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?)?$/i;

const MICROS_PER_MS = 1000n;
const MICROS_PER_MINUTE = 60_000_000n;
/** PostgreSQL's timestamptz reaches further, but the ISO text form used here has 4-digit years. */
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

export function parseTimestamp(text: string): TimestampResult {
  const match = ISO_TIMESTAMP.exec(text);
  if (match === null) return invalid(text, "is not an ISO-8601 date-time");
  const [, y, mo, d, h, mi, s, fraction, , sign, offsetHours, offsetMinutes] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? "0");
  const minute = Number(mi ?? "0");
  const second = Number(s ?? "0");
  if (year < MIN_YEAR) return invalid(text, "has a year before 0001");
  if (month < 1 || month > 12) return invalid(text, "has a month outside 01-12");
  if (day < 1 || day > daysInMonth(year, month)) return invalid(text, "has no such day");
  if (minute > 59) return invalid(text, "has minutes outside 00-59");
  // 60 is a leap second and 24:00:00 the end of the day: PostgreSQL accepts both and rolls over.
  if (second > 60) return invalid(text, "has seconds outside 00-60");
  const fractionDigits = fraction ?? "";
  const endOfDay = hour === 24 && minute === 0 && second === 0 && /^0*$/.test(fractionDigits);
  if (hour > 23 && !endOfDay) return invalid(text, "has hours outside 00-23");

  let offset = 0n;
  if (sign !== undefined) {
    const oh = Number(offsetHours);
    const om = Number(offsetMinutes ?? "0");
    if (oh > 15 || om > 59) return invalid(text, "has an offset outside ±15:59");
    offset = BigInt((oh * 60 + om) * (sign === "-" ? -1 : 1)) * MICROS_PER_MINUTE;
  }

  const wholeSeconds = utcMilliseconds(year, month, day, hour, minute, second);
  const micros = wholeSeconds * MICROS_PER_MS + fractionToMicros(fractionDigits) - offset;
  const canonical = formatMicros(micros);
  if (canonical === undefined) return invalid(text, "is outside years 0001-9999 in UTC");
  return { ok: true, text: canonical };
}

/** Milliseconds since 1970 as canonical UTC text (for `_rev` write times). */
export function formatEpochMilliseconds(ms: number): string | undefined {
  if (!Number.isSafeInteger(ms)) return undefined;
  return formatMicros(BigInt(ms) * MICROS_PER_MS);
}

function invalid(text: string, problem: string): TimestampResult {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return { ok: false, detail: `${JSON.stringify(shown)} ${problem}` };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function utcMilliseconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): bigint {
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return BigInt(date.getTime());
}

/** Up to nine digits → microseconds, rounding half to even beyond the sixth digit. */
function fractionToMicros(digits: string): bigint {
  if (digits.length <= 6) return BigInt(digits.padEnd(6, "0"));
  const kept = BigInt(digits.slice(0, 6));
  const rest = digits.slice(6);
  const half = "5".padEnd(rest.length, "0");
  if (rest > half || (rest === half && kept % 2n === 1n)) return kept + 1n;
  return kept;
}

function formatMicros(micros: bigint): string | undefined {
  const ms = floorDiv(micros, MICROS_PER_MS);
  const subMs = micros - ms * MICROS_PER_MS;
  const date = new Date(Number(ms));
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < MIN_YEAR || year > MAX_YEAR) return undefined;
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ for years 0000-9999
  const fraction = (iso.slice(20, 23) + subMs.toString().padStart(3, "0")).replace(/0+$/, "");
  return `${iso.slice(0, 19)}${fraction.length > 0 ? `.${fraction}` : ""}Z`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? quotient - 1n : quotient;
}
