/**
 * An HTTP pass-through between the daemon and the emulator that records the replication calls
 * the daemon makes: every `wal/tail` request (its `from`), when its response was handed to the
 * daemon's socket and what it said (`lastincluded`, `checkmore`), and the dump requests. A crash
 * test uses it to tell where a SIGKILL landed (still dumping, holding WAL it has not applied yet,
 * inside a source transaction, idle after a commit) from evidence rather than from timing.
 */
import {
  Agent,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from "node:http";
import type { Socket } from "node:net";

export interface TailExchange {
  /** The daemon's tail position when it asked: it had processed every marker up to here. */
  readonly from: bigint;
  readonly startedAt: number;
  /** When the whole response was written to the daemon's socket; undefined while in flight. */
  finishedAt: number | undefined;
  status: number | undefined;
  /** `x-arango-replication-lastincluded` (0 for an empty response). */
  lastIncluded: bigint | undefined;
  checkMore: boolean | undefined;
}

export class ReplicationTap {
  /**
   * Tail exchanges of the stream since the last `reset()`, oldest first: those asking for the
   * stream's chunk size. Other tail calls only register the daemon's position with the server
   * (their answer is not applied), and are counted in `registrations`.
   */
  tails: TailExchange[] = [];
  registrations = 0;
  /** Dump requests since the last `reset()`. */
  dumps = 0;
  private readonly waiters = new Set<() => void>();
  private readonly sockets = new Set<Socket>();
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    private readonly streamChunkSize: number,
    readonly url: string,
  ) {}

  /** `streamChunkSize`: the daemon's `sync.tailChunkSize`, which tells its stream's calls apart. */
  static async start(upstreamUrl: string, streamChunkSize: number): Promise<ReplicationTap> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const tap = new ReplicationTap(
      server,
      new URL(upstreamUrl),
      streamChunkSize,
      `http://127.0.0.1:${port}`,
    );
    server.on("request", (req: IncomingMessage, res: ServerResponse) => tap.forward(req, res));
    server.on("connection", (socket: Socket) => {
      tap.sockets.add(socket);
      socket.on("close", () => tap.sockets.delete(socket));
    });
    return tap;
  }

  /** Forgets what was recorded (a new daemon process starts). */
  reset(): void {
    this.tails = [];
    this.registrations = 0;
    this.dumps = 0;
  }

  get tailsInFlight(): number {
    return this.tails.filter((t) => t.finishedAt === undefined).length;
  }

  /** The newest tail request, answered or not. */
  get latestTail(): TailExchange | undefined {
    return this.tails[this.tails.length - 1];
  }

  /** The newest tail exchange whose response was handed over completely. */
  get lastAnswered(): TailExchange | undefined {
    for (let i = this.tails.length - 1; i >= 0; i--) {
      const exchange = this.tails[i];
      if (exchange?.finishedAt !== undefined) return exchange;
    }
    return undefined;
  }

  /**
   * Resolves once `condition` holds (checked now and after every recorded event), or with false
   * after `timeoutMs`.
   */
  async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return true;
    return new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        finish(true);
      };
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://tap");
    let exchange: TailExchange | undefined;
    const streamCall = url.searchParams.get("chunkSize") === String(this.streamChunkSize);
    if (url.pathname.endsWith("/_api/wal/tail") && !streamCall) {
      this.registrations += 1;
    } else if (url.pathname.endsWith("/_api/wal/tail")) {
      exchange = {
        from: BigInt(url.searchParams.get("from") ?? "0"),
        startedAt: Date.now(),
        finishedAt: undefined,
        status: undefined,
        lastIncluded: undefined,
        checkMore: undefined,
      };
      this.tails.push(exchange);
    } else if (url.pathname.endsWith("/_api/replication/dump")) {
      this.dumps += 1;
    }
    this.notify();
    const upstream = request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        res.on("finish", () => {
          if (exchange === undefined) return;
          const header = (name: string): string | undefined => {
            const value = answer.headers[`x-arango-replication-${name}`];
            return typeof value === "string" ? value : undefined;
          };
          exchange.status = answer.statusCode;
          exchange.lastIncluded = BigInt(header("lastincluded") ?? "0");
          exchange.checkMore = header("checkmore") === "true";
          exchange.finishedAt = Date.now();
          this.notify();
        });
      },
    );
    upstream.on("error", () => res.destroy());
    // The daemon died or gave up: the server's answer has nobody to go to.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
