import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTestDatabase,
  serverUrl,
  useTestDatabase,
  type TestDatabase,
} from "../support/test-database.js";
import { dropDatabase, withClient } from "../support/databases.js";

const db = useTestDatabase();

describe("per-file test databases", () => {
  let other: TestDatabase;
  beforeAll(async () => {
    other = await createTestDatabase({ label: "isolation_other" });
  });
  afterAll(async () => {
    await dropDatabase(serverUrl(), other.name);
  });

  it("gives this file its own database, named after the file, with every migration applied", async () => {
    expect(db.name).toMatch(/^t_each_file_gets_its_own_database_[0-9a-f]{8}$/);
    await withClient(db.url, async (client) => {
      const { rows } = await client.query<{ current: string; versions: number[] }>(
        `SELECT current_database() AS current,
                (SELECT array_agg(version ORDER BY version) FROM arango_sync.schema_migrations) AS versions`,
      );
      expect(rows[0]?.current).toBe(db.name);
      expect(rows[0]?.versions).toEqual([1, 2, 3]);
    });
  });

  it("clones a distinct database each time, and rows written in one are not visible in another", async () => {
    expect(other.name).not.toBe(db.name);
    await withClient(db.url, (c) =>
      c.query(
        `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
         VALUES ('isolation-user', 'I', 'i@example.com', true, now(), now())`,
      ),
    );
    const count = async (url: string) =>
      withClient(url, async (c: Client) => {
        const { rows } = await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM "user" WHERE id = 'isolation-user'`,
        );
        return Number(rows[0]?.n);
      });
    expect(await count(db.url)).toBe(1);
    expect(await count(other.url)).toBe(0);
  });

  it("keeps the template itself closed to connections, so cloning cannot be blocked", async () => {
    await withClient(serverUrl(), async (client) => {
      const { rows } = await client.query<{ datallowconn: boolean }>(
        "SELECT datallowconn FROM pg_database WHERE datname = $1",
        [inject("pgTemplateDatabase")],
      );
      expect(rows[0]?.datallowconn).toBe(false);
    });
  });
});
