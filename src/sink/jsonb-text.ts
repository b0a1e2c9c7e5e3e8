/**
 * JSON text that `jsonb` refuses although it is valid JSON: a `\u0000` escape ("unsupported
 * Unicode escape sequence") or an escaped surrogate without its partner. ArangoDB stores both
 * (PDF-extracted resume text has NULs; `JSON.stringify` writes a lone surrogate as `\udXXX`).
 * One such document must not abort the batch that carries it: the daemon would stop for good
 * on an event it can never write (DESIGN.md §2 invariant 4).
 *
 * Works on the text, without parsing: the escape is recognised only when it is not itself an
 * escaped backslash followed by the letter `u` (an even run of backslashes before the `u`).
 */

/** A backslash run, then `u` and the code: NUL, a surrogate pair, or a single surrogate. */
const ESCAPE = /(\\+)u(0000|d[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|d[89a-f][0-9a-f]{2})/gi;

/**
 * The text with every escape `jsonb` refuses made storable the way the mapping makes values
 * storable (src/mapping/storable-text.ts): NUL removed, a lone surrogate replaced by U+FFFD.
 * Returns the same string when there is nothing to change.
 */
export function jsonbStorableText(json: string): string {
  if (!json.includes("\\u")) return json;
  return json.replace(ESCAPE, (match, slashes: string, code: string) => {
    // An even run is escaped backslashes: the `u` that follows is a plain letter.
    if (slashes.length % 2 === 0 || code.length > 4) return match;
    const kept = slashes.slice(1);
    return code === "0000" ? kept : `${kept}\\ufffd`;
  });
}

/** Whether `jsonb` would refuse this (otherwise valid) JSON text. */
export function jsonbRefuses(json: string): boolean {
  return jsonbStorableText(json) !== json;
}
