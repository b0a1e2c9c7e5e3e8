import { afterEach, describe, expect, it } from "vitest";
import { configSchema, type Config } from "../../src/config/config-schema.js";
import { createAdminServer, type AdminServer } from "../../src/http/admin-server.js";
import { HealthState } from "../../src/observe/health.js";
import { attachLogging, createLogger } from "../../src/observe/logger.js";
import { attachMetrics, createMetrics } from "../../src/observe/metrics.js";
import { createRedactor, secretsOf } from "../../src/observe/redact.js";
import { renderStatus, type StatusSource, type SyncStatus } from "../../src/observe/status.js";
import { SyncEvents } from "../../src/observe/sync-events.js";
import { FakeClock, committed, polled } from "../observe/event-builders.js";

const ARANGO_PASSWORD = "arango-Secret-pw";
const PG_PASSWORD = "pg-S3cret-pw";
const ADMIN_TOKEN = "admintoken-0123456789abcdef";
const PG_URL = `postgres://sync:${PG_PASSWORD}@db:5432/atspro`;
const ARANGO_URL = `http://root:${ARANGO_PASSWORD}@arangodb:8529`;
const SECRETS = [ARANGO_PASSWORD, PG_PASSWORD, ADMIN_TOKEN];

function config(http: Record<string, unknown> = { adminToken: ADMIN_TOKEN }): Config {
  return configSchema.parse({
    arango: { url: "http://arangodb:8529", database: "atspro", password: ARANGO_PASSWORD },
    postgres: { url: PG_URL },
    http,
  });
}

const MAX_TICK = 18446744073709551615n;

/** A pipeline's answer, with secrets where a careless implementation might put them. */
function statusOf(overrides: Partial<SyncStatus> = {}): SyncStatus {
  return {
    phase: "streaming",
    ticks: { source: MAX_TICK, applied: MAX_TICK - 1n, snapshot: 100n },
    collections: [
      {
        collection: "jobs",
        table: "jobs",
        snapshot: { state: "done", documents: 10, remaining: 0 },
        events: 5,
      },
    ],
    unmappedCollections: [{ collection: "task_results", events: 3 }],
    deadLetters: [
      { table: "jobs", reason: `could not reach ${PG_URL}`, count: 2 },
      { table: undefined, reason: `login ${ARANGO_PASSWORD} refused`, count: 1 },
    ],
    parkedRows: [{ table: "resumes", count: 4 }],
    lastConsistencyCheck: {
      mode: "sample",
      finishedAtMs: Date.UTC(2026, 0, 1),
      drift: [{ table: "jobs", kind: "content", rows: 1 }],
    },
    ...overrides,
  };
}

interface Harness {
  server: AdminServer;
  events: SyncEvents;
  clock: FakeClock;
  lines: string[];
}

let open: AdminServer | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

function harness(
  options: { config?: Config; source?: StatusSource; staleAfterMs?: number; port?: number } = {},
): Harness {
  const cfg = options.config ?? config();
  const clock = new FakeClock();
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    secrets: secretsOf(cfg),
    destination: { write: (line) => lines.push(line) },
  });
  const events = new SyncEvents();
  const metrics = createMetrics({
    collections: ["jobs"],
    tables: ["jobs"],
    clock: clock.now,
    defaultMetrics: false,
  });
  attachMetrics(events, metrics);
  attachLogging(events, logger, { clock: clock.now });
  const health = new HealthState({
    clock: clock.now,
    staleAfterMs: options.staleAfterMs ?? 60_000,
  });
  health.attach(events);
  const redactor = createRedactor(secretsOf(cfg));
  const source = options.source ?? { status: () => statusOf() };
  const server = createAdminServer({
    host: cfg.http.host,
    port: options.port ?? cfg.http.port,
    adminToken: cfg.http.adminToken,
    logger,
    metrics,
    health,
    status: () =>
      renderStatus(source, { lagSeconds: () => metrics.lagSeconds(), redactor, clock: clock.now }),
  });
  open = server;
  return { server, events, clock, lines };
}

describe("GET /metrics", () => {
  it("serves the registry in the Prometheus text format", async () => {
    const { server, events } = harness();
    events.emit("source:polled", polled({ markers: 7 }));
    const response = await server.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(response.body).toContain("# TYPE arango_pg_sync_lag_seconds gauge");
    expect(response.body).toMatch(/^arango_pg_sync_source_markers_total 7$/m);
  });
});

describe("GET /healthz", () => {
  it("answers 200 while the loop reports in and 503 once its heartbeat is stale", async () => {
    const { server, events, clock } = harness({ staleAfterMs: 30_000 });
    let response = await server.inject({ method: "GET", url: "/healthz" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: "ok", alive: true });

    clock.advance(45_000);
    response = await server.inject({ method: "GET", url: "/healthz" });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: "stuck",
      alive: false,
      heartbeatAgeSeconds: 45,
    });

    events.emit("pipeline:alive", {});
    response = await server.inject({ method: "GET", url: "/healthz" });
    expect(response.statusCode).toBe(200);
  });
});

describe("GET /readyz", () => {
  it("answers 503 until the snapshot is done and both databases answer, then 200", async () => {
    const { server, events } = harness();
    let response = await server.inject({ method: "GET", url: "/readyz" });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: "not ready",
      ready: false,
      checks: {
        snapshot: { ok: false },
        source: { ok: false, detail: "ArangoDB not reached yet" },
        target: { ok: false, detail: "PostgreSQL not reached yet" },
        shutdown: { ok: true },
      },
    });

    events.emit("pipeline:phase", { phase: "snapshotting", previous: "starting" });
    events.emit("snapshot:progress", { collection: "jobs", documents: 5, remaining: 5 });
    events.emit("apply:batchCommitted", committed({ origin: "snapshot" }));
    expect((await server.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);

    events.emit("pipeline:phase", { phase: "streaming", previous: "snapshotting" });
    response = await server.inject({ method: "GET", url: "/readyz" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: "ready", ready: true });
  });

  it("answers 503 while the source or the target is unreachable", async () => {
    const { server, events } = harness();
    events.emit("pipeline:phase", { phase: "streaming", previous: "starting" });
    events.emit("source:polled", polled());
    events.emit("target:connected", {});
    expect((await server.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);

    events.emit("target:error", { kind: "unavailable", retryable: true, message: "ECONNREFUSED" });
    const response = await server.inject({ method: "GET", url: "/readyz" });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      checks: { target: { ok: false, detail: "PostgreSQL unreachable (unavailable)" } },
    });
    events.emit("target:connected", {});
    events.emit("source:error", { kind: "unavailable", retryable: true, message: "ETIMEDOUT" });
    expect((await server.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
  });
});

describe("GET /status", () => {
  it("reports phase, exact ticks as strings, lag, counts, dead letters and the last check", async () => {
    const { server, events, clock } = harness();
    events.emit("source:polled", polled({ oldestChangeWriteMs: clock.nowMs - 2_500 }));
    const response = await server.inject({ method: "GET", url: "/status" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    const body = response.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      phase: "streaming",
      lagSeconds: 2.5,
      ticks: {
        source: "18446744073709551615",
        applied: "18446744073709551614",
        snapshot: "100",
        walOldest: null,
      },
      collections: [{ collection: "jobs", events: 5, snapshot: { state: "done" } }],
      unmappedCollections: [{ collection: "task_results", events: 3 }],
      deadLetters: { total: 3 },
      parkedRows: { total: 4 },
      lastConsistencyCheck: {
        mode: "sample",
        driftRows: 1,
        finishedAt: "2026-01-01T00:00:00.000Z",
      },
    });
  });

  it("answers 500 without details when the status cannot be read, and logs why", async () => {
    const { server, lines } = harness({
      source: {
        status: () => Promise.reject(new Error(`pool error on ${PG_URL}`)),
      },
    });
    const response = await server.inject({ method: "GET", url: "/status" });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain("pool error");
    const logged = lines.find((line) => line.includes("admin request failed"));
    expect(logged).toContain("pool error on postgres://sync:***@db:5432/atspro");
  });
});

describe("state-changing routes", () => {
  function withTestRoute(h: Harness): { calls: unknown[] } {
    const calls: unknown[] = [];
    h.server.mutating("POST", "/test/action", (request) => {
      calls.push(request.body);
      return Promise.resolve({ done: true });
    });
    return { calls };
  }

  it("answer 401 without the bearer token, or with a wrong one, and never run the handler", async () => {
    const h = harness();
    const { calls } = withTestRoute(h);
    for (const authorization of [
      undefined,
      "Bearer wrong-token-0000000000",
      `Basic ${ADMIN_TOKEN}`,
      ADMIN_TOKEN,
    ]) {
      const response = await h.server.inject({
        method: "POST",
        url: "/test/action",
        payload: { go: true },
        ...(authorization === undefined ? {} : { headers: { authorization } }),
      });
      expect(response.statusCode, String(authorization)).toBe(401);
      expect(response.headers["www-authenticate"]).toBe('Bearer realm="arango-pg-sync"');
    }
    expect(calls).toEqual([]);
  });

  it("answer 200 and run the handler with the right token", async () => {
    const h = harness();
    const { calls } = withTestRoute(h);
    for (const scheme of ["Bearer", "bearer"]) {
      const response = await h.server.inject({
        method: "POST",
        url: "/test/action",
        payload: { go: scheme },
        headers: { authorization: `${scheme} ${ADMIN_TOKEN}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ done: true });
    }
    expect(calls).toEqual([{ go: "Bearer" }, { go: "bearer" }]);
    expect(h.lines.filter((l) => l.includes('"msg":"admin call"'))).toHaveLength(2);
  });

  it("are refused with 403 when no admin token is configured", async () => {
    const h = harness({ config: config({}) });
    const { calls } = withTestRoute(h);
    const response = await h.server.inject({
      method: "POST",
      url: "/test/action",
      headers: { authorization: "Bearer anything-at-all-here" },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json<{ error: string }>().error).toContain("SYNC_ADMIN_TOKEN");
    expect(calls).toEqual([]);
  });
});

describe("secrets", () => {
  it("never appear in a log line or in /status, whatever the pipeline reports", async () => {
    const h = harness();
    h.server.mutating("DELETE", "/test/thing", () => Promise.resolve({ ok: true }));
    h.events.emit("source:error", {
      kind: "unavailable",
      retryable: true,
      message: `connect ECONNREFUSED ${ARANGO_URL}`,
    });
    h.events.emit("target:error", {
      kind: "unavailable",
      retryable: false,
      message: `bad ${PG_URL}`,
    });
    h.events.emit("pipeline:phase", { phase: "streaming", previous: undefined, reason: PG_URL });
    await h.server.inject({
      method: "DELETE",
      url: "/test/thing",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await h.server.inject({
      method: "DELETE",
      url: "/test/thing",
      headers: { authorization: `Bearer ${ARANGO_PASSWORD}-wrong` },
    });
    const status = await h.server.inject({ method: "GET", url: "/status" });

    expect(h.lines.length).toBeGreaterThan(4);
    for (const text of [...h.lines, status.body]) {
      for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
    expect(status.body).toContain("could not reach postgres://sync:***@db:5432/atspro");
    expect(status.body).toContain("login *** refused");
  });
});

describe("listening", () => {
  it("binds to the configured host, loopback by default", async () => {
    const cfg = config();
    expect(cfg.http.host).toBe("127.0.0.1");
    // Port 0 (any free port) is not a valid config value, so the test passes it directly.
    const { server } = harness({ config: cfg, port: 0 });
    const address = await server.listen();
    expect(address.host).toBe("127.0.0.1");
    const response = await fetch(`http://127.0.0.1:${address.port}/healthz`);
    expect(response.status).toBe(200);
  });
});
