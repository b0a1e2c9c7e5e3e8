/**
 * Liveness and readiness, as the admin server reports them (anchors-style §2.2).
 *
 * - Liveness (`/healthz`): the main loop is not stuck. The pipeline reports `pipeline:alive` on
 *   every turn of its loop, waiting included; a heartbeat older than `staleAfterMs` means the loop
 *   is stuck and a restart may help. One turn can hold a commit that takes longer than that: a
 *   staged large transaction is applied in one PostgreSQL transaction, chunk by chunk. Each chunk
 *   applied (`apply:stagedProgress` with a count that moved) counts as a heartbeat, so a long but
 *   progressing commit is alive while one that stops progressing goes stale like any stuck loop.
 *   Dependencies are deliberately not checked: restarting because ArangoDB is down only adds a
 *   restart storm to the outage.
 * - Readiness (`/readyz`): the mirror is usable. Not before the snapshot is done (phase streaming
 *   or cutover), not while the last call to ArangoDB or PostgreSQL failed, not once shutdown began.
 */
import type { PipelinePhase, SyncEvents } from "./sync-events.js";

export interface HealthOptions {
  readonly clock?: () => number;
  /** Heartbeat age beyond which the loop counts as stuck. */
  readonly staleAfterMs?: number;
}

export const DEFAULT_STALE_AFTER_MS = 60_000;

/** Phases in which PostgreSQL holds a complete, current mirror. */
const READY_PHASES: ReadonlySet<PipelinePhase> = new Set(["streaming", "cutover"]);

export interface Liveness {
  readonly alive: boolean;
  readonly heartbeatAgeSeconds: number;
  readonly staleAfterSeconds: number;
  /** What the loop is busy with when a turn takes long: a staged transaction being applied. */
  readonly activity?: string;
}

export interface ReadinessCheck {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: {
    readonly snapshot: ReadinessCheck;
    readonly source: ReadinessCheck;
    readonly target: ReadinessCheck;
    readonly shutdown: ReadinessCheck;
  };
}

type Reachability =
  | { readonly state: "unknown" }
  | { readonly state: "up" }
  | {
      readonly state: "down";
      readonly kind: string;
    };

export class HealthState {
  private readonly clock: () => number;
  private readonly staleAfterMs: number;
  private lastAliveMs: number;
  private phase: PipelinePhase = "starting";
  private source: Reachability = { state: "unknown" };
  private target: Reachability = { state: "unknown" };
  private stopping: string | undefined;
  /** The staged transaction being applied, as last reported; undefined outside such a commit. */
  private staged: { readonly applied: number; readonly total: number } | undefined;

  constructor(options: HealthOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    // Start-up counts as a heartbeat: the loop gets one full interval to begin.
    this.lastAliveMs = this.clock();
  }

  /** The loop's heartbeat, for callers that do not go through events. */
  touch(): void {
    this.lastAliveMs = this.clock();
  }

  liveness(): Liveness {
    const ageMs = Math.max(0, this.clock() - this.lastAliveMs);
    const staged = this.staged;
    return {
      alive: ageMs <= this.staleAfterMs,
      heartbeatAgeSeconds: ageMs / 1000,
      staleAfterSeconds: this.staleAfterMs / 1000,
      ...(staged === undefined
        ? {}
        : {
            activity: `applying a staged transaction: ${staged.applied} of ${staged.total} changes`,
          }),
    };
  }

  /**
   * A chunk of a staged transaction was applied. Only a count that moved is progress: the same
   * report again says nothing about the loop.
   */
  private stagedProgress(applied: number, total: number): void {
    const last = this.staged;
    if (last === undefined || last.applied !== applied || last.total !== total) this.touch();
    this.staged = { applied, total };
  }

  readiness(): Readiness {
    const snapshot: ReadinessCheck = READY_PHASES.has(this.phase)
      ? { ok: true, detail: `phase ${this.phase}` }
      : { ok: false, detail: `phase ${this.phase}: the mirror is not complete yet` };
    const checks = {
      snapshot,
      source: reachabilityCheck("ArangoDB", this.source),
      target: reachabilityCheck("PostgreSQL", this.target),
      shutdown:
        this.stopping === undefined
          ? { ok: true, detail: "running" }
          : { ok: false, detail: `stopping: ${this.stopping}` },
    };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  /** Subscribes to the events that move liveness and readiness; returns the unsubscriber. */
  attach(events: SyncEvents): () => void {
    const up = { state: "up" } as const;
    const offs = [
      events.on("pipeline:alive", () => {
        this.staged = undefined;
        this.touch();
      }),
      events.on("apply:stagedProgress", (e) => {
        this.stagedProgress(e.appliedChanges, e.totalChanges);
      }),
      events.on("pipeline:phase", (e) => {
        this.phase = e.phase;
        this.touch();
      }),
      events.on("pipeline:stopping", (e) => {
        this.stopping = e.reason;
      }),
      events.on("source:connected", () => {
        this.source = up;
      }),
      events.on("source:polled", () => {
        this.source = up;
      }),
      events.on("source:walRange", () => {
        this.source = up;
      }),
      events.on("snapshot:progress", () => {
        this.source = up;
      }),
      events.on("source:error", (e) => {
        this.source = { state: "down", kind: e.kind };
      }),
      events.on("target:connected", () => {
        this.target = up;
      }),
      events.on("apply:batchCommitted", () => {
        this.staged = undefined;
        this.target = up;
      }),
      events.on("target:error", (e) => {
        this.staged = undefined;
        this.target = { state: "down", kind: e.kind };
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }
}

function reachabilityCheck(name: string, reachability: Reachability): ReadinessCheck {
  switch (reachability.state) {
    case "up":
      return { ok: true, detail: `${name} reachable` };
    case "unknown":
      return { ok: false, detail: `${name} not reached yet` };
    case "down":
      return { ok: false, detail: `${name} unreachable (${reachability.kind})` };
  }
}
