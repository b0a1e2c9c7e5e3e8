/**
 * Per-file isolation: every test file works in its own database, cloned from the template the
 * global setup prepared (fixture tables plus all migrations), so files running in parallel never
 * see each other's rows. A file's databases are dropped after it, unless one of its tests failed
 * or KEEP_TEST_DB=1: then they are kept and named, so the state can be inspected.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, expect, inject } from "vitest";
import {
  createDatabase,
  databaseUrl,
  dropDatabase,
  serverAddress,
  uniqueDatabaseName,
} from "./databases.js";
import "./provided-context.js";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
}

/** URL of the server's maintenance database, for tests that need an empty database. */
export function serverUrl(): string {
  return inject("pgServerUrl");
}

export function serverVersion(): string {
  return inject("pgServerVersion");
}

function currentFileLabel(): string {
  const testPath = expect.getState().testPath;
  return testPath === undefined ? "test" : path.basename(testPath).replace(/\.test\.ts$/, "");
}

/**
 * A new database for the calling test file. `from: "template"` (the default) gives the fixture
 * tables and every migration; `from: "empty"` gives a database with nothing in it (template0).
 * The caller drops it, or uses `useTestDatabase` / `testDatabases` which do.
 */
export async function createTestDatabase(
  options: { from?: "template" | "empty"; label?: string } = {},
): Promise<TestDatabase> {
  const name = uniqueDatabaseName(options.label ?? currentFileLabel());
  const template = options.from === "empty" ? "template0" : inject("pgTemplateDatabase");
  await createDatabase(serverUrl(), name, template);
  return { name, url: databaseUrl(serverUrl(), name) };
}

/**
 * Databases created during a file, dropped in afterAll unless a test failed or KEEP_TEST_DB=1.
 * Call at the top level of a test file.
 */
export function testDatabases(): {
  fromTemplate(): Promise<TestDatabase>;
  empty(): Promise<TestDatabase>;
} {
  const created: TestDatabase[] = [];
  let anyFailed = false;
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      anyFailed = true;
    });
  });
  afterAll(async () => {
    const keepAll = process.env["KEEP_TEST_DB"] === "1";
    if (keepAll || anyFailed) {
      const why = keepAll ? "KEEP_TEST_DB=1" : "a test in this file failed";
      for (const db of created) {
        await writeFile(path.join(inject("pgKeptDatabasesDir"), db.name), db.url);
        process.stderr.write(
          `kept test database ${db.name} on ${serverAddress(serverUrl())} (${why})\n`,
        );
      }
      return;
    }
    for (const db of created) await dropDatabase(serverUrl(), db.name);
  });
  const track = async (from: "template" | "empty") => {
    const db = await createTestDatabase({ from });
    created.push(db);
    return db;
  };
  return { fromTemplate: () => track("template"), empty: () => track("empty") };
}

/**
 * The usual case: one template clone for the whole file, created in beforeAll. Read `url` and
 * `name` inside tests or hooks, not at module level (they exist only once beforeAll has run).
 */
export function useTestDatabase(): TestDatabase {
  const databases = testDatabases();
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await databases.fromTemplate();
  });
  const current = (): TestDatabase => {
    if (db === undefined) throw new Error("the test database exists only once beforeAll has run");
    return db;
  };
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
  };
}
