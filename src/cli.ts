#!/usr/bin/env node
/**
 * `arango-pg-sync <command>`: the contract of DESIGN.md §4. Commands that are not built yet say
 * so and exit 2 instead of pretending to work.
 */
import { Command, CommanderError } from "commander";
import type { Config } from "./config/config-schema.js";
import { loadConfig, requireSetting } from "./config/load-config.js";
import { ExitCode, SyncError, messageOf } from "./errors.js";
import { migrate } from "./sink/migrate.js";

type Action = (options: Record<string, unknown>) => Promise<number>;

function notBuilt(command: string): Action {
  return () => {
    throw new SyncError(
      "NOT_BUILT",
      `'${command}' is not built yet in this version of arango-pg-sync`,
    );
  };
}

/** Prints one line per migration file; exits with the error's code when one stopped the run. */
/** Config from file, env and the `--pg-url` flag, as every command that needs PostgreSQL reads it. */
async function configFrom(
  options: Record<string, unknown>,
): Promise<{ config: Config; configPath: string | undefined }> {
  const configPath = typeof options["config"] === "string" ? options["config"] : undefined;
  const pgUrl = typeof options["pgUrl"] === "string" ? options["pgUrl"] : undefined;
  const config = await loadConfig({
    ...(configPath === undefined ? {} : { configPath }),
    ...(pgUrl === undefined ? {} : { flags: { postgres: { url: pgUrl } } }),
  });
  return { config, configPath };
}

async function runCommand(options: Record<string, unknown>, once: boolean): Promise<number> {
  const { config, configPath } = await configFrom(options);
  const { limitHeapGrowth } = await import("./observe/heap-growth.js");
  limitHeapGrowth(config.sync.heapGrowthPercent);
  const { runDaemon } = await import("./pipeline/daemon-runner.js");
  return runDaemon({ config, configPath, once });
}

async function statusCommand(options: Record<string, unknown>): Promise<number> {
  const { config, configPath } = await configFrom(options);
  const { formatStatus, readStatus } = await import("./pipeline/status-report.js");
  const report = await readStatus(config, configPath);
  process.stdout.write(
    options["json"] === true ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report),
  );
  return ExitCode.ok;
}

async function verifyCommand(options: Record<string, unknown>): Promise<number> {
  const { config, configPath } = await configFrom(options);
  const verify = await import("./verify/verify-command.js");
  return verify.verifyCommand(config, configPath, {
    json: options["json"] === true,
    write: (text) => process.stdout.write(text),
  });
}

async function migrateCommand(options: Record<string, unknown>): Promise<number> {
  const configPath = typeof options["config"] === "string" ? options["config"] : undefined;
  const pgUrl = typeof options["pgUrl"] === "string" ? options["pgUrl"] : undefined;
  const config = await loadConfig({
    ...(configPath === undefined ? {} : { configPath }),
    ...(pgUrl === undefined ? {} : { flags: { postgres: { url: pgUrl } } }),
  });
  const url = requireSetting(config.postgres.url, "postgres.url", {
    flag: "--pg-url",
    ...(configPath === undefined ? {} : { configPath }),
  });
  const result = await migrate({ pgUrl: url });
  const width = Math.max(0, ...result.steps.map((s) => s.name.length));
  for (const step of result.steps) {
    const took = step.durationMs === undefined ? "" : ` (${step.durationMs} ms)`;
    process.stdout.write(`${step.name.padEnd(width)}  ${step.status.replace("-", " ")}${took}\n`);
  }
  if (result.error !== undefined) throw result.error;
  const applied = result.steps.filter((s) => s.status === "applied").length;
  process.stdout.write(
    `migrate: ${applied} applied, ${result.steps.length - applied} already applied\n`,
  );
  if (options["withChangeStream"] === true) await changeStream("create", config, url);
  return ExitCode.ok;
}

const CHANGE_STREAM_ACTIONS = ["create", "drop", "status"] as const;
type ChangeStreamAction = (typeof CHANGE_STREAM_ACTIONS)[number];

async function changeStreamCommand(options: Record<string, unknown>): Promise<number> {
  const action = Array.isArray(options["args"]) ? (options["args"][0] as unknown) : undefined;
  if (!CHANGE_STREAM_ACTIONS.some((a) => a === action)) {
    throw new SyncError(
      "USAGE",
      `change-stream: the action is create, drop or status, not '${String(action)}'`,
    );
  }
  const { config, configPath } = await configFrom(options);
  const pgUrl = requireSetting(config.postgres.url, "postgres.url", {
    flag: "--pg-url",
    ...(configPath === undefined ? {} : { configPath }),
  });
  await changeStream(action as ChangeStreamAction, config, pgUrl);
  return ExitCode.ok;
}

/** Creates, drops or shows the publication and slot the change-stream monitor reads. */
async function changeStream(
  action: ChangeStreamAction,
  config: Config,
  pgUrl: string,
): Promise<void> {
  const target = { pgUrl, ...config.changeStream };
  const slots = await import("./sink/change-stream-slot.js");
  if (action === "status") {
    const slot = await slots.readChangeStreamSlot(target);
    const state =
      slot === undefined
        ? "absent (run change-stream create)"
        : !slot.inThisDatabase
          ? `belongs to database ${slot.database}`
          : `${slot.active ? `read by PostgreSQL process ${slot.activePid ?? "?"}` : "not read right now (PostgreSQL keeps WAL for it)"}, confirmed up to ${slot.confirmedFlushLsn ?? "-"}`;
    process.stdout.write(`slot ${target.slot}: ${state}\n`);
    return;
  }
  let steps;
  if (action === "create") {
    const { mappingFromConfig } = await import("./pipeline/daemon-runner.js");
    const tables = mappingFromConfig(config).tables.map((t) => t.table);
    steps = await slots.createChangeStream({ ...target, tables });
  } else {
    steps = await slots.dropChangeStream(target);
  }
  for (const step of steps) {
    process.stdout.write(`${step.what} ${step.name}  ${step.status}\n`);
  }
}

interface CommandSpec {
  name: string;
  summary: string;
  configure?: (command: Command) => void;
  action: Action;
}

const commands: CommandSpec[] = [
  {
    name: "run",
    summary: "run the daemon: snapshot if needed, then tail the WAL",
    configure: (c) =>
      c.option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)"),
    action: (options) => runCommand(options, false),
  },
  {
    name: "migrate",
    summary: "apply the sql/ migrations to PostgreSQL",
    configure: (c) =>
      c
        .option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)")
        .option(
          "--with-change-stream",
          "also create the publication and replication slot the daemon reads (change-stream create)",
        ),
    action: migrateCommand,
  },
  {
    name: "change-stream",
    summary:
      "create | drop | status the PostgreSQL publication and replication slot that detect foreign writes",
    configure: (c) =>
      c
        .argument("<action>", "create, drop or status")
        .option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)"),
    action: changeStreamCommand,
  },
  {
    name: "snapshot",
    summary: "load everything (or resume a load), apply the WAL until caught up, then exit",
    configure: (c) =>
      c.option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)"),
    action: (options) => runCommand(options, true),
  },
  {
    name: "status",
    summary: "phase, ticks, lag and per-collection counts",
    configure: (c) =>
      c
        .option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)")
        .option("--json", "print JSON"),
    action: statusCommand,
  },
  {
    name: "verify",
    summary:
      "compare every PostgreSQL row with its ArangoDB document, re-mapped, and find rows ArangoDB does not have (exit 0 consistent, 1 drift)",
    configure: (c) =>
      c
        .option(
          "--full",
          "compare every row (what verify does with or without it: a sampled check is not built)",
        )
        .option("--json", "print the result as JSON")
        .option("--pg-url <url>", "PostgreSQL URL (overrides PG_URL and postgres.url)"),
    action: verifyCommand,
  },
  {
    name: "cutover",
    summary: "fence, drain, verify; report GO (exit 0) or NO-GO (exit 1)",
    configure: (c) =>
      c.option("--fence", "set ArangoDB read-only first").option("--json", "print JSON"),
    action: notBuilt("cutover"),
  },
  {
    name: "dead-letters",
    summary: "list | retry | discard dead-lettered events",
    configure: (c) => c.argument("<action>", "list, retry or discard"),
    action: notBuilt("dead-letters"),
  },
  {
    name: "replay",
    summary: "rebuild a table's projection from the journal",
    configure: (c) => c.requiredOption("--table <table>", "the table to rebuild"),
    action: notBuilt("replay"),
  },
  {
    name: "demo",
    summary: "embedded PostgreSQL + ArangoDB emulator + daemon + write load",
    configure: (c) =>
      c
        .option(
          "--duration <seconds>",
          "stop after this long, print a summary, exit 0 if consistent",
        )
        .option("--documents <n>", "ATSPro-shaped documents to load first (default 10000)")
        .option("--rate <n>", "background writes per second (default 50)")
        .option("--port <port>", "port of the ArangoDB emulator (default: a free one)")
        .option("--keep", "keep PostgreSQL's data directory and print how to start it again"),
    action: async (options) => {
      // Production modules must not import the emulator statically (DESIGN.md §3); the demo runs it.
      const { demoCommand } = await import("./demo/run-demo.js");
      return demoCommand(options);
    },
  },
  {
    name: "emulator",
    summary: "run the ArangoDB emulator (for tests and the demo)",
    configure: (c) =>
      c
        .option("--port <port>", "port to listen on", "8529")
        .option("--host <host>", "address to listen on", "127.0.0.1")
        .option("--root-password <password>", "password of the root user", "")
        .option("--no-auth", "serve every request as root, like --server.authentication false"),
    action: runEmulator,
  },
];

/** Runs the emulator until SIGINT or SIGTERM, then closes it (connections cut, state dropped). */
async function runEmulator(options: Record<string, unknown>): Promise<number> {
  const port = Number(options["port"]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SyncError(
      "USAGE",
      `--port must be a port number (0-65535), not '${String(options["port"])}'`,
    );
  }
  // Production modules must not import the emulator statically (DESIGN.md §3).
  const { startEmulator } = await import("./emulator/emulator.js");
  const emulator = await startEmulator({
    port,
    host: typeof options["host"] === "string" ? options["host"] : "127.0.0.1",
    rootPassword: typeof options["rootPassword"] === "string" ? options["rootPassword"] : "",
    authentication: options["auth"] !== false,
  });
  process.stdout.write(`arango-pg-sync emulator: listening on ${emulator.url}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  process.stdout.write(`arango-pg-sync emulator: ${signal}, stopping\n`);
  await emulator.close();
  return ExitCode.ok;
}

export function buildProgram(): Command {
  const program = new Command("arango-pg-sync")
    .description("Mirror ArangoDB collections into PostgreSQL, then cut over with proof.")
    .option("-c, --config <file>", "config file", "config/atspro.yaml")
    .exitOverride();
  for (const spec of commands) {
    const command = program.command(spec.name).description(spec.summary).exitOverride();
    spec.configure?.(command);
    command.action(async (...args: unknown[]) => {
      const invoked = args.find((a): a is Command => a instanceof Command);
      // Positional arguments travel as `args`, beside the options.
      const options = { ...(invoked?.optsWithGlobals() ?? {}), args: invoked?.args ?? [] };
      process.exitCode = await spec.action(options);
    });
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors with 1, which we map to 2.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof SyncError) {
      process.stderr.write(`arango-pg-sync: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`arango-pg-sync: unexpected error: ${messageOf(error)}\n`);
    return ExitCode.internal;
  }
}

process.exitCode = await main(process.argv);
