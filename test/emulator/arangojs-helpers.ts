/**
 * Helpers for the tests that drive the emulator with the unchanged arangojs driver: start an
 * in-process emulator with a root connection, assert ArangoDB errors, and read the WAL batches
 * a step wrote.
 */
import { Database } from "arangojs";
import type { ProcessedResponse } from "arangojs/connection";
import { isArangoError } from "arangojs/errors";
import { expect } from "vitest";
import { startEmulator, type Emulator, type StartOptions } from "../../src/emulator/emulator.js";
import type { WalRecord, WriteBatch } from "../../src/emulator/write-ahead-log.js";

export interface Running {
  emulator: Emulator;
  /** arangojs connected to `_system` as root. */
  db: Database;
}

export async function startWithArangojs(options: StartOptions = {}): Promise<Running> {
  const emulator = await startEmulator({ port: 0, ...options });
  const db = new Database({
    url: emulator.url,
    auth: { username: "root", password: options.rootPassword ?? "" },
  });
  return { emulator, db };
}

export async function stop(running: Running | undefined): Promise<void> {
  running?.db.close();
  await running?.emulator.close();
}

/**
 * A request through arangojs's own connection (same headers, auth and error handling) that
 * returns the whole response, for status codes and headers the driver's methods do not expose.
 */
export function send(
  db: Database,
  request: {
    method: string;
    pathname: string;
    body?: unknown;
    search?: Record<string, string>;
    headers?: Record<string, string>;
  },
): Promise<ProcessedResponse> {
  return db.request(request, false);
}

/** Awaits a rejection with an ArangoError and checks its numbers (and message, if given). */
export async function expectArangoError(
  promise: Promise<unknown>,
  expected: { errorNum: number; code: number; message?: string | RegExp },
): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isArangoError(error), `expected an ArangoError, got ${String(error)}`).toBe(true);
  if (!isArangoError(error)) return;
  expect({ errorNum: error.errorNum, code: error.code }).toEqual({
    errorNum: expected.errorNum,
    code: expected.code,
  });
  if (typeof expected.message === "string") expect(error.message).toBe(expected.message);
  else if (expected.message !== undefined) expect(error.message).toMatch(expected.message);
}

/** The WAL batches appended after `since` (a `wal.lastSequence` read before the step). */
export function batchesAfter(emulator: Emulator, since: bigint): WriteBatch[] {
  return emulator.state.wal.retainedBatches.filter((batch) => batch.start > since);
}

/** The records of those batches as `kind`/`tid` pairs, the shape a test compares. */
export function recordShapes(batches: readonly WriteBatch[]): { kind: string; tid?: string }[] {
  return batches.flatMap((batch) =>
    batch.records.map((record: WalRecord) =>
      "tid" in record ? { kind: record.kind, tid: record.tid } : { kind: record.kind },
    ),
  );
}
