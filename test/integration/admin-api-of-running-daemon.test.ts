/**
 * Issue 4, acceptance 4, against the daemon as `run` composes it: `/healthz` answers 200 while
 * the loop turns; `/readyz` is 503 until the snapshot is done and while ArangoDB fails, 200
 * otherwise; the state-changing routes answer 401 without the admin token; and neither a log
 * line (at trace level, the most talkative) nor `/status` ever carries the ArangoDB password,
 * the PostgreSQL password or the admin token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/emulator.js";
import { ComposedDaemon, sumOf } from "../support/composed-daemon.js";
import {
  COLLECTIONS,
  SOURCE_DATABASE,
  generateAtspro,
  insertAll,
  seedUsers,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const ARANGO_PASSWORD = "arango-Pw-7f3kQ9";
const ADMIN_TOKEN = "admin-token-0123456789abcdef";

const database = useTestDatabase();
let emulator: Emulator;
let daemon: ComposedDaemon | undefined;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, rootPassword: ARANGO_PASSWORD });
  const source = emulator.state.createDatabase(SOURCE_DATABASE);
  for (const name of COLLECTIONS) emulator.state.createCollection(source, { name });
  const data = generateAtspro(9, 40);
  await seedUsers(database.url, data.users);
  insertAll(emulator.state, "resumes", data.resumes);
  insertAll(emulator.state, "jobs", data.jobs);
  insertAll(emulator.state, "documents", data.results);
});

afterAll(async () => {
  await daemon?.stop();
  await emulator.close();
});

interface Readiness {
  status: string;
  checks: Record<string, { ok: boolean; detail: string }>;
}

async function readiness(running: ComposedDaemon): Promise<{ code: number; body: Readiness }> {
  const answer = await running.get("/readyz");
  return { code: answer.status, body: JSON.parse(answer.body) as Readiness };
}

function secrets(): string[] {
  const pgPassword = decodeURIComponent(new URL(database.url).password);
  return [ARANGO_PASSWORD, ADMIN_TOKEN, ...(pgPassword === "" ? [] : [pgPassword])];
}

describe("the admin API of a running daemon", () => {
  it("is not ready until the snapshot is done, while alive all along", async () => {
    // The first dump chunk waits: the snapshot is visibly in progress.
    emulator.faults.add({
      pathPrefix: "/_api/replication/dump",
      action: { kind: "latency", ms: 2500 },
      times: 1,
    });
    daemon = await ComposedDaemon.start({
      arangoUrl: emulator.url,
      pgUrl: database.url,
      arangoPassword: ARANGO_PASSWORD,
      adminToken: ADMIN_TOKEN,
      logLevel: "trace",
    });
    const running = daemon;
    await running.until("readiness blames the snapshot", async () => {
      const { code, body } = await readiness(running);
      return code === 503 && body.checks["snapshot"]?.ok === false;
    });
    expect((await running.get("/healthz")).status).toBe(200);

    await running.until("ready", async () => (await readiness(running)).code === 200);
    const { body } = await readiness(running);
    expect(body.status).toBe("ready");
    expect(Object.values(body.checks).every((check) => check.ok)).toBe(true);
    expect((await running.get("/healthz")).status).toBe(200);
  });

  it("is not ready while ArangoDB fails, and ready again once it answers", async () => {
    const running = requireDaemon();
    const before = sumOf(await running.samples(), "arango_pg_sync_source_errors_total", {
      kind: "unavailable",
    });
    emulator.faults.add({
      pathPrefix: "/_api/wal/tail",
      action: { kind: "status", status: 503 },
      times: 4,
    });
    await running.until("readiness blames ArangoDB", async () => {
      const { code, body } = await readiness(running);
      return code === 503 && body.checks["source"]?.ok === false;
    });
    expect((await running.get("/healthz")).status).toBe(200);
    await running.until("ready again", async () => (await readiness(running)).code === 200);
    const errors = sumOf(await running.samples(), "arango_pg_sync_source_errors_total", {
      kind: "unavailable",
    });
    expect(errors - before).toBe(4);
  });

  it("refuses state-changing calls without the admin token", async () => {
    const running = requireDaemon();
    for (const path of ["/cutover", "/dead-letters/retry", "/dead-letters/discard"]) {
      const anonymous = await running.get(path, { method: "POST" });
      expect(anonymous.status, path).toBe(401);
      const wrong = await running.get(path, {
        method: "POST",
        headers: { authorization: "Bearer not-the-admin-token" },
      });
      expect(wrong.status, path).toBe(401);
      // With the token the call gets through to the route, which is not built yet.
      const allowed = await running.get(path, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(allowed.status, path).toBe(501);
    }
  });

  it("answers /status without a secret in it", async () => {
    const running = requireDaemon();
    const answer = await running.get("/status");
    expect(answer.status).toBe(200);
    const status = JSON.parse(answer.body) as {
      phase: string;
      ticks: { applied: string | null; source: string | null };
      collections: { collection: string; snapshot: { state: string } }[];
      unmappedCollections: { collection: string }[];
      lastConsistencyCheck: unknown;
    };
    expect(status.phase).toBe("streaming");
    expect(BigInt(status.ticks.applied ?? "0")).toBeGreaterThan(0n);
    expect(status.collections.map((c) => [c.collection, c.snapshot.state])).toEqual([
      ["resumes", "done"],
      ["jobs", "done"],
      ["documents", "done"],
    ]);
    expect(status.unmappedCollections.map((c) => c.collection)).toEqual(["task_results"]);
    expect(status.lastConsistencyCheck).toBeNull();
    for (const secret of secrets()) expect(answer.body).not.toContain(secret);
  });

  it("never writes a secret to a log line, through a clean stop", async () => {
    const running = requireDaemon();
    expect(await running.stop()).toBe(0);
    daemon = undefined;
    await expect(running.get("/healthz")).rejects.toThrow();
    expect(running.lines.length).toBeGreaterThan(20);
    expect(running.lines.some((line) => line.includes('"level":"trace"'))).toBe(true);
    expect(running.lines.some((line) => line.includes("admin call refused"))).toBe(true);
    for (const line of running.lines) {
      for (const secret of secrets()) expect(line).not.toContain(secret);
    }
  });
});

function requireDaemon(): ComposedDaemon {
  if (daemon === undefined) throw new Error("the daemon was not started");
  return daemon;
}
