import { describe, expect, it } from "vitest";
import { configSchema, type Config } from "../../src/config/config-schema.js";
import { attachLogging, createLogger } from "../../src/observe/logger.js";
import { createRedactor, redactUrl, secretsOf } from "../../src/observe/redact.js";
import { SyncEvents } from "../../src/observe/sync-events.js";
import { FakeClock, committed } from "./event-builders.js";

const ARANGO_PASSWORD = "arango-Secret-pw";
const PG_PASSWORD = "pg-S3cret@x";
const ADMIN_TOKEN = "admintoken-0123456789abcdef";
const PG_URL = `postgres://sync:${encodeURIComponent(PG_PASSWORD)}@db:5432/atspro`;

function config(): Config {
  return configSchema.parse({
    arango: { url: "http://arangodb:8529", database: "atspro", password: ARANGO_PASSWORD },
    postgres: { url: PG_URL },
    http: { adminToken: ADMIN_TOKEN },
  });
}

const SECRET_FORMS = [ARANGO_PASSWORD, PG_PASSWORD, encodeURIComponent(PG_PASSWORD), ADMIN_TOKEN];

interface Line {
  level: string;
  msg: string;
  [key: string]: unknown;
}

function capture(level: "debug" | "info" | "trace" = "debug"): {
  lines: string[];
  parsed: () => Line[];
  logger: ReturnType<typeof createLogger>;
} {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    secrets: secretsOf(config()),
    destination: { write: (line) => lines.push(line) },
  });
  return { lines, parsed: () => lines.map((l) => JSON.parse(l) as Line), logger };
}

describe("redactUrl", () => {
  it("masks the password of a connection string and keeps the rest", () => {
    expect(redactUrl("postgres://sync:secret@db:5432/atspro")).toBe(
      "postgres://sync:***@db:5432/atspro",
    );
    expect(redactUrl("connect postgresql://u:p4ss@h/db failed")).toBe(
      "connect postgresql://u:***@h/db failed",
    );
    expect(redactUrl("http://root:pw@arangodb:8529/_api/version")).toBe(
      "http://root:***@arangodb:8529/_api/version",
    );
  });

  it("masks a password with an unencoded @ whole, and query-string passwords", () => {
    expect(redactUrl("postgres://u:p@ss@host/db")).toBe("postgres://u:***@host/db");
    expect(redactUrl("postgres://host/db?user=u&password=hunter22&sslmode=require")).toBe(
      "postgres://host/db?user=u&password=***&sslmode=require",
    );
    expect(redactUrl("Authorization: Bearer abcdefghijklmnop")).toBe("Authorization: Bearer ***");
  });

  it("leaves URLs without a password alone", () => {
    for (const text of ["postgres://sync@db/atspro", "http://arangodb:8529/_db/atspro", "a:b@c"]) {
      expect(redactUrl(text)).toBe(text);
    }
  });
});

describe("createRedactor", () => {
  it("masks configured secrets in values, censors secret fields, and prints bigints", () => {
    const redactor = createRedactor(secretsOf(config()));
    expect(
      redactor.value({
        note: `pw is ${ARANGO_PASSWORD}`,
        nested: [{ password: "anything", tick: 18446744073709551615n }],
      }),
    ).toEqual({
      note: "pw is ***",
      nested: [{ password: "[redacted]", tick: "18446744073709551615" }],
    });
  });

  it("does not mask short secrets everywhere (they would garble every line)", () => {
    const redactor = createRedactor(["ab"]);
    expect(redactor.text("a table named tab")).toBe("a table named tab");
  });
});

describe("createLogger", () => {
  it("writes one JSON line per call with the level name, and no configured secret in any form", () => {
    const { lines, parsed, logger } = capture();
    logger.info({ url: PG_URL }, "connecting");
    logger.error({ err: new Error(`connect failed: ${PG_URL}`) }, "cannot connect");
    logger.warn(`ArangoDB login as root/${ARANGO_PASSWORD} refused`);
    logger.info({ config: config() }, "effective configuration");
    logger.info({ nested: { deeper: { text: `token=${ADMIN_TOKEN}` } } }, "nested");
    logger.info({ headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, "request");
    logger.info({ password: "not-configured-but-a-password-field" }, "field");

    expect(lines).toHaveLength(7);
    for (const line of lines) {
      for (const secret of SECRET_FORMS) expect(line).not.toContain(secret);
      expect(line).not.toContain("not-configured-but-a-password-field");
    }
    const [connecting, failed, refused, effective] = parsed();
    expect(connecting).toMatchObject({
      level: "info",
      msg: "connecting",
      url: "postgres://sync:***@db:5432/atspro",
    });
    expect(failed?.level).toBe("error");
    expect(JSON.stringify(failed)).toContain("connect failed: postgres://sync:***@db:5432/atspro");
    expect(refused?.msg).toBe("ArangoDB login as root/*** refused");
    expect(JSON.stringify(effective)).toContain('"database":"atspro"');
  });

  it("honours the configured level", () => {
    const { lines, logger } = capture("info");
    logger.debug("hidden");
    logger.info("shown");
    expect(lines).toHaveLength(1);
  });
});

describe("attachLogging", () => {
  it("logs each meaningful event once, at its level", () => {
    const { parsed, logger } = capture();
    const events = new SyncEvents();
    attachLogging(events, logger);
    events.emit("pipeline:phase", { phase: "streaming", previous: "snapshotting" });
    events.emit("apply:batchCommitted", committed({ appliedTick: 18446744073709551615n }));
    events.emit("source:walGap", { from: 10n, tickMin: 20n, collections: ["jobs"] });
    events.emit("apply:deadLettered", {
      table: "jobs",
      collection: "jobs",
      reason: "not_in_enum",
      key: "k1",
      tick: 42n,
    });
    events.emit("target:foreignWrite", { table: "jobs", key: "k9", lsn: "0/16B3748" });
    events.emit("pipeline:queue", { events: 1, bytes: 1 });
    events.emit("pipeline:alive", {});

    const lines = parsed();
    expect(lines.map((l) => [l.level, l.msg.split(":")[0]])).toEqual([
      ["info", "phase"],
      ["info", "PostgreSQL reachable"],
      ["debug", "batch committed"],
      ["error", "WAL gap"],
      ["warn", "dead-lettered"],
      ["warn", "foreign write"],
    ]);
    expect(lines[0]).toMatchObject({
      phase: "streaming",
      previous: "snapshotting",
      module: "pipeline",
    });
    expect(lines[2]).toMatchObject({ appliedTick: "18446744073709551615" });
    expect(lines[3]).toMatchObject({ from: "10", tickMin: "20", collections: ["jobs"] });
    expect(lines[4]).toMatchObject({ table: "jobs", reason: "not_in_enum", tick: "42", key: "k1" });
    expect(lines[5]).toMatchObject({ table: "jobs", key: "k9", lsn: "0/16B3748" });
  });

  it("keeps document keys of dead letters out of lines above debug", () => {
    const { parsed, logger } = capture("info");
    const events = new SyncEvents();
    attachLogging(events, logger);
    events.emit("apply:deadLettered", {
      table: "jobs",
      collection: "jobs",
      reason: "missing_parent",
      key: "k1",
    });
    events.emit("apply:batchCommitted", committed());
    const lines = parsed();
    expect(lines).toHaveLength(2);
    expect(lines[0]?.msg).toBe("dead-lettered");
    expect(lines[0]).not.toHaveProperty("key");
    // The batch commit itself is a debug line; only the reachability change shows at info.
    expect(lines[1]?.msg).toBe("PostgreSQL reachable");
  });

  it("logs reachability changes once, and retryable failures as warnings", () => {
    const { parsed, logger } = capture("info");
    const events = new SyncEvents();
    attachLogging(events, logger);
    const arangoUrl = `http://root:${ARANGO_PASSWORD}@arangodb:8529`;
    events.emit("source:connected", { serverVersion: "3.12.4" });
    events.emit("source:connected", {});
    events.emit("source:error", {
      kind: "unavailable",
      retryable: true,
      message: `ECONNREFUSED ${arangoUrl}`,
      attempt: 1,
    });
    events.emit("source:error", { kind: "auth", retryable: false, message: "401 Unauthorized" });
    events.emit("source:connected", {});
    const lines = parsed();
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual([
      "info ArangoDB reachable",
      "warn ArangoDB call failed; retrying",
      "error ArangoDB call failed",
      "info ArangoDB reachable",
    ]);
    expect(JSON.stringify(lines[1])).toContain("http://root:***@arangodb:8529");
    expect(JSON.stringify(lines)).not.toContain(ARANGO_PASSWORD);
  });

  it("warns once per series of heartbeat or change-stream failures, and says when each is back", () => {
    const { parsed, logger } = capture("info");
    const events = new SyncEvents();
    attachLogging(events, logger);
    for (const attempt of [1, 2, 3]) {
      events.emit("source:heartbeatFailed", { kind: "auth", message: "read-only", attempt });
      events.emit("target:changeStreamFailed", { message: "ECONNREFUSED", attempt });
    }
    events.emit("target:changeStream", { up: false, reason: "ECONNREFUSED" });
    events.emit("source:heartbeatWritten", {});
    events.emit("source:heartbeatWritten", {});
    events.emit("target:changeStream", { up: true });
    events.emit("source:heartbeatFailed", {
      kind: "unavailable",
      message: "ETIMEDOUT",
      attempt: 1,
    });
    const lines = parsed();
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual([
      "warn heartbeat write failed; trying again every interval",
      "warn cannot read PostgreSQL's change stream: foreign writes are not counted until it is read again; retrying",
      "info heartbeat written again",
      "info reading PostgreSQL's change stream: foreign writes are counted",
      "warn heartbeat write failed; trying again every interval",
    ]);
    expect(lines[0]).toMatchObject({ kind: "auth", error: "read-only", attempt: 1 });
    expect(lines[1]).toMatchObject({ error: "ECONNREFUSED", attempt: 1 });
  });

  it("logs snapshot progress at most once per interval per collection, and the last chunk", () => {
    const { parsed, logger } = capture("info");
    const clock = new FakeClock();
    const events = new SyncEvents();
    attachLogging(events, logger, { clock: clock.now, progressIntervalMs: 10_000 });
    events.emit("snapshot:started", {
      tick: 7n,
      resnapshot: false,
      collections: [{ collection: "resumes", documents: 1_000 }],
    });
    for (let i = 1; i <= 10; i++) {
      clock.advance(2_000);
      events.emit("snapshot:progress", {
        collection: "resumes",
        documents: 100,
        remaining: 1_000 - i * 100,
      });
    }
    events.emit("snapshot:finished", { tick: 7n, durationMs: 20_000 });
    const progress = parsed().filter((l) => l.msg === "snapshot progress");
    expect(progress.map((l) => l["done"])).toEqual([100, 600, 1_000]);
    expect(progress[1]).toMatchObject({ remaining: 400, documentsPerSecond: 50, etaSeconds: 8 });
    expect(parsed().map((l) => l.msg)).toEqual([
      "snapshot started",
      "snapshot progress",
      "snapshot progress",
      "snapshot progress",
      "snapshot finished",
    ]);
  });

  it("reports consistency checks at info when clean and at warn with the drift", () => {
    const { parsed, logger } = capture("info");
    const events = new SyncEvents();
    attachLogging(events, logger);
    events.emit("verify:checked", {
      mode: "sample",
      checkedAtMs: 0,
      tables: [{ table: "jobs", checked: 10, inFlight: 1, drift: [] }],
    });
    events.emit("verify:checked", {
      mode: "full",
      checkedAtMs: 0,
      tables: [{ table: "jobs", checked: 10, inFlight: 0, drift: [{ kind: "extra", rows: 2 }] }],
    });
    const [clean, drift] = parsed();
    expect(clean).toMatchObject({ level: "info", checked: 10, inFlight: 1, drift: [] });
    expect(drift).toMatchObject({
      level: "warn",
      mode: "full",
      drift: [{ table: "jobs", kind: "extra", rows: 2 }],
    });
  });
});
