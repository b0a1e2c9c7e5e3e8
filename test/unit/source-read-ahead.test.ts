/**
 * The source reads one chunk ahead (the WAL tail and the snapshot dump): the next request is on
 * its way while the caller applies the current chunk, without running ahead of what was handed
 * out in the positions a checkpoint records. The replication API here is a scripted stand-in
 * (the HTTP side is tested against the emulator elsewhere); only the request order matters.
 */
import { describe, expect, it } from "vitest";
import { SyncError } from "../../src/errors.js";
import type {
  DumpChunk,
  ReplicationApi,
  TailRequest,
  TailResponse,
} from "../../src/source/replication-api.js";
import { SnapshotReader } from "../../src/source/snapshot-reader.js";
import { PollBackoff } from "../../src/source/tail-position.js";
import { WalTailer } from "../../src/source/wal-tailer.js";

function response(lastIncluded: bigint, checkMore: boolean): TailResponse {
  return {
    body: lastIncluded > 0n ? `{"tick":"${lastIncluded}","type":2300}\n` : "",
    lastIncluded,
    lastScanned: lastIncluded,
    lastTick: 100n,
    fromPresent: true,
    checkMore,
  };
}

/** A tail endpoint answering from a script, recording every request's `from`. */
function scriptedTail(answers: (TailResponse | Error)[]): {
  api: ReplicationApi;
  requests: bigint[];
} {
  const requests: bigint[] = [];
  const api = {
    tail(request: TailRequest): Promise<TailResponse> {
      requests.push(request.from);
      const answer = answers.shift() ?? response(0n, false);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as unknown as ReplicationApi;
  return { api, requests };
}

const noWait = (): PollBackoff =>
  new PollBackoff({ idleMinMs: 0, idleMaxMs: 0, idleRoundsPerStep: 1, errorMaxMs: 0 }, () => 0);

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("WAL tail read-ahead", () => {
  it("asks for the next chunk while the caller holds this one, and reports only what it handed out", async () => {
    const { api, requests } = scriptedTail([response(10n, true), response(20n, false)]);
    const tailer = new WalTailer(
      api,
      { from: 5n, lastScanned: 0n },
      { chunkSize: 1024, retryBudget: 0 },
      noWait(),
    );
    const first = await tailer.next();
    await tick();
    expect(first.response.lastIncluded).toBe(10n);
    expect(requests).toEqual([5n, 10n]);
    // The read-ahead's answer (up to 20) is in, but the caller has not taken it.
    expect(tailer.current).toEqual({ from: 10n, lastScanned: 10n });
    const second = await tailer.next();
    expect(second.requested.from).toBe(10n);
    expect(second.response.lastIncluded).toBe(20n);
    expect(tailer.current.from).toBe(20n);
    // Nothing more: no request is sent ahead of an answer without checkmore.
    await tick();
    expect(requests).toEqual([5n, 10n]);
  });

  it("drops the read-ahead on reset and asks at the new position", async () => {
    const { api, requests } = scriptedTail([
      response(10n, true),
      response(20n, true),
      response(70n, false),
    ]);
    const tailer = new WalTailer(
      api,
      { from: 5n, lastScanned: 0n },
      { chunkSize: 1024, retryBudget: 0 },
      noWait(),
    );
    await tailer.next();
    tailer.reset({ from: 60n, lastScanned: 0n });
    const chunk = await tailer.next();
    expect(chunk.requested.from).toBe(60n);
    expect(requests).toEqual([5n, 10n, 60n]);
  });

  it("surfaces a failed read-ahead when it is taken, and never when it is not", async () => {
    const fatal = new SyncError("SOURCE_PROTOCOL", "refused", { retryable: false });
    const taken = scriptedTail([response(10n, true), fatal]);
    const tailer = new WalTailer(
      taken.api,
      { from: 5n, lastScanned: 0n },
      { chunkSize: 1024, retryBudget: 0 },
      noWait(),
    );
    await tailer.next();
    await expect(tailer.next()).rejects.toBe(fatal);

    // Not taken: the process sees no unhandled rejection.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const dropped = scriptedTail([response(10n, true), fatal]);
      const other = new WalTailer(
        dropped.api,
        { from: 5n, lastScanned: 0n },
        { chunkSize: 1024, retryBudget: 0 },
        noWait(),
      );
      await other.next();
      other.reset({ from: 5n, lastScanned: 0n });
      await tick();
      await tick();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

describe("snapshot dump read-ahead", () => {
  it("requests the next chunk before the caller asks for it, one at a time and in order", async () => {
    const chunks: DumpChunk[] = [
      { body: '{"_key":"a"}\n{"_key":"b"}\n', checkMore: true },
      { body: '{"_key":"c"}\n', checkMore: true },
      { body: "", checkMore: false },
    ];
    let requested = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const api = {
      async dump(): Promise<DumpChunk> {
        requested += 1;
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await tick();
        inFlight -= 1;
        return chunks.shift() ?? { body: "", checkMore: false };
      },
    } as unknown as ReplicationApi;
    const reader = new SnapshotReader(api, { ttlSeconds: 60, chunkSize: 1024 });
    const seen: string[][] = [];
    const requestedWhenHandedOut: number[] = [];
    for await (const lines of reader.documents("batch", "resumes")) {
      // While the caller holds a chunk, the next request is already out.
      requestedWhenHandedOut.push(requested);
      seen.push(lines);
      await tick();
    }
    expect(seen).toEqual([['{"_key":"a"}', '{"_key":"b"}'], ['{"_key":"c"}']]);
    expect(requestedWhenHandedOut).toEqual([2, 3]);
    expect(requested).toBe(3);
    expect(mostInFlight).toBe(1);
  });
});
