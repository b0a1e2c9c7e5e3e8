import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SyncError } from "../../src/errors.js";
import { configSchema } from "../../src/config/config-schema.js";
import { ENV_OVERRIDES, loadConfig, requireSetting } from "../../src/config/load-config.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const filePath = path.join(dir, name);
  await writeFile(filePath, text);
  return filePath;
}

async function problems(load: Promise<unknown>): Promise<string[]> {
  const error: unknown = await load.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  const syncError = error as SyncError;
  expect(syncError.code).toBe("CONFIG_INVALID");
  expect(syncError.exitCode).toBe(2);
  return syncError.message
    .split("\n")
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ""));
}

const PG_FROM_FILE = "postgres://file:filepw@file-host:5432/atspro";

describe("loadConfig", () => {
  it("fills defaults when there is no file and no env", async () => {
    const config = await loadConfig({ env: {}, configPath: path.join(dir, "absent.yaml") }).catch(
      () => undefined,
    );
    // A missing file that was asked for explicitly is an error...
    expect(config).toBeUndefined();
    // ...but the default path may be absent (run from a directory without config/).
    const defaults = await loadConfig({ env: {} });
    expect(defaults.http).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(defaults.logLevel).toBe("info");
    expect(defaults.arango.username).toBe("root");
    expect(defaults.postgres.url).toBeUndefined();
  });

  it("applies defaults < file < env < flags", async () => {
    const configPath = await file(
      "layers.yaml",
      `arango:\n  url: http://file-arango:8529\n  database: atspro\npostgres:\n  url: ${PG_FROM_FILE}\nhttp:\n  port: 9000\nlogLevel: warn\n`,
    );
    const fileOnly = await loadConfig({ configPath, env: {} });
    expect(fileOnly.postgres.url).toBe(PG_FROM_FILE);
    expect(fileOnly.http).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(fileOnly.arango).toEqual({
      url: "http://file-arango:8529",
      database: "atspro",
      username: "root",
    });

    const env = {
      PG_URL: "postgres://env@env-host/atspro",
      SYNC_HTTP_PORT: "9100",
      LOG_LEVEL: "debug",
      ARANGO_DATABASE: "other",
    };
    const withEnv = await loadConfig({ configPath, env });
    expect(withEnv.postgres.url).toBe("postgres://env@env-host/atspro");
    expect(withEnv.http.port).toBe(9100);
    expect(withEnv.logLevel).toBe("debug");
    expect(withEnv.arango.database).toBe("other");
    expect(withEnv.arango.url).toBe("http://file-arango:8529");

    const withFlags = await loadConfig({
      configPath,
      env,
      flags: { postgres: { url: "postgres://flag@flag-host/atspro" } },
    });
    expect(withFlags.postgres.url).toBe("postgres://flag@flag-host/atspro");
    expect(withFlags.http.port).toBe(9100);
  });

  it("reads every override named in DESIGN.md §4", async () => {
    const config = await loadConfig({
      env: {
        ARANGO_URL: "https://arango.example:8529",
        ARANGO_DATABASE: "atspro",
        ARANGO_USERNAME: "sync",
        ARANGO_PASSWORD: "arango-secret",
        PG_URL: "postgresql://sync@pg/atspro",
        SYNC_HTTP_HOST: "0.0.0.0",
        SYNC_HTTP_PORT: "9464",
        SYNC_ADMIN_TOKEN: "0123456789abcdef0123",
        LOG_LEVEL: "trace",
      },
    });
    expect(config).toMatchObject({
      arango: {
        url: "https://arango.example:8529",
        database: "atspro",
        username: "sync",
        password: "arango-secret",
      },
      postgres: { url: "postgresql://sync@pg/atspro" },
      http: { host: "0.0.0.0", port: 9464, adminToken: "0123456789abcdef0123" },
      logLevel: "trace",
    });
    expect(ENV_OVERRIDES.map((o) => o.name)).toEqual([
      "ARANGO_URL",
      "ARANGO_DATABASE",
      "ARANGO_USERNAME",
      "ARANGO_PASSWORD",
      "PG_URL",
      "SYNC_HTTP_HOST",
      "SYNC_HTTP_PORT",
      "SYNC_ADMIN_TOKEN",
      "LOG_LEVEL",
    ]);
  });

  it("reads secrets from NAME_FILE without the trailing newline", async () => {
    const password = await file("arango-password", "s3cret with spaces \n");
    const token = await file("token", "abcdefghijklmnopqrstuvwxyz\r\n");
    const pgUrl = await file("pg-url", `${PG_FROM_FILE}\n`);
    const config = await loadConfig({
      env: {
        ARANGO_PASSWORD_FILE: password,
        SYNC_ADMIN_TOKEN_FILE: token,
        PG_URL_FILE: pgUrl,
      },
    });
    expect(config.arango.password).toBe("s3cret with spaces ");
    expect(config.http.adminToken).toBe("abcdefghijklmnopqrstuvwxyz");
    expect(config.postgres.url).toBe(PG_FROM_FILE);
  });

  it("treats an empty variable as unset", async () => {
    const configPath = await file("empty-env.yaml", `postgres:\n  url: ${PG_FROM_FILE}\n`);
    const config = await loadConfig({ configPath, env: { PG_URL: "", SYNC_HTTP_PORT: "" } });
    expect(config.postgres.url).toBe(PG_FROM_FILE);
    expect(config.http.port).toBe(9464);
  });

  it("keeps unknown top-level sections for the modules that own them", async () => {
    const configPath = await file(
      "mapping.yaml",
      "mapping:\n  resumes:\n    table: resumes\nlogLevel: info\n",
    );
    const config = await loadConfig({ configPath, env: {} });
    expect(config["mapping"]).toEqual({ resumes: { table: "resumes" } });
  });

  it("reports every problem on its own line, with where the value came from and never the value", async () => {
    const configPath = await file(
      "bad.yaml",
      "postgres:\n  url: mysql://user:hunter2@db/atspro\nhttp:\n  hots: 0.0.0.0\n  adminToken: short\nlogLevel: loud\n",
    );
    const lines = await problems(
      loadConfig({ configPath, env: { SYNC_HTTP_PORT: "99999", ARANGO_URL: "ftp://arango" } }),
    );
    expect(lines).toHaveLength(6);
    expect(lines).toContain(
      `postgres.url (from ${configPath}): must be a postgres:// or postgresql:// URL`,
    );
    expect(lines).toContain(`arango.url (from ARANGO_URL): must be an http:// or https:// URL`);
    expect(lines.find((l) => l.startsWith("http.port (from SYNC_HTTP_PORT):"))).toMatch(/65535/);
    expect(lines.find((l) => l.startsWith(`http (from ${configPath}):`))).toMatch(/hots/);
    expect(lines.find((l) => l.startsWith("http.adminToken"))).toMatch(/at least 16 characters/);
    expect(lines.find((l) => l.startsWith("logLevel"))).toMatch(/info/);
    expect(lines.join("\n")).not.toContain("hunter2");
  });

  it("refuses a secret given both directly and as a file, and an unreadable secret file", async () => {
    const lines = await problems(
      loadConfig({
        env: {
          ARANGO_PASSWORD: "x",
          ARANGO_PASSWORD_FILE: "/somewhere",
          SYNC_ADMIN_TOKEN_FILE: path.join(dir, "no-such-token"),
        },
      }),
    );
    expect(lines).toEqual([
      "arango.password: both ARANGO_PASSWORD and ARANGO_PASSWORD_FILE are set; unset one of them",
      expect.stringMatching(
        /^http\.adminToken \(from SYNC_ADMIN_TOKEN_FILE\): cannot read .*no-such-token/,
      ),
    ]);
  });

  it("reports YAML syntax errors and a top level that is not a mapping", async () => {
    const broken = await file("broken.yaml", "postgres:\n  url: [unclosed\n");
    expect(await problems(loadConfig({ configPath: broken, env: {} }))).toEqual([
      expect.stringMatching(new RegExp(`^${broken}: not valid YAML: .*line`)),
    ]);
    const list = await file("list.yaml", "- a\n- b\n");
    expect(await problems(loadConfig({ configPath: list, env: {} }))).toEqual([
      `${list}: the top level must be a mapping of sections (arango, postgres, ...)`,
    ]);
  });

  it("accepts an empty file", async () => {
    const empty = await file("empty.yaml", "");
    expect((await loadConfig({ configPath: empty, env: {} })).logLevel).toBe("info");
  });
});

describe("requireSetting", () => {
  it("returns a value that is set", () => {
    expect(requireSetting("postgres://x", "postgres.url")).toBe("postgres://x");
  });

  it("says every way to set a missing value", () => {
    expect(() => requireSetting(undefined, "postgres.url", { flag: "--pg-url" })).toThrow(
      "postgres.url is not set: pass --pg-url, set PG_URL (or PG_URL_FILE), or set postgres.url in config/atspro.yaml",
    );
    expect(() => requireSetting(undefined, "arango.database", { configPath: "my.yaml" })).toThrow(
      "arango.database is not set: set ARANGO_DATABASE, or set arango.database in my.yaml",
    );
  });
});

describe("configSchema", () => {
  it("describes every key, so the documentation can be generated from it", () => {
    const undocumented: string[] = [];
    const visit = (schema: z.ZodType, key: string) => {
      if (schema.description === undefined) undocumented.push(key);
      let inner: unknown = schema;
      // Unwrap optional/default/prefault wrappers down to an object, if any.
      while (
        inner instanceof z.ZodOptional ||
        inner instanceof z.ZodDefault ||
        inner instanceof z.ZodPrefault
      ) {
        inner = inner.unwrap();
      }
      if (inner instanceof z.ZodObject) {
        const shape: Readonly<Record<string, z.ZodType>> = inner.shape;
        for (const [name, child] of Object.entries(shape)) {
          visit(child, key === "" ? name : `${key}.${name}`);
        }
      }
    };
    visit(configSchema, "");
    expect(undocumented).toEqual([]);
  });
});
