/**
 * The one error type the daemon throws on purpose. `code` is stable (operators grep for it),
 * `retryable` tells the pipeline whether a retry budget applies, `exitCode` is what the CLI exits
 * with when this error ends the process (README, "Exit codes").
 */
export type SyncErrorCode =
  | "CONFIG_INVALID"
  | "USAGE"
  | "NOT_BUILT"
  | "SOURCE_UNAVAILABLE"
  | "SOURCE_PROTOCOL"
  | "SOURCE_AUTH"
  | "TARGET_UNAVAILABLE"
  | "TARGET_REJECTED"
  | "MIGRATION_FAILED"
  | "SOURCE_BATCH_EXPIRED"
  | "WAL_GAP"
  | "INTERNAL";

export const ExitCode = {
  ok: 0,
  noGo: 1,
  usage: 2,
  sourceUnavailable: 69,
  internal: 70,
  targetUnavailable: 75,
} as const;

export interface SyncErrorOptions {
  retryable?: boolean;
  exitCode?: number;
  cause?: unknown;
}

export class SyncError extends Error {
  override readonly name = "SyncError";
  readonly code: SyncErrorCode;
  readonly retryable: boolean;
  readonly exitCode: number;

  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.exitCode = options.exitCode ?? defaultExitCode(code);
  }
}

function defaultExitCode(code: SyncErrorCode): number {
  switch (code) {
    case "CONFIG_INVALID":
    case "USAGE":
    case "NOT_BUILT":
      return ExitCode.usage;
    case "SOURCE_UNAVAILABLE":
    case "SOURCE_AUTH":
      return ExitCode.sourceUnavailable;
    case "TARGET_UNAVAILABLE":
      return ExitCode.targetUnavailable;
    default:
      return ExitCode.internal;
  }
}

/** The message of anything thrown, for log lines and error bodies. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
