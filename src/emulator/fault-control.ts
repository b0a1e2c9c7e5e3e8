/**
 * Test-only control surface of the emulator (DESIGN.md §9 "fault injection for tests"): fault
 * rules for the HTTP front, forced WAL pruning, and restarts. Only registered when the emulator is
 * started with `controlApi: true`; a real ArangoDB has none of these routes.
 *
 * - `GET /_emulator/faults` lists the rules, `POST /_emulator/faults` adds one rule or an array of
 *   rules (`{"pathPrefix":"/_api/wal/tail","action":{"kind":"tear","afterBytes":100},"times":1}`),
 *   `DELETE /_emulator/faults` removes them all.
 * - `POST /_emulator/wal/prune` with `{"force":true}` deletes the WAL below its newest batch (or
 *   below `"below":"<tick>"`) whatever clients are registered; without `force` it runs one normal
 *   retention pass. Answers `{removed, tickMin, tickMax}`.
 * - `POST /_emulator/restart` with `{"keepState":true|false}` answers 202, then restarts: open
 *   connections, batches, dump cursors, client registrations, stream transactions and tokens are
 *   lost; with `keepState: false` the data is lost too.
 *
 * Rules whose prefix would also match `/_emulator/` are refused over HTTP so a test cannot lock
 * itself out of the control routes.
 */
import { ArangoError, ErrorNum } from "./arango-error.js";
import type { FaultAction, FaultRule, Handler, HandlerResponse, Router } from "./http-server.js";
import type { PruneResult } from "./wal-retention.js";

export interface FaultControl {
  add(rules: FaultRule | readonly FaultRule[]): void;
  clear(): void;
  list(): readonly FaultRule[];
}

export interface PruneOptions {
  /** Prune regardless of registered clients and timeouts. */
  force?: boolean;
  /** With `force`: delete the batches ending below this tick (default: all but the newest). */
  below?: bigint;
}

export interface RestartOptions {
  /** Keep databases, documents and the WAL (default true), or start as a fresh server. */
  keepState?: boolean;
}

/** What the control routes act on (implemented by the Emulator). */
export interface ControlTarget {
  readonly faults: FaultControl;
  pruneWal(options?: PruneOptions): PruneResult;
  restart(options?: RestartOptions): Promise<void>;
}

const CONTROL_PREFIX = "/_emulator/";
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/** A fault-rule list backed by the current HTTP front's rule array. */
export function faultControl(rules: () => FaultRule[]): FaultControl {
  return {
    add(added) {
      const list: readonly FaultRule[] = isRuleList(added) ? added : [added];
      rules().push(...list.map((rule) => ({ ...rule, action: { ...rule.action } })));
    },
    clear() {
      rules().length = 0;
    },
    list() {
      return rules();
    },
  };
}

function isRuleList(value: FaultRule | readonly FaultRule[]): value is readonly FaultRule[] {
  return Array.isArray(value);
}

export function registerControlRoutes(router: Router, target: ControlTarget): void {
  for (const method of METHODS) {
    router.add(method, "/_emulator/*suffix", guarded(method, target));
  }
}

function guarded(method: string, target: ControlTarget): Handler {
  return (context) => {
    try {
      return control(method, context.params["suffix"] ?? "", target, () => context.body());
    } catch (error) {
      if (!(error instanceof ArangoError)) throw error;
      return { status: error.httpCode, body: error.toBody(), contentType: "application/json" };
    }
  };
}

function control(
  method: string,
  suffix: string,
  target: ControlTarget,
  body: () => unknown,
): HandlerResponse {
  const path = suffix.replace(/\/+$/, "");
  if (path === "faults") {
    if (method === "GET") return reply(200, { faults: target.faults.list() });
    if (method === "DELETE") {
      target.faults.clear();
      return reply(200, { faults: [] });
    }
    if (method === "POST") {
      const input = body();
      const rules = (Array.isArray(input) ? input : [input]).map(parseFaultRule);
      target.faults.add(rules);
      return reply(201, { faults: target.faults.list() });
    }
    throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
  }
  if (path === "wal/prune") {
    if (method !== "POST") throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
    const input = objectOf(body());
    const below = input["below"];
    if (below !== undefined && (typeof below !== "string" || !/^[0-9]+$/.test(below))) {
      throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "below must be a decimal tick string");
    }
    const result = target.pruneWal({
      force: input["force"] === true,
      ...(below === undefined ? {} : { below: BigInt(below) }),
    });
    return reply(200, {
      removed: result.removed,
      tickMin: result.tickMin.toString(),
      tickMax: result.tickMax.toString(),
    });
  }
  if (path === "restart") {
    if (method !== "POST") throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
    const keepState = objectOf(body())["keepState"] !== false;
    // The restart cuts every connection, this one included: answer first, restart afterwards.
    setTimeout(() => {
      void target.restart({ keepState });
    }, 50);
    return reply(202, { restarting: true, keepState });
  }
  throw new ArangoError(404, ErrorNum.HTTP_NOT_FOUND, `unknown path '/_emulator/${suffix}'`);
}

function reply(status: number, body: unknown): HandlerResponse {
  return { status, body, contentType: "application/json" };
}

function objectOf(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "expecting a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Validates a fault rule received as JSON. */
export function parseFaultRule(value: unknown): FaultRule {
  const rule = objectOf(value);
  const { pathPrefix, times } = rule;
  if (typeof pathPrefix !== "string" || !pathPrefix.startsWith("/")) {
    throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "pathPrefix must be a path");
  }
  if (CONTROL_PREFIX.startsWith(pathPrefix) || pathPrefix.startsWith(CONTROL_PREFIX)) {
    throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "rules must not match /_emulator/");
  }
  if (times !== undefined && (!Number.isInteger(times) || (times as number) < 1)) {
    throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "times must be a positive integer");
  }
  const action = parseAction(objectOf(rule["action"]));
  return times === undefined
    ? { pathPrefix, action }
    : { pathPrefix, action, times: times as number };
}

function parseAction(action: Record<string, unknown>): FaultAction {
  const count = (name: string): number => {
    const value = action[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new ArangoError(400, ErrorNum.BAD_PARAMETER, `${name} must be a non-negative integer`);
    }
    return value;
  };
  switch (action["kind"]) {
    case "latency":
      return { kind: "latency", ms: count("ms") };
    case "status": {
      const status = count("status");
      if (status < 100 || status > 599) {
        throw new ArangoError(400, ErrorNum.BAD_PARAMETER, "status must be an HTTP status code");
      }
      return { kind: "status", status };
    }
    case "tear":
      return { kind: "tear", afterBytes: count("afterBytes") };
    case "drop":
      return { kind: "drop" };
    default:
      throw new ArangoError(
        400,
        ErrorNum.BAD_PARAMETER,
        "action.kind must be latency, status, tear or drop",
      );
  }
}
