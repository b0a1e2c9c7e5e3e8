/**
 * The daemon's logs: pino, one JSON line per event on stdout, level from the config (`LOG_LEVEL`).
 * Secrets are removed twice (redact.ts): pino censors fields named like secrets, and every
 * finished line passes through a mask of the configured secrets and of URL credentials before it
 * is written, so a password quoted inside an error message or a stack trace is caught too.
 *
 * `attachLogging` turns pipeline events into log lines: phase changes, snapshot progress and
 * consistency results at info, batch commits at debug, dead letters, foreign writes and the first
 * of a series of heartbeat or change-stream failures at warn, WAL gaps at error.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LOG_LEVELS } from "../config/config-schema.js";
import { CENSORED, SECRET_FIELD_NAMES, createRedactor } from "./redact.js";
import type { SyncEventMap, SyncEvents } from "./sync-events.js";

export type { Logger } from "pino";
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** The configured secrets (`secretsOf(config)`): masked wherever they appear. */
  readonly secrets?: readonly (string | undefined)[];
  /** Where lines go; stdout unless given (tests capture them). */
  readonly destination?: DestinationStream;
}

/** Secret field names at the top level and up to two objects deep, plus request headers. */
const REDACT_PATHS = [
  ...SECRET_FIELD_NAMES.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  "headers.authorization",
  "req.headers.authorization",
  "*.headers.authorization",
];

export function createLogger(options: LoggerOptions): Logger {
  const redactor = createRedactor(options.secrets ?? []);
  const target = options.destination ?? pino.destination(1);
  const masked: DestinationStream = {
    write(line: string): void {
      target.write(redactor.jsonText(line));
    },
  };
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: CENSORED },
      // Level names rather than numbers, ISO times: the lines are read by people as well.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    masked,
  );
}

export interface LoggingOptions {
  readonly clock?: () => number;
  /** At most one snapshot progress line per collection per interval (its last chunk always logs). */
  readonly progressIntervalMs?: number;
}

interface SnapshotCollectionProgress {
  done: number;
  remaining: number;
  startedMs: number;
  loggedMs: number | undefined;
}

/** Writes one line per meaningful event; returns the function that unsubscribes. */
export function attachLogging(
  events: SyncEvents,
  logger: Logger,
  options: LoggingOptions = {},
): () => void {
  const clock = options.clock ?? Date.now;
  const progressIntervalMs = options.progressIntervalMs ?? 10_000;
  const log = logger.child({ module: "pipeline" });
  let sourceUp: boolean | undefined;
  let targetUp: boolean | undefined;
  let heartbeatFailing = false;
  let snapshot = new Map<string, SnapshotCollectionProgress>();

  const sourceReached = (how: string, detail: Record<string, unknown> = {}): void => {
    if (sourceUp !== true) log.info({ ...detail, how }, "ArangoDB reachable");
    sourceUp = true;
  };
  const targetReached = (): void => {
    if (targetUp !== true) log.info("PostgreSQL reachable");
    targetUp = true;
  };

  const handlers: { [E in keyof SyncEventMap]?: (payload: SyncEventMap[E]) => void } = {
    "pipeline:phase": (e) => {
      log.info({ phase: e.phase, previous: e.previous, reason: e.reason }, `phase: ${e.phase}`);
    },
    "pipeline:stopping": (e) => {
      log.info({ reason: e.reason }, "stopping");
    },
    "source:connected": (e) => {
      sourceReached(
        "connect",
        e.serverVersion === undefined ? {} : { serverVersion: e.serverVersion },
      );
    },
    "source:polled": (e) => {
      sourceReached("wal/tail");
      if (log.isLevelEnabled("trace")) {
        log.trace(
          {
            from: e.from.toString(),
            lastIncluded: e.lastIncluded.toString(),
            lastTick: e.lastTick.toString(),
            checkMore: e.checkMore,
            markers: e.markers,
            bytes: e.bytes,
            durationMs: e.durationMs,
          },
          "wal/tail answered",
        );
      }
    },
    "source:error": (e) => {
      sourceUp = false;
      // Events carry the message, not the Error: `error` rather than pino's `err` serializer.
      const fields = { kind: e.kind, attempt: e.attempt, error: e.message };
      if (e.retryable) log.warn(fields, "ArangoDB call failed; retrying");
      else log.error(fields, "ArangoDB call failed");
    },
    "source:walGap": (e) => {
      log.error(
        {
          from: e.from.toString(),
          tickMin: e.tickMin?.toString(),
          collections: e.collections,
        },
        "WAL gap: the resume tick is no longer in ArangoDB's WAL; changes were lost to the stream, re-snapshotting the collections listed",
      );
    },
    "source:walRange": (e) => {
      log.debug(
        {
          tickMin: e.tickMin.toString(),
          tickMax: e.tickMax.toString(),
          from: e.from.toString(),
          headroomTicks: (e.from - e.tickMin).toString(),
        },
        "wal/range",
      );
    },
    "source:heartbeatWritten": () => {
      if (heartbeatFailing) log.info("heartbeat written again");
      heartbeatFailing = false;
    },
    "source:heartbeatFailed": (e) => {
      heartbeatFailing = true;
      // One warning per series of failures, not one per beat.
      const fields = { kind: e.kind, attempt: e.attempt, error: e.message };
      if (e.attempt > 1) log.debug(fields, "heartbeat write failed");
      else log.warn(fields, "heartbeat write failed; trying again every interval");
    },
    "target:connected": () => {
      targetReached();
    },
    "target:error": (e) => {
      targetUp = false;
      const fields = { kind: e.kind, error: e.message };
      if (e.retryable) log.warn(fields, "PostgreSQL operation failed; retrying");
      else log.error(fields, "PostgreSQL operation failed");
    },
    "target:foreignWrite": (e) => {
      log.warn(
        { table: e.table, key: e.key, lsn: e.lsn },
        "foreign write: a transaction changed a mirrored table without the daemon's checkpoint",
      );
    },
    "target:changeStream": (e) => {
      // Going down is logged with its cause by target:changeStreamFailed.
      if (e.up) log.info("reading PostgreSQL's change stream: foreign writes are counted");
      else log.debug({ reason: e.reason }, "not reading PostgreSQL's change stream");
    },
    "target:changeStreamFailed": (e) => {
      // One warning per series of failures; the reconnection attempts after it at debug.
      const fields = { attempt: e.attempt, error: e.message };
      if (e.attempt > 1) log.debug(fields, "PostgreSQL change stream still not readable");
      else
        log.warn(
          fields,
          "cannot read PostgreSQL's change stream: foreign writes are not counted until it is read again; retrying",
        );
    },
    "snapshot:started": (e) => {
      const now = clock();
      snapshot = new Map(
        e.collections.map((c) => [
          c.collection,
          { done: 0, remaining: c.documents, startedMs: now, loggedMs: undefined },
        ]),
      );
      log.info(
        {
          tick: e.tick.toString(),
          resnapshot: e.resnapshot,
          collections: e.collections.map((c) => ({
            collection: c.collection,
            documents: c.documents,
          })),
        },
        e.resnapshot ? "re-snapshot started" : "snapshot started",
      );
    },
    "snapshot:progress": (e) => {
      const now = clock();
      const progress = snapshot.get(e.collection) ?? {
        done: 0,
        remaining: e.remaining,
        startedMs: now,
        loggedMs: undefined,
      };
      progress.done += e.documents;
      progress.remaining = Math.max(0, e.remaining);
      snapshot.set(e.collection, progress);
      const due = progress.loggedMs === undefined || now - progress.loggedMs >= progressIntervalMs;
      if (!due && progress.remaining > 0) return;
      progress.loggedMs = now;
      const elapsedSeconds = (now - progress.startedMs) / 1000;
      const rate = elapsedSeconds > 0 ? progress.done / elapsedSeconds : undefined;
      log.info(
        {
          collection: e.collection,
          done: progress.done,
          remaining: progress.remaining,
          documentsPerSecond: rate === undefined ? undefined : Math.round(rate),
          etaSeconds:
            rate === undefined || rate === 0 ? undefined : Math.ceil(progress.remaining / rate),
        },
        "snapshot progress",
      );
    },
    "snapshot:finished": (e) => {
      log.info({ tick: e.tick.toString(), durationMs: e.durationMs }, "snapshot finished");
    },
    "apply:batchCommitted": (e) => {
      targetReached();
      if (!log.isLevelEnabled("debug")) return;
      log.debug(
        {
          origin: e.origin,
          appliedTick: e.appliedTick?.toString(),
          durationMs: e.durationMs,
          rows: e.rows.filter((r) => r.count > 0),
          events: e.events.reduce((sum, c) => sum + c.count, 0),
        },
        "batch committed",
      );
    },
    "apply:stagedProgress": (e) => {
      log.debug(
        { appliedChanges: e.appliedChanges, totalChanges: e.totalChanges },
        "applying a staged transaction",
      );
    },
    "apply:deadLettered": (e) => {
      // The key identifies a document: debug only (anchors-style §2.5).
      log.warn(
        {
          table: e.table,
          collection: e.collection,
          reason: e.reason,
          tick: e.tick?.toString(),
          ...(log.isLevelEnabled("debug") ? { key: e.key } : {}),
        },
        "dead-lettered",
      );
    },
    "apply:parked": (e) => {
      log.debug(
        { table: e.table, parked: e.parked, unparked: e.unparked },
        "rows parked until their parent arrives",
      );
    },
    "deadLetters:counted": (e) => {
      log.debug({ total: e.counts.reduce((sum, c) => sum + c.count, 0) }, "dead letters held");
    },
    "parked:counted": (e) => {
      log.debug({ total: e.counts.reduce((sum, c) => sum + c.count, 0) }, "parked rows held");
    },
    "verify:checked": (e) => {
      const drift = e.tables.flatMap((t) =>
        t.drift
          .filter((d) => d.rows > 0)
          .map((d) => ({ table: t.table, kind: d.kind, rows: d.rows })),
      );
      const fields = {
        mode: e.mode,
        checked: e.tables.reduce((sum, t) => sum + t.checked, 0),
        inFlight: e.tables.reduce((sum, t) => sum + t.inFlight, 0),
        drift,
      };
      if (drift.length > 0) log.warn(fields, "consistency check found drift");
      else log.info(fields, "consistency check: no drift");
    },
  };

  const unsubscribe = (Object.keys(handlers) as (keyof SyncEventMap)[]).map((name) =>
    events.on(name, handlers[name] as (payload: SyncEventMap[typeof name]) => void),
  );
  return () => {
    for (const off of unsubscribe) off();
  };
}
