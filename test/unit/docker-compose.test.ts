import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";

const composeFile = new URL("../../docker-compose.yml", import.meta.url);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

async function compose(): Promise<{ services: Record<string, Service> }> {
  // merge: true resolves the `<<:` keys the way Compose does.
  return parse(await readFile(composeFile, "utf8"), { merge: true }) as {
    services: Record<string, Service>;
  };
}

describe("docker-compose.yml", () => {
  it("is well-formed YAML", async () => {
    const document = parseDocument(await readFile(composeFile, "utf8"), { merge: true });
    expect(document.errors).toEqual([]);
    expect(document.warnings).toEqual([]);
  });

  it("runs ArangoDB 3.12 with a healthcheck on /_api/version", async () => {
    const { arangodb } = (await compose()).services;
    expect(arangodb?.image).toBe("arangodb:3.12");
    expect(arangodb?.healthcheck?.test?.join(" ")).toContain("/_api/version");
  });

  it("runs PostgreSQL 16 with logical decoding and the better-auth tables in place", async () => {
    const { postgres } = (await compose()).services;
    expect(postgres?.image).toBe("postgres:16");
    expect(postgres?.command).toContain("wal_level=logical");
    const init = postgres?.volumes?.find((v) => v.includes("docker-entrypoint-initdb.d"));
    const hostPath = init?.split(":")[0] ?? "";
    expect(existsSync(new URL(`../../${hostPath}`, import.meta.url))).toBe(true);
  });

  it("migrates before the daemon starts, and gives both the settings the config module reads", async () => {
    const services = (await compose()).services;
    const daemon = services["arango-pg-sync"];
    expect(daemon?.command).toEqual(["run"]);
    expect(daemon?.depends_on).toEqual({
      arangodb: { condition: "service_healthy" },
      postgres: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    });
    expect(services["migrate"]?.command).toEqual(["migrate"]);
    for (const service of [daemon, services["migrate"]]) {
      expect(Object.keys(service?.environment ?? {})).toEqual(
        expect.arrayContaining(["ARANGO_URL", "ARANGO_DATABASE", "ARANGO_PASSWORD", "PG_URL"]),
      );
    }
    expect(daemon?.environment?.["PG_URL"]).toMatch(
      /^postgres:\/\/atspro:.*@postgres:5432\/atspro$/,
    );
  });
});
