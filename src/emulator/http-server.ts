/**
 * The emulator's HTTP front: `/_db/<name>/` routing, authentication, request bodies, ArangoDB's
 * response headers and JSON error bodies, and a fault-injection hook for tests. Route files
 * register handlers on a `Router`; they never touch sockets.
 */
import { randomBytes } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ArangoError, ErrorNum } from "./arango-error.js";
import type { DatabaseState } from "./catalog.js";
import type { EmulatedServer, User } from "./emulated-server.js";

export interface RequestContext {
  readonly method: string;
  /** Path below the database prefix, e.g. `/_api/wal/tail`. */
  readonly path: string;
  /** Path parameters captured by `:name` segments, URI-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage["headers"];
  readonly databaseName: string;
  /** The authenticated user (root when authentication is off). */
  readonly username: string;
  readonly user: User;
  readonly rawBody: string;
  /** Parsed JSON body; undefined when the body is empty. Throws 600 on invalid JSON when read. */
  body(): unknown;
  database(): DatabaseState;
}

export interface HandlerResponse {
  status: number;
  /** An object is sent as compact JSON; a string as is (with the given content type). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (context: RequestContext) => HandlerResponse | Promise<HandlerResponse>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add("GET", pattern, handler);
  }
  post(pattern: string, handler: Handler): this {
    return this.add("POST", pattern, handler);
  }
  put(pattern: string, handler: Handler): this {
    return this.add("PUT", pattern, handler);
  }
  patch(pattern: string, handler: Handler): this {
    return this.add("PATCH", pattern, handler);
  }
  delete(pattern: string, handler: Handler): this {
    return this.add("DELETE", pattern, handler);
  }

  /** The matching route, "method" when only the method differs, or undefined. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | "method" | undefined {
    const parts = path.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method) return { handler: route.handler, params };
      pathMatched = true;
    }
    return pathMatched ? "method" : undefined;
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i] ?? "";
    const part = parts[i];
    if (segment.startsWith("*")) {
      params[segment.slice(1)] = parts.slice(i).map(decodeURIComponent).join("/");
      return params;
    }
    if (part === undefined) return undefined;
    if (segment.startsWith(":")) params[segment.slice(1)] = decodeURIComponent(part);
    else if (segment !== part) return undefined;
  }
  return parts.length === pattern.length ? params : undefined;
}

/** What a fault rule does to a matching request (test-only control surface). */
export type FaultAction =
  | { kind: "latency"; ms: number }
  | { kind: "status"; status: number }
  /** Sends the headers and part of the body, then destroys the socket: a torn NDJSON response. */
  | { kind: "tear"; afterBytes: number }
  /** Destroys the socket before anything is sent. */
  | { kind: "drop" };

export interface FaultRule {
  /** Matches paths (below the database prefix) that start with this. */
  pathPrefix: string;
  action: FaultAction;
  /** How many requests it affects; undefined: until cleared. */
  times?: number;
}

const STANDARD_HEADERS: Record<string, string> = {
  "cache-control":
    "no-cache, no-store, must-revalidate, pre-check=0, post-check=0, max-age=0, s-maxage=0",
  "content-security-policy": "frame-ancestors 'self'; form-action 'self';",
  expires: "0",
  pragma: "no-cache",
  server: "ArangoDB",
  "strict-transport-security": "max-age=31536000 ; includeSubDomains",
  "x-arango-queue-time-seconds": "0.000000",
  "x-content-type-options": "nosniff",
};

// Recorded 3.10–3.12 responses carry a bare `application/json` (arangodb-examples/).
export const JSON_CONTENT_TYPE = "application/json";

export class EmulatorHttpServer {
  readonly faults: FaultRule[] = [];
  /** Bearer tokens handed out by `POST /_open/auth`, mapped to user names. */
  readonly tokens = new Map<string, string>();
  private server: Server | undefined;
  private readonly sockets = new Set<import("node:net").Socket>();

  constructor(
    readonly state: EmulatedServer,
    readonly router: Router,
  ) {}

  async listen(port = 0, host = "127.0.0.1"): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Stops listening and cuts every open connection (a crash, as clients see it). */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  issueToken(username: string): string {
    const token = randomBytes(24).toString("base64url");
    this.tokens.set(token, username);
    return token;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let rawBody = "";
    try {
      rawBody = await readBody(req);
      const url = new URL(req.url ?? "/", "http://emulator");
      const { databaseName, path } = splitDatabase(url.pathname);
      const fault = this.takeFault(path);
      if (fault?.kind === "latency") await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (fault?.kind === "drop") {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === "status") {
        const error = new ArangoError(fault.status, fault.status, "injected fault");
        send(res, { status: fault.status, body: error.toBody() });
        return;
      }
      const response = await this.dispatch(req, url, databaseName, path, rawBody);
      if (fault?.kind === "tear") {
        tear(res, response, fault.afterBytes);
        return;
      }
      send(res, response);
    } catch (error) {
      const arangoError =
        error instanceof ArangoError
          ? error
          : new ArangoError(500, ErrorNum.HTTP_SERVER_ERROR, String(error));
      send(res, {
        status: arangoError.httpCode,
        body: arangoError.toBody(),
        headers: errorHeaders(arangoError),
      });
    }
  }

  private async dispatch(
    req: IncomingMessage,
    url: URL,
    databaseName: string,
    path: string,
    rawBody: string,
  ): Promise<HandlerResponse> {
    const method = req.method ?? "GET";
    const match = this.router.match(method, path);
    const { username, user } = this.identify(req.headers.authorization, path);
    const state = this.state;
    let parsed: { value: unknown } | undefined;
    const context: RequestContext = {
      method,
      path,
      params: typeof match === "object" ? match.params : {},
      query: url.searchParams,
      headers: req.headers,
      databaseName,
      username,
      user,
      rawBody,
      body() {
        if (parsed === undefined) parsed = { value: parseJson(rawBody) };
        return parsed.value;
      },
      database() {
        return state.database(databaseName);
      },
    };
    // Unknown databases answer 404/1228 before routing, as ArangoDB's request context does.
    context.database();
    // A user without at least read access to the database is not authorized to use it at all
    // (the comm task answers 401 when the user cannot use the request's database), except for
    // reading its own user entry in `_system`.
    const ownUserPath = `/_api/user/${encodeURIComponent(username)}`;
    const ownUser =
      databaseName === "_system" && (path === ownUserPath || path.startsWith(`${ownUserPath}/`));
    if (!isOpenPath(path) && !ownUser && state.databaseAccess(user, databaseName) === "none") {
      throw new ArangoError(401, ErrorNum.HTTP_UNAUTHORIZED, NOT_AUTHORIZED);
    }
    if (match === undefined) {
      throw new ArangoError(404, ErrorNum.HTTP_NOT_FOUND, `unknown path '${url.pathname}'`);
    }
    if (match === "method") throw new ArangoError(405, ErrorNum.HTTP_METHOD_NOT_ALLOWED);
    return match.handler(context);
  }

  /**
   * The user a request runs as. Paths below `/_open/` and the availability probe need no
   * credentials (RestAdminServerHandler::handleAvailability); they still see the caller when valid
   * credentials are sent (`/_open/auth/renew` needs the token's user), else an anonymous user.
   */
  private identify(header: string | undefined, path: string): { username: string; user: User } {
    if (isOpenPath(path)) {
      try {
        const username = this.authenticate(header);
        const user = this.state.users.get(username);
        if (user !== undefined && header !== undefined) return { username, user };
      } catch {
        // Credentials are optional here.
      }
      return { username: "", user: ANONYMOUS };
    }
    const username = this.authenticate(header);
    const user = this.state.users.get(username);
    if (user === undefined) throw new ArangoError(401, ErrorNum.HTTP_UNAUTHORIZED, NOT_AUTHORIZED);
    return { username, user };
  }

  /** The name of the user a bearer token was issued to, if the token is known. */
  tokenUser(header: string | undefined): string | undefined {
    const [scheme, credentials = ""] = (header ?? "").split(" ", 2);
    return scheme?.toLowerCase() === "bearer" ? this.tokens.get(credentials) : undefined;
  }

  private authenticate(header: string | undefined): string {
    if (!this.state.authentication) return "root";
    if (header === undefined)
      throw new ArangoError(401, ErrorNum.HTTP_UNAUTHORIZED, NOT_AUTHORIZED);
    const [scheme, credentials = ""] = header.split(" ", 2);
    if (scheme?.toLowerCase() === "basic") {
      const decoded = Buffer.from(credentials, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const username = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? "" : decoded.slice(colon + 1);
      const user = this.state.users.get(username);
      if (user?.active === true && user.password === password) return username;
    }
    if (scheme?.toLowerCase() === "bearer") {
      const username = this.tokens.get(credentials);
      if (username !== undefined && this.state.users.get(username)?.active === true)
        return username;
    }
    throw new ArangoError(401, ErrorNum.HTTP_UNAUTHORIZED, NOT_AUTHORIZED);
  }

  private takeFault(path: string): FaultAction | undefined {
    const index = this.faults.findIndex((rule) => path.startsWith(rule.pathPrefix));
    const rule = this.faults[index];
    if (rule === undefined) return undefined;
    if (rule.times !== undefined) {
      rule.times -= 1;
      if (rule.times <= 0) this.faults.splice(index, 1);
    }
    return rule.action;
  }
}

function splitDatabase(pathname: string): { databaseName: string; path: string } {
  if (!pathname.startsWith("/_db/")) return { databaseName: "_system", path: pathname };
  const rest = pathname.slice("/_db/".length);
  const slash = rest.indexOf("/");
  const name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  return { databaseName: name, path: slash < 0 ? "/" : rest.slice(slash) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ArangoError(400, ErrorNum.HTTP_CORRUPTED_JSON, "VPackError error: Expecting digit");
  }
}

/** A conflict on a single document also names its current revision in the etag header. */
function errorHeaders(error: ArangoError): Record<string, string> {
  const rev = error.extra["_rev"];
  return error.errorNum === ErrorNum.ARANGO_CONFLICT && typeof rev === "string"
    ? { etag: `"${rev}"` }
    : {};
}

/** The message of the server's own 401 (the HTTP manual's list of error codes). */
const NOT_AUTHORIZED = "not authorized to execute this request";

/** Requests that need no credentials: `/_open/*` and the availability probe. */
function isOpenPath(path: string): boolean {
  return path.startsWith("/_open/") || path === "/_admin/server/availability";
}

/** The identity of a request to an open path that came without valid credentials. */
const ANONYMOUS: User = { password: "", active: false, admin: false, databases: new Map() };

function encode(response: HandlerResponse): { payload: Buffer; contentType: string } {
  if (response.body === undefined) {
    return { payload: Buffer.alloc(0), contentType: response.contentType ?? JSON_CONTENT_TYPE };
  }
  if (typeof response.body === "string") {
    return {
      payload: Buffer.from(response.body),
      contentType: response.contentType ?? "text/plain; charset=utf-8",
    };
  }
  return {
    payload: Buffer.from(JSON.stringify(response.body)),
    contentType: response.contentType ?? JSON_CONTENT_TYPE,
  };
}

function send(res: ServerResponse, response: HandlerResponse): void {
  const { payload, contentType } = encode(response);
  res.writeHead(response.status, {
    ...STANDARD_HEADERS,
    "content-type": contentType,
    "content-length": String(payload.length),
    ...response.headers,
  });
  res.end(payload);
}

function tear(res: ServerResponse, response: HandlerResponse, afterBytes: number): void {
  const { payload, contentType } = encode(response);
  res.writeHead(response.status, {
    ...STANDARD_HEADERS,
    "content-type": contentType,
    "content-length": String(payload.length),
    ...response.headers,
  });
  res.write(payload.subarray(0, Math.min(afterBytes, payload.length)), () => res.socket?.destroy());
}
