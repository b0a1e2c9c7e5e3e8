/**
 * Reads PostgreSQL's own change stream (logical replication, pgoutput) of the mirrored tables
 * and `arango_sync.checkpoint` (DESIGN.md §8), and reports two things the daemon cannot see from
 * its side of the connection:
 * - foreign writes: a transaction that changes a mirrored table without writing the checkpoint
 *   is not the daemon's (every transaction of the daemon that writes a mirrored table writes the
 *   checkpoint too), so someone else is writing to the mirror before cutover;
 * - visibility: when the daemon's rows reach the logical stream, so the latency from the write in
 *   ArangoDB to the row being visible downstream is measured end to end.
 *
 * The slot and the publication are created and dropped elsewhere (sink/change-stream-slot.ts);
 * this module only reads. It acknowledges a position only once everything before it has been
 * processed (pg-logical-replication's automatic acknowledgement would confirm positions it has
 * merely received), with flow control on so a slow consumer pauses the socket instead of
 * buffering the stream in memory.
 */
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import { messageOf } from "../errors.js";
import { revisionTimeMs } from "../source/revision.js";
import type { Logger } from "./logger.js";
import type { SyncEvents } from "./sync-events.js";

/** A pgoutput message, or one the parser could not read (reported, never fatal). */
export type StreamMessage =
  Pgoutput.Message | { readonly tag: "unreadable"; readonly error: string };

/** What one finished transaction was, from the monitor's point of view. */
export type TransactionVerdict =
  | {
      readonly kind: "ours";
      readonly lsn: string | undefined;
      readonly committedAtMs: number;
      /** Decoded `legacy_rev` of the rows written, when the transaction applied streamed changes. */
      readonly writeTimesMs: readonly number[];
    }
  | {
      readonly kind: "foreign";
      readonly lsn: string | undefined;
      readonly committedAtMs: number;
      /** Each mirrored table it changed, with the first row's key. */
      readonly tables: readonly { readonly table: string; readonly key: string | undefined }[];
    }
  /** Nothing of interest (no mirrored table), or a message in it could not be read. */
  | { readonly kind: "ignored"; readonly reason: "no mirrored table" | "unreadable" };

/** Bounds the memory one huge transaction of ours can take for latency samples. */
const MAX_WRITE_TIMES = 50_000;

interface OpenTransaction {
  lsn: string | undefined;
  ours: boolean;
  phase: string | undefined;
  appliedTick: string | undefined;
  unreadable: boolean;
  readonly tables: Map<string, string | undefined>;
  readonly writeTimesMs: number[];
}

/**
 * Pure: pgoutput messages in, one verdict per transaction out. Kept apart from the connection so
 * the rules can be tested without a server.
 */
export class TransactionClassifier {
  private open: OpenTransaction | undefined;
  /** The applied tick of the last checkpoint seen: a commit that does not move it applied no stream batch. */
  private lastAppliedTick: string | undefined;

  constructor(
    private readonly mirroredTables: ReadonlySet<string>,
    /** The daemon's checkpoint table: writing it marks a transaction as the daemon's. */
    private readonly checkpoint: { readonly schema: string; readonly name: string },
  ) {}

  get inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** Drops a transaction cut off by a lost connection: the server sends it again in full. */
  reset(): void {
    this.open = undefined;
  }

  /** Feeds one message; returns the verdict when the message ends a transaction. */
  push(message: StreamMessage): TransactionVerdict | undefined {
    switch (message.tag) {
      case "begin":
        this.open = {
          lsn: message.commitLsn ?? undefined,
          ours: false,
          phase: undefined,
          appliedTick: undefined,
          unreadable: false,
          tables: new Map(),
          writeTimesMs: [],
        };
        return undefined;
      case "insert":
      case "update":
        this.row(message.relation, message.new, undefined);
        return undefined;
      case "delete":
        this.row(message.relation, undefined, message.old ?? message.key);
        return undefined;
      case "truncate":
        for (const relation of message.relations) this.row(relation, undefined, undefined);
        return undefined;
      case "unreadable":
        if (this.open !== undefined) this.open.unreadable = true;
        return undefined;
      case "commit":
        return this.commit(message);
      default:
        // relation, type, origin, message: bookkeeping the parser keeps for itself.
        return undefined;
    }
  }

  private row(
    relation: Pgoutput.MessageRelation,
    values: Readonly<Record<string, unknown>> | undefined,
    oldValues: Readonly<Record<string, unknown>> | null | undefined,
  ): void {
    const open = this.open;
    if (open === undefined) return;
    if (relation.schema === this.checkpoint.schema && relation.name === this.checkpoint.name) {
      open.ours = true;
      const phase = values?.["phase"];
      const tick = values?.["applied_tick"];
      if (typeof phase === "string") open.phase = phase;
      if (typeof tick === "string") open.appliedTick = tick;
      return;
    }
    const table = relation.name;
    if (!this.mirroredTables.has(table)) return;
    if (!open.tables.has(table)) open.tables.set(table, keyOf(values ?? oldValues ?? undefined));
    const rev = values?.["legacy_rev"];
    if (typeof rev === "string" && open.writeTimesMs.length < MAX_WRITE_TIMES) {
      const ms = revisionTimeMs(rev);
      if (ms !== undefined) open.writeTimesMs.push(ms);
    }
  }

  private commit(message: Pgoutput.MessageCommit): TransactionVerdict {
    const open = this.open;
    this.open = undefined;
    const committedAtMs = Number(message.commitTime) / 1000;
    const lsn = message.commitLsn ?? open?.lsn;
    if (open === undefined || open.unreadable) return { kind: "ignored", reason: "unreadable" };
    if (open.ours) {
      // Snapshot chunks carry dumped documents, not changes, and a commit that leaves the applied
      // tick where it was (rows whose parent arrived late) applied no change just written: their
      // `_rev` times would read as latency they do not have.
      const streamed =
        open.phase === "streaming" &&
        open.appliedTick !== undefined &&
        open.appliedTick !== this.lastAppliedTick;
      if (open.appliedTick !== undefined) this.lastAppliedTick = open.appliedTick;
      return { kind: "ours", lsn, committedAtMs, writeTimesMs: streamed ? open.writeTimesMs : [] };
    }
    if (open.tables.size === 0) return { kind: "ignored", reason: "no mirrored table" };
    return {
      kind: "foreign",
      lsn,
      committedAtMs,
      tables: [...open.tables].map(([table, key]) => ({ table, key })),
    };
  }
}

/** `legacy_id` when the row has one; otherwise the replica identity, `column=value`. */
function keyOf(values: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (values === undefined) return undefined;
  const legacy = values["legacy_id"];
  if (typeof legacy === "string") return legacy;
  const parts = Object.entries(values)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([column, value]) => `${column}=${String(value)}`);
  return parts.length > 0 ? parts.join(",") : undefined;
}

/** An LSN as a number: `16/B374D848` → 0x16B374D848. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split("/");
  return (BigInt(`0x${high ?? "0"}`) << 32n) | BigInt(`0x${low ?? "0"}`);
}

export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16)}/${(value & 0xffffffffn).toString(16)}`.toUpperCase();
}

/**
 * The pgoutput plugin, counting what it parses and never throwing: the parse runs inside the
 * socket's data handler, where an exception would take the process down. A message it cannot
 * read comes out as `unreadable`, outside the library's `Message` union (hence the cast): the
 * data handler takes `StreamMessage`, which includes it.
 */
class CountingPgoutput extends PgoutputPlugin {
  received = 0;

  override parse(buffer: Buffer): Pgoutput.Message {
    this.received += 1;
    try {
      return super.parse(buffer);
    } catch (error) {
      const unreadable: StreamMessage = { tag: "unreadable", error: messageOf(error) };
      return unreadable as unknown as Pgoutput.Message;
    }
  }
}

export interface ChangeStreamMonitorOptions {
  readonly pgUrl: string;
  readonly slot: string;
  readonly publication: string;
  /** The mapping's tables: changes to them are checked for the checkpoint. */
  readonly tables: readonly string[];
  /** The daemon's checkpoint table (sink/change-stream-slot.ts `CHECKPOINT_RELATION`). */
  readonly checkpoint: { readonly schema: string; readonly name: string };
  /** The slot's `confirmed_flush_lsn` (sink/change-stream-slot.ts): where reading resumes. */
  readonly startLsn: string | null;
  readonly events: SyncEvents;
  readonly logger: Logger;
  readonly applicationName?: string;
  readonly clock?: () => number;
  /** Wait after a lost connection, doubled per failure up to `retryMaxMs`. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

export class ChangeStreamMonitor {
  private readonly service: LogicalReplicationService;
  private readonly plugin: CountingPgoutput;
  private readonly classifier: TransactionClassifier;
  private readonly log: Logger;
  private readonly clock: () => number;
  /** The position PostgreSQL holds as confirmed: every transaction committed before it is processed. */
  private flushed: bigint;
  private processed = 0;
  private stopped = false;
  /** Undefined until the first connection succeeds or fails, so that a first failure reports down. */
  private up: boolean | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ChangeStreamMonitorOptions) {
    this.log = options.logger.child({ module: "change-stream" });
    this.clock = options.clock ?? Date.now;
    this.flushed = options.startLsn === null ? 0n : parseLsn(options.startLsn);
    this.classifier = new TransactionClassifier(new Set(options.tables), options.checkpoint);
    this.plugin = new CountingPgoutput({
      protoVersion: 1,
      publicationNames: [options.publication],
    });
    this.service = new LogicalReplicationService(
      {
        connectionString: options.pgUrl,
        application_name: options.applicationName ?? "arango-pg-sync change-stream",
      },
      {
        // Acknowledge by hand, after processing; the library's timer would confirm positions
        // that were received but not processed yet.
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      },
    );
    this.service.on("data", (_lsn: string, message: StreamMessage) => {
      this.handle(message);
    });
    this.service.on("heartbeat", (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      this.keepalive(lsn, shouldRespond);
    });
    this.service.on("start", () => {
      this.setUp(true);
    });
    // Connection errors also end the subscription, which the loop below reports and retries.
    this.service.on("error", (error: Error) => {
      this.log.debug({ error: messageOf(error) }, "change stream connection error");
    });
  }

  /** Starts reading in the background; reconnects until `stop()`. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops reading and closes the replication connection. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.service.stop().catch(() => undefined);
    await this.running;
    // No event: the daemon is stopping, and a "not reading" line would only be noise.
    this.up = false;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    const minMs = this.options.retryMinMs ?? 1000;
    const maxMs = this.options.retryMaxMs ?? 30_000;
    while (!this.stopped) {
      let reason = "the replication connection closed";
      try {
        this.classifier.reset();
        this.plugin.received = 0;
        this.processed = 0;
        await this.service.subscribe(this.plugin, this.options.slot, formatLsn(this.flushed));
      } catch (error) {
        reason = messageOf(error);
      }
      if (this.isStopped()) break;
      // A stream that ran ends the series of failures; one that never started adds to it.
      failures = this.up === true ? 1 : failures + 1;
      this.options.events.emit("target:changeStreamFailed", { message: reason, attempt: failures });
      this.setUp(false, reason);
      const waitMs = Math.min(minMs * 2 ** Math.min(failures - 1, 10), maxMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** A method, not the field: the field changes behind the awaits of the loop. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private handle(message: StreamMessage): void {
    try {
      if (message.tag === "unreadable") {
        this.log.warn({ error: message.error }, "change stream message could not be read");
      }
      const verdict = this.classifier.push(message);
      if (verdict !== undefined) this.report(verdict);
      if (message.tag === "commit" && message.commitLsn !== null) {
        // The commit record's start plus one: on a restart this transaction is not sent again,
        // and every later commit record starts beyond it.
        this.confirm(parseLsn(message.commitLsn) + 1n);
      }
    } finally {
      this.processed += 1;
    }
  }

  private report(verdict: TransactionVerdict): void {
    const events = this.options.events;
    switch (verdict.kind) {
      case "ours":
        events.emit("target:visible", {
          lsn: verdict.lsn,
          committedAtMs: verdict.committedAtMs,
          visibleAtMs: this.clock(),
          writeTimesMs: verdict.writeTimesMs,
        });
        return;
      case "foreign":
        for (const { table, key } of verdict.tables) {
          events.emit("target:foreignWrite", { table, key, lsn: verdict.lsn });
        }
        return;
      case "ignored":
        return;
    }
  }

  /**
   * The server's keepalive carries its WAL position. When every message received so far has been
   * processed and no transaction is open, everything before that position that concerns us has
   * been seen, so it can be confirmed: the slot then holds no WAL while the mirror is idle and
   * other databases on the server are busy. Otherwise the last processed position is repeated
   * when the server asks for an answer.
   */
  private keepalive(lsn: string, shouldRespond: boolean): void {
    const idle = this.plugin.received === this.processed && !this.classifier.inTransaction;
    const position = parseLsn(lsn);
    if (idle && position > this.flushed) this.confirm(position);
    else if (shouldRespond) this.send(this.flushed);
  }

  private confirm(position: bigint): void {
    if (position <= this.flushed) return;
    this.flushed = position;
    this.send(position);
  }

  /** pg-logical-replication reports `lsn + 1` as flushed; it is given one less. */
  private send(position: bigint): void {
    if (position <= 0n) return;
    this.service.acknowledge(formatLsn(position - 1n)).catch((error: unknown) => {
      this.log.debug({ error: messageOf(error) }, "change stream acknowledgement not sent");
    });
  }

  private setUp(up: boolean, reason?: string): void {
    if (up === this.up) return;
    this.up = up;
    this.options.events.emit("target:changeStream", up ? { up } : { up, reason });
  }
}
