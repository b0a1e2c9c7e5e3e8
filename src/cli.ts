#!/usr/bin/env node
/**
 * `arango-pg-sync <command>`: the contract of DESIGN.md §4. Commands that are not built yet say
 * so and exit 2 instead of pretending to work.
 */
import { Command, CommanderError } from "commander";
import { ExitCode, SyncError, messageOf } from "./errors.js";

type Action = (options: Record<string, unknown>) => Promise<number>;

function notBuilt(command: string): Action {
  return () => {
    throw new SyncError(
      "NOT_BUILT",
      `'${command}' is not built yet in this version of arango-pg-sync`,
    );
  };
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
    action: notBuilt("run"),
  },
  {
    name: "migrate",
    summary: "apply the sql/ migrations to PostgreSQL",
    action: notBuilt("migrate"),
  },
  { name: "snapshot", summary: "one-shot full load, then exit", action: notBuilt("snapshot") },
  {
    name: "status",
    summary: "phase, ticks, lag and per-collection counts",
    action: notBuilt("status"),
  },
  {
    name: "verify",
    summary: "compare PostgreSQL with ArangoDB (exit 0 consistent, 1 drift)",
    configure: (c) =>
      c.option("--full", "compare every row, not a sample").option("--json", "print JSON"),
    action: notBuilt("verify"),
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
    action: notBuilt("demo"),
  },
  {
    name: "emulator",
    summary: "run the ArangoDB emulator (for tests and the demo)",
    configure: (c) => c.option("--port <port>", "port to listen on", "8529"),
    action: notBuilt("emulator"),
  },
];

export function buildProgram(): Command {
  const program = new Command("arango-pg-sync")
    .description("Mirror ArangoDB collections into PostgreSQL, then cut over with proof.")
    .option("-c, --config <file>", "config file", "config/atspro.yaml")
    .exitOverride();
  for (const spec of commands) {
    const command = program.command(spec.name).description(spec.summary).exitOverride();
    spec.configure?.(command);
    command.action(async (...args: unknown[]) => {
      const options = args.find((a): a is Command => a instanceof Command)?.optsWithGlobals() ?? {};
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
