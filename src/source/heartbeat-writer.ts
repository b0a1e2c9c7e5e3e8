/**
 * The optional heartbeat (`sync.heartbeat`): a tiny document written to its own ArangoDB
 * collection every few seconds. Its WAL marker travels the whole pipeline like any change of an
 * unmapped collection (tailed, counted, skipped, checkpointed), so the lag and the latency stay
 * measured while the application writes nothing, and a stalled pipeline shows up as a rising lag
 * rather than as a reassuring silence.
 *
 * One document per daemon, keyed by its syncerId, replaced on every beat: the collection never
 * grows.
 */
import { Database } from "arangojs";
import { isArangoError } from "arangojs/errors";
import type { SyncError } from "../errors.js";
import { type ArangoConnection, classifySourceError } from "./replication-api.js";

export interface HeartbeatOptions {
  /** The collection to write to; created when missing. Must not be mapped. */
  readonly collection: string;
  readonly intervalMs: number;
  /** The document key: one per daemon (its syncerId). */
  readonly key: string;
  /** Stored in the document, so a person looking at the collection knows who writes it. */
  readonly writer: string;
  /** A failed beat; the next one is tried at the next interval all the same. */
  readonly onError?: (error: SyncError) => void;
  /** A beat written. */
  readonly onWritten?: () => void;
}

/** ArangoDB's "duplicate name": another process created the collection first. */
const DUPLICATE_NAME = 1207;
/** ArangoDB's "data source not found": the collection was dropped behind our back. */
const NOT_FOUND = 1203;

export class HeartbeatWriter {
  private readonly db: Database;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;
  private collectionReady = false;

  constructor(
    connection: ArangoConnection,
    private readonly options: HeartbeatOptions,
  ) {
    this.db = new Database({
      url: connection.url,
      databaseName: connection.database,
      ...(connection.username === undefined
        ? {}
        : { auth: { username: connection.username, password: connection.password ?? "" } }),
      // A missed beat is simply followed by the next one: no retries behind the interval.
      maxRetries: 0,
    });
  }

  /** Creates the collection when it does not exist yet. */
  async ensureCollection(): Promise<void> {
    const collection = this.db.collection(this.options.collection);
    try {
      if (await collection.exists()) return;
      await this.db.createCollection(this.options.collection);
    } catch (error) {
      if (isArangoError(error) && error.errorNum === DUPLICATE_NAME) return;
      throw classifySourceError(`heartbeat collection ${this.options.collection}`, error);
    }
  }

  /** Writes one beat now, creating the collection first when it is not known to exist. */
  async beat(): Promise<void> {
    if (!this.collectionReady) {
      await this.ensureCollection();
      this.collectionReady = true;
    }
    try {
      await this.db.collection(this.options.collection).save(
        {
          _key: this.options.key,
          writer: this.options.writer,
          writtenAt: new Date().toISOString(),
        },
        { overwriteMode: "replace" },
      );
      this.options.onWritten?.();
    } catch (error) {
      if (isArangoError(error) && error.errorNum === NOT_FOUND) this.collectionReady = false;
      throw classifySourceError(`heartbeat write to ${this.options.collection}`, error);
    }
  }

  /** Beats now, then every interval until `stop()`; a beat never overlaps the previous one. */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    const schedule = (delayMs: number): void => {
      this.timer = setTimeout(() => {
        this.inFlight = this.beat()
          .catch((error: unknown) => {
            this.options.onError?.(error as SyncError);
          })
          .finally(() => {
            if (!this.stopped) schedule(this.options.intervalMs);
          });
      }, delayMs);
      // The heartbeat alone must not keep a stopping process alive.
      this.timer.unref();
    };
    schedule(0);
  }

  /** Stops beating, waits for a beat in flight, closes the connection. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    this.db.close();
  }
}
