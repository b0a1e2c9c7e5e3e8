import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { SyncError, messageOf } from "../errors.js";
import {
  DEFAULT_CONFIG_PATH,
  configSchema,
  type Config,
  type ConfigOverrides,
} from "./config-schema.js";

/** The settings a command can require, by their path in the config file. */
export type SettingKey =
  | "arango.url"
  | "arango.database"
  | "arango.username"
  | "arango.password"
  | "postgres.url"
  | "http.host"
  | "http.port"
  | "http.adminToken"
  | "logLevel";

interface EnvOverride {
  readonly name: string;
  readonly key: SettingKey;
  /** Secrets can also come from a file named by NAME_FILE (Docker and Kubernetes secrets). */
  readonly secret: boolean;
}

/** DESIGN.md §4: the env variables that override the file. */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: "ARANGO_URL", key: "arango.url", secret: false },
  { name: "ARANGO_DATABASE", key: "arango.database", secret: false },
  { name: "ARANGO_USERNAME", key: "arango.username", secret: false },
  { name: "ARANGO_PASSWORD", key: "arango.password", secret: true },
  { name: "PG_URL", key: "postgres.url", secret: true },
  { name: "SYNC_HTTP_HOST", key: "http.host", secret: false },
  { name: "SYNC_HTTP_PORT", key: "http.port", secret: false },
  { name: "SYNC_ADMIN_TOKEN", key: "http.adminToken", secret: true },
  { name: "LOG_LEVEL", key: "logLevel", secret: false },
];

export interface LoadConfigOptions {
  /** The YAML file; a missing file is fine only at the default path. */
  configPath?: string;
  /** Defaults to process.env: this module is the only one that reads the environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line flags: they win over everything else. */
  flags?: ConfigOverrides;
}

type Layer = Record<string, unknown>;

/**
 * Builds the one typed Config: defaults < file < env < flags. Every problem found is reported
 * at once, one line each, naming where the bad value came from (never the value: it may be a
 * secret).
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const configPath = options.configPath ?? DEFAULT_CONFIG_PATH;
  const problems: string[] = [];
  const origins = new Map<string, string>();
  const merged: Layer = {};

  const file = await readConfigFile(configPath, configPath === DEFAULT_CONFIG_PATH, problems);
  if (file !== undefined) {
    for (const [key, value] of Object.entries(file)) {
      merged[key] = value;
      if (isPlainObject(value)) {
        for (const inner of Object.keys(value)) origins.set(`${key}.${inner}`, configPath);
      }
      origins.set(key, configPath);
    }
  }

  for (const override of ENV_OVERRIDES) {
    const value = readEnv(env, override, problems);
    if (value === undefined) continue;
    setKey(merged, override.key, value.value);
    origins.set(override.key, value.origin);
  }

  for (const [section, values] of Object.entries(options.flags ?? {})) {
    if (isPlainObject(values)) {
      for (const [inner, value] of Object.entries(values)) {
        if (value === undefined) continue;
        setKey(merged, `${section}.${inner}`, value);
        origins.set(`${section}.${inner}`, "command line");
      }
    } else if (values !== undefined) {
      setKey(merged, section, values);
      origins.set(section, "command line");
    }
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const segments = issue.path.map(String);
      const key = segments.join(".");
      const origin = originOf(origins, segments);
      problems.push(
        `${key === "" ? "(top level)" : key}${origin === undefined ? "" : ` (from ${origin})`}: ${issue.message}`,
      );
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new SyncError(
      "CONFIG_INVALID",
      `invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return result.data;
}

/**
 * The value of a setting a command cannot run without, or a CONFIG_INVALID error saying every
 * way to provide it.
 */
export function requireSetting<T>(
  value: T | undefined,
  key: SettingKey,
  hints: { flag?: string; configPath?: string } = {},
): T {
  if (value !== undefined) return value;
  const override = ENV_OVERRIDES.find((o) => o.key === key);
  const ways = [
    ...(hints.flag === undefined ? [] : [`pass ${hints.flag}`]),
    ...(override === undefined
      ? []
      : [`set ${override.name}${override.secret ? ` (or ${override.name}_FILE)` : ""}`]),
    `set ${key} in ${hints.configPath ?? DEFAULT_CONFIG_PATH}`,
  ];
  const last = ways.pop() ?? "";
  throw new SyncError(
    "CONFIG_INVALID",
    `${key} is not set: ${ways.length > 0 ? `${ways.join(", ")}, or ${last}` : last}`,
  );
}

async function readConfigFile(
  configPath: string,
  optional: boolean,
  problems: string[],
): Promise<Layer | undefined> {
  let text: string;
  try {
    text = await readFile(configPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && optional) return undefined;
    problems.push(`${configPath}: cannot read the config file: ${messageOf(error)}`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    // yaml's messages end with a code excerpt over several lines; the first line has the position.
    problems.push(`${configPath}: not valid YAML: ${messageOf(error).split("\n")[0] ?? ""}`);
    return undefined;
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) {
    problems.push(
      `${configPath}: the top level must be a mapping of sections (arango, postgres, ...)`,
    );
    return undefined;
  }
  return parsed;
}

/**
 * An env override, from NAME or, for secrets, from the file named by NAME_FILE (its trailing
 * newline removed: `echo secret > file` must not put a newline into the password). An empty
 * variable counts as unset, so `PG_URL=` in a compose file does not mask the config file.
 */
function readEnv(
  env: Readonly<Record<string, string | undefined>>,
  override: EnvOverride,
  problems: string[],
): { value: string; origin: string } | undefined {
  const direct = nonEmpty(env[override.name]);
  const fileName = override.secret ? nonEmpty(env[`${override.name}_FILE`]) : undefined;
  if (direct !== undefined && fileName !== undefined) {
    problems.push(
      `${override.key}: both ${override.name} and ${override.name}_FILE are set; unset one of them`,
    );
    return undefined;
  }
  if (direct !== undefined) return { value: direct, origin: override.name };
  if (fileName === undefined) return undefined;
  try {
    return {
      value: readSecretFile(fileName),
      origin: `${override.name}_FILE`,
    };
  } catch (error) {
    problems.push(
      `${override.key} (from ${override.name}_FILE): cannot read ${fileName}: ${messageOf(error)}`,
    );
    return undefined;
  }
}

// Synchronous so that readEnv stays a plain loop; these files are a few bytes.
function readSecretFile(fileName: string): string {
  return readFileSync(fileName, "utf8").replace(/\r?\n+$/, "");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function isPlainObject(value: unknown): value is Layer {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Sets `section.key` (or a top-level key). A section the file set to something other than a
 * mapping is left alone, so validation reports the file's mistake instead of hiding it.
 */
function setKey(target: Layer, key: string, value: unknown): void {
  const [section, inner] = key.split(".", 2) as [string, string | undefined];
  if (inner === undefined) {
    target[section] = value;
    return;
  }
  const existing = target[section];
  if (existing !== undefined && !isPlainObject(existing)) return;
  target[section] = { ...existing, [inner]: value };
}

function originOf(origins: ReadonlyMap<string, string>, segments: string[]): string | undefined {
  for (let length = segments.length; length > 0; length--) {
    const origin = origins.get(segments.slice(0, length).join("."));
    if (origin !== undefined) return origin;
  }
  return undefined;
}
