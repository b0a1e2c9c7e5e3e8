/**
 * The WAL tail as a pull-based source: each `next()` returns one `wal/tail` response, waiting
 * first when the previous call found nothing, and retrying failures with a bounded, jittered
 * back-off.
 *
 * When a response says the server has more, the next request is sent at once, before the caller
 * has applied this one: fetching chunk n+1 overlaps applying chunk n. The read-ahead is one
 * request deep, so the back-pressure of DESIGN.md §2 invariant 6 holds with one chunk of slack:
 * nothing further is fetched until the caller has taken that chunk. Requests stay sequential
 * and in order, and `current` is the position after the last chunk handed out, never after
 * the one read ahead, so what a checkpoint records never runs ahead of what was applied.
 */
import { SyncError } from "../errors.js";
import type { ReplicationApi, TailResponse } from "./replication-api.js";
import {
  PollBackoff,
  type TailPosition,
  type TailStep,
  nextTailPosition,
} from "./tail-position.js";

export interface TailChunk {
  /** The position this chunk was requested at. */
  requested: TailPosition;
  response: TailResponse;
  step: TailStep;
  /** How long the `wal/tail` call took (the wait before it not included). */
  durationMs: number;
}

export interface WalTailerOptions {
  chunkSize: number;
  /** Consecutive failed calls after which the tailer gives up (exit code 69). */
  retryBudget: number;
  onRetry?: (error: SyncError, attempt: number, waitMs: number) => void;
}

export class WalTailer {
  private waitBeforeNextMs = 0;
  /** The request sent ahead at `position`, when the last chunk said there is more. */
  private ahead: Promise<TailChunk> | undefined;

  constructor(
    private readonly api: ReplicationApi,
    private position: TailPosition,
    private readonly options: WalTailerOptions,
    private readonly backoff = new PollBackoff(),
  ) {}

  get current(): TailPosition {
    return this.position;
  }

  /** Moves the tail (after a re-snapshot, the new batch's tick); a read-ahead is dropped. */
  reset(position: TailPosition): void {
    this.position = position;
    this.waitBeforeNextMs = 0;
    this.ahead = undefined;
  }

  async next(signal?: AbortSignal): Promise<TailChunk> {
    const ahead = this.ahead;
    this.ahead = undefined;
    let chunk: TailChunk;
    if (ahead !== undefined) {
      chunk = await ahead;
    } else {
      if (this.waitBeforeNextMs > 0) await sleep(this.waitBeforeNextMs, signal);
      chunk = await this.fetch(this.position, signal);
    }
    this.position = chunk.step.next;
    if (chunk.step.pollAgainNow) {
      this.backoff.busy();
      this.waitBeforeNextMs = 0;
      if (!chunk.step.gap) {
        const request = this.fetch(this.position, signal);
        // Observed here too: a read-ahead nobody takes (a stop, a reset) must not surface as an
        // unhandled rejection; the one that is taken rethrows in the await above.
        request.catch(() => undefined);
        this.ahead = request;
      }
    } else {
      this.waitBeforeNextMs = this.backoff.idle();
    }
    return chunk;
  }

  /** One `wal/tail` call at `requested`, retried within the budget. */
  private async fetch(requested: TailPosition, signal?: AbortSignal): Promise<TailChunk> {
    for (;;) {
      signal?.throwIfAborted();
      try {
        // The server splits a huge transaction across responses only when lastScanned > 0
        // (arangodb-protocol.md §4.3); with none known yet, `from` itself is a lastScanned that
        // changes nothing else (it is not below `from`, so the scan still starts at `from`).
        const lastScanned = requested.lastScanned > 0n ? requested.lastScanned : requested.from;
        const started = performance.now();
        const response = await this.api.tail({
          from: requested.from,
          lastScanned,
          chunkSize: this.options.chunkSize,
        });
        if (response.body !== "" && !response.body.endsWith("\n")) {
          throw new SyncError("SOURCE_UNAVAILABLE", "wal/tail body ended mid-line", {
            retryable: true,
          });
        }
        const step = nextTailPosition(requested, response);
        return { requested, response, step, durationMs: performance.now() - started };
      } catch (error) {
        const failure =
          error instanceof SyncError
            ? error
            : new SyncError("SOURCE_UNAVAILABLE", String(error), { cause: error, retryable: true });
        if (!failure.retryable) throw failure;
        const { waitMs, consecutiveFailures } = this.backoff.failed();
        if (consecutiveFailures > this.options.retryBudget) {
          throw new SyncError(
            "SOURCE_UNAVAILABLE",
            `ArangoDB unavailable after ${consecutiveFailures} attempts: ${failure.message}`,
            { cause: failure },
          );
        }
        this.options.onRetry?.(failure, consecutiveFailures, waitMs);
        await sleep(waitMs, signal);
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
