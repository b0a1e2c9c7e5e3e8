/**
 * The daemon as operators run it: `node --import tsx src/cli.ts <command>` (or the built
 * `dist/cli.js`) in a child process, configured through a YAML file (the ATSPro mapping plus a `sync:` section) and the environment.
 * Crash tests kill it with SIGKILL, so everything they learn about it comes from outside: its
 * exit, its stderr (kept for failure messages only, its format is not a contract), the emulator
 * and PostgreSQL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { SOURCE_DATABASE } from "./sync-fixture.js";

export const REPOSITORY_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How a child runs the CLI: from the sources through tsx (tests), or as built (`npm run build`). */
export const SOURCE_ENTRY: readonly string[] = [
  "--import",
  "tsx",
  path.join(REPOSITORY_ROOT, "src/cli.ts"),
];
export const BUILT_ENTRY: readonly string[] = [path.join(REPOSITORY_ROOT, "dist/cli.js")];

/** Settings of the config file's `sync:` section (src/config/config-schema.ts). */
export type SyncSettings = Readonly<Record<string, number | boolean | string>>;

/**
 * A temporary directory holding a config file with the `mapping:` section of
 * config/atspro.yaml and the given `sync:` section.
 */
export async function writeDaemonConfig(
  sync: SyncSettings,
): Promise<{ path: string; remove(): Promise<void> }> {
  const atspro = parse(readFileSync(path.join(REPOSITORY_ROOT, "config/atspro.yaml"), "utf8")) as {
    mapping: unknown;
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-daemon-"));
  const file = path.join(dir, "config.yaml");
  await writeFile(file, stringify({ mapping: atspro.mapping, sync }));
  return { path: file, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface DaemonTarget {
  readonly arangoUrl: string;
  readonly pgUrl: string;
  readonly configPath: string;
}

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A port nothing listens on right now (for the admin HTTP server, should the command start it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Characters of the daemon's output kept for failure messages. */
const OUTPUT_KEPT = 64 * 1024;

export class DaemonProcess {
  readonly exited: Promise<DaemonExit>;
  private output = "";

  private constructor(
    private readonly child: ChildProcess,
    readonly command: string,
  ) {
    const keep = (chunk: Buffer): void => {
      // The end is what explains a failure; a long run's whole log is not needed.
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stderr?.on("data", keep);
    child.stdout?.on("data", keep);
    this.exited = new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  static async start(
    command: "run" | "snapshot",
    target: DaemonTarget,
    env: Readonly<Record<string, string>> = {},
    nodeArgs: readonly string[] = [],
    entry: readonly string[] = SOURCE_ENTRY,
  ): Promise<DaemonProcess> {
    const child = spawn(
      process.execPath,
      [...nodeArgs, ...entry, "--config", target.configPath, command],
      {
        cwd: REPOSITORY_ROOT,
        env: {
          ...process.env,
          ARANGO_URL: target.arangoUrl,
          ARANGO_DATABASE: SOURCE_DATABASE,
          ARANGO_USERNAME: "root",
          ARANGO_PASSWORD: "",
          PG_URL: target.pgUrl,
          SYNC_HTTP_PORT: String(await freePort()),
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    return new DaemonProcess(child, command);
  }

  /** stdout and stderr so far, interleaved as they arrived. */
  get log(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL, then waits until the process is gone. */
  async kill(): Promise<DaemonExit> {
    this.signal("SIGKILL");
    return this.exited;
  }

  /** The exit, or a failure with the daemon's output when it takes longer than `timeoutMs`. */
  async exit(timeoutMs: number): Promise<DaemonExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `${this.command} did not exit within ${timeoutMs} ms; output:\n${this.output.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
