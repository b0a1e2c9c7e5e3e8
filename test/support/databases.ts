/** Creating, cloning and dropping databases on the test server (used by setup and by tests). */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Client } from "pg";

export const BETTER_AUTH_FIXTURE = new URL("../../sql/demo/better-auth.sql", import.meta.url);

/** The URL of database `name` on the server of `serverUrl` (same host, port and credentials). */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** `host:port` of a URL, for messages that must not show the password. */
export function serverAddress(serverUrl: string): string {
  const url = new URL(serverUrl);
  return `${url.hostname}:${url.port || "5432"}`;
}

/**
 * A database name that says where it comes from and does not collide with parallel files or
 * parallel runs against the same server (TEST_PG_URL): `t_<label>_<random>`, within 63 bytes.
 */
export function uniqueDatabaseName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 40);
  return `t_${clean || "db"}_${randomBytes(4).toString("hex")}`;
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * CREATE DATABASE, from `template` when given. Cloning fails with 55006 while another session
 * is connected to the template; retry briefly in case one is still closing.
 */
export async function createDatabase(
  serverUrl: string,
  name: string,
  template?: string,
): Promise<void> {
  const sql = (client: Client) =>
    `CREATE DATABASE ${client.escapeIdentifier(name)}` +
    (template === undefined ? "" : ` TEMPLATE ${client.escapeIdentifier(template)}`);
  await withClient(serverUrl, async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(sql(client));
        return;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== "55006" || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });
}

/** DROP DATABASE … WITH (FORCE): connections a test forgot to close do not block the drop. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}

/** Creates better-auth's "user" and the application's tasks, as a real deployment has them. */
export async function loadBetterAuthFixture(url: string): Promise<void> {
  const sql = await readFile(BETTER_AUTH_FIXTURE, "utf8");
  await withClient(url, async (client) => {
    await client.query(sql);
  });
}
