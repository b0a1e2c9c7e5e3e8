/**
 * The daemon exactly as `run` composes it (runDaemon: logger, metrics, health, `/status`, the
 * admin server, heartbeat, change-stream monitor), started in this process against an emulator
 * and a test database, and watched from outside like an operator would: through its HTTP port
 * and its log lines.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { parse } from "yaml";
import { configSchema } from "../../src/config/config-schema.js";
import { messageOf } from "../../src/errors.js";
import { runDaemon } from "../../src/pipeline/daemon-runner.js";
import { parseExposition, type Sample } from "../observe/exposition.js";
import { SOURCE_DATABASE } from "./sync-fixture.js";

export interface ComposedDaemonOptions {
  readonly arangoUrl: string;
  readonly pgUrl: string;
  readonly arangoPassword?: string;
  readonly adminToken?: string;
  readonly logLevel?: "trace" | "debug" | "info";
  /** Settings of the config's `sync:` section. */
  readonly sync?: Readonly<Record<string, unknown>>;
  readonly changeStream?: { readonly slot: string; readonly publication: string };
  readonly once?: boolean;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export class ComposedDaemon {
  /** Every log line so far (one JSON object each). */
  readonly lines: string[] = [];
  private readonly controller = new AbortController();
  private result: Promise<number> | undefined;
  private failure: unknown;

  private constructor(readonly baseUrl: string) {}

  static async start(options: ComposedDaemonOptions): Promise<ComposedDaemon> {
    const port = await freePort();
    const daemon = new ComposedDaemon(`http://127.0.0.1:${port}`);
    const atspro = parse(
      readFileSync(new URL("../../config/atspro.yaml", import.meta.url), "utf8"),
    ) as { mapping: unknown };
    const config = configSchema.parse({
      mapping: atspro.mapping,
      arango: {
        url: options.arangoUrl,
        database: SOURCE_DATABASE,
        username: "root",
        password: options.arangoPassword ?? "",
      },
      postgres: { url: options.pgUrl },
      http: {
        host: "127.0.0.1",
        port,
        ...(options.adminToken === undefined ? {} : { adminToken: options.adminToken }),
      },
      sync: { parkedRetrySeconds: 1, retryBudget: 50, ...options.sync },
      ...(options.changeStream === undefined ? {} : { changeStream: options.changeStream }),
      logLevel: options.logLevel ?? "debug",
    });
    daemon.result = runDaemon({
      config,
      once: options.once === true,
      signal: daemon.controller.signal,
      report: (line) => daemon.lines.push(line),
    });
    daemon.result.catch((error: unknown) => {
      daemon.failure = error;
    });
    await daemon.until("the admin server answers", async () => {
      daemon.throwIfFailed();
      return (await daemon.get("/healthz").catch(() => undefined)) !== undefined;
    });
    return daemon;
  }

  /** Stops it as SIGTERM would and returns its exit code. */
  async stop(): Promise<number> {
    this.controller.abort();
    return (await this.result) ?? -1;
  }

  async get(path: string, init: RequestInit = {}): Promise<HttpAnswer> {
    const response = await fetch(`${this.baseUrl}${path}`, init);
    return { status: response.status, body: await response.text() };
  }

  async samples(): Promise<Sample[]> {
    const answer = await this.get("/metrics");
    if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
    return parseExposition(answer.body);
  }

  /** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
  async until(
    what: string,
    check: () => boolean | Promise<boolean>,
    timeoutMs = 60_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.throwIfFailed();
      if (await check()) return;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting until ${what}; last log lines:\n${this.lines.slice(-15).join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw new Error(
        `the daemon stopped: ${messageOf(this.failure)}\n${this.lines.slice(-15).join("\n")}`,
      );
    }
  }
}

/** The sum of every sample of `name` whose labels include `labels` (0 when there is none). */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
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
