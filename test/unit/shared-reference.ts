/**
 * Reads the shared reference material the unit tests check against (recorded ArangoDB examples,
 * the protocol notes, the ATSPro fixtures). It sits next to the repository; SYNC_SHARED_DIR
 * points elsewhere. A missing folder fails the tests that need it, loudly.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const SHARED_DIR =
  process.env["SYNC_SHARED_DIR"] ?? fileURLToPath(new URL("../../../shared/", import.meta.url));

export function readShared(...segments: string[]): string {
  return readFileSync(join(SHARED_DIR, ...segments), "utf8");
}

export function readSharedJson(...segments: string[]): unknown {
  return JSON.parse(readShared(...segments));
}
