/**
 * Keeps secrets out of everything the daemon writes for people: log lines and `/status`
 * (DESIGN.md §2 invariant 7). Two layers, because either alone leaks:
 * - structure: fields named like secrets (`password`, `token`, `authorization`, …) are censored
 *   whatever they hold;
 * - text: the configured secrets themselves (and their URL- and JSON-encoded forms), the password
 *   part of any `scheme://user:password@host`, `password=` query parameters and bearer/basic
 *   credentials are masked wherever they appear, e.g. inside an error message that quotes a
 *   connection string.
 */
import type { Config } from "../config/config-schema.js";

export const MASK = "***";
export const CENSORED = "[redacted]";

/**
 * A configured secret shorter than this is masked only where the structure shows it is one
 * (a field name, a URL's password): masking every occurrence of, say, "ab" would garble every
 * line without protecting anything.
 */
export const MIN_MASKED_SECRET_LENGTH = 4;

/** Field names whose values are secrets, whatever they hold (compared case-insensitively). */
export const SECRET_FIELD_NAMES = [
  "password",
  "passwd",
  "token",
  "adminToken",
  "authorization",
  "secret",
  "apiKey",
] as const;

const SECRET_FIELDS = new Set(SECRET_FIELD_NAMES.map((name) => name.toLowerCase()));

// The user part may not contain ':' '/' or '@'; the password runs to the LAST '@' before the
// next space or quote, so a password with an unencoded '@' is masked whole (at worst, more
// than the password is masked, never less). The bounds keep the scan linear on long lines; a
// configured password longer than that is still masked as a literal.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/@"'<>]{0,128}:)[^\s"'<>]{0,256}@/gi;
const QUERY_SECRET = /([?&](?:password|sslpassword|pass|pwd|token|access_token)=)[^&\s"'#<>]+/gi;
// Credentials are long; requiring 8 characters spares ordinary words after "Basic".
const AUTH_HEADER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** `postgres://sync:secret@db/atspro` → `postgres://sync:***@db/atspro`; also `?password=`. */
export function redactUrl(text: string): string {
  return text
    .replace(URL_CREDENTIALS, `$1${MASK}@`)
    .replace(QUERY_SECRET, `$1${MASK}`)
    .replace(AUTH_HEADER, `$1 ${MASK}`);
}

export function isSecretField(name: string): boolean {
  return SECRET_FIELDS.has(name.toLowerCase());
}

/** The secrets a config holds: the ArangoDB password, the admin token, the PostgreSQL password. */
export function secretsOf(config: Pick<Config, "arango" | "postgres" | "http">): string[] {
  const secrets: string[] = [];
  if (config.arango.password !== undefined) secrets.push(config.arango.password);
  if (config.http.adminToken !== undefined) secrets.push(config.http.adminToken);
  if (config.postgres.url !== undefined) {
    try {
      const { password } = new URL(config.postgres.url);
      if (password !== "") secrets.push(password, safeDecode(password));
    } catch {
      // Validated as a URL by the config schema; nothing to add if it is not one.
    }
  }
  return secrets;
}

export interface Redactor {
  /** Masks secrets in a plain string (a value, a message). */
  text(value: string): string;
  /** Masks secrets in serialized JSON, where they appear JSON-escaped. */
  jsonText(line: string): string;
  /** A deep copy of a JSON-like value with secret fields censored and every string masked. */
  value(value: unknown): unknown;
}

export function createRedactor(secrets: readonly (string | undefined)[]): Redactor {
  const literal = [
    ...new Set(
      secrets.filter((s): s is string => s !== undefined && s.length >= MIN_MASKED_SECRET_LENGTH),
    ),
  ];
  // Longest first, so a secret that contains another is masked whole.
  const forms = (encode: (s: string) => string): string[] =>
    [...new Set(literal.flatMap((s) => [encode(s), encodeURIComponent(s)]))].sort(
      (a, b) => b.length - a.length,
    );
  const plainForms = forms((s) => s);
  const jsonForms = forms((s) => JSON.stringify(s).slice(1, -1));

  const mask = (text: string, variants: readonly string[]): string => {
    let out = text;
    for (const variant of variants) {
      if (out.includes(variant)) out = out.replaceAll(variant, MASK);
    }
    return redactUrl(out);
  };

  const deep = (value: unknown, seen: WeakSet<object>): unknown => {
    if (typeof value === "string") return mask(value, plainForms);
    if (typeof value === "bigint") return value.toString();
    if (typeof value !== "object" || value === null) return value;
    if (seen.has(value)) return "[circular]";
    seen.add(value);
    if (Array.isArray(value)) return value.map((item: unknown) => deep(item, seen));
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] =
        isSecretField(key) && inner !== undefined && inner !== null ? CENSORED : deep(inner, seen);
    }
    return out;
  };

  return {
    text: (value) => mask(value, plainForms),
    jsonText: (line) => mask(line, jsonForms),
    value: (value) => deep(value, new WeakSet()),
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
