/**
 * The WAL tail as a pull-based source: each `next()` performs one `wal/tail` call, waiting first
 * when the previous call found nothing, and retrying failures with a bounded, jittered back-off.
 * The caller applies what it got before it asks again, which is the back-pressure of DESIGN.md §2
 * invariant 6: nothing is fetched that the target has not made room for.
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

  constructor(
    private readonly api: ReplicationApi,
    private position: TailPosition,
    private readonly options: WalTailerOptions,
    private readonly backoff = new PollBackoff(),
  ) {}

  get current(): TailPosition {
    return this.position;
  }

  /** Moves the tail (after a re-snapshot, the new batch's tick). */
  reset(position: TailPosition): void {
    this.position = position;
    this.waitBeforeNextMs = 0;
  }

  async next(signal?: AbortSignal): Promise<TailChunk> {
    if (this.waitBeforeNextMs > 0) await sleep(this.waitBeforeNextMs, signal);
    for (;;) {
      signal?.throwIfAborted();
      try {
        const requested = this.position;
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
        this.position = step.next;
        if (step.pollAgainNow) {
          this.backoff.busy();
          this.waitBeforeNextMs = 0;
        } else {
          this.waitBeforeNextMs = this.backoff.idle();
        }
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
