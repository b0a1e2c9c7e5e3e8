/**
 * The admin HTTP server (fastify): `/metrics`, `/healthz`, `/readyz`, `/status`, and the routes
 * that change state, each behind the admin bearer token. Routing and authentication only: every
 * answer comes from an object passed in (metrics registry, health state, status renderer), so the
 * logic stays where it can be tested without HTTP.
 *
 * It binds to the configured `http.host`, loopback unless the operator says otherwise: the read
 * routes carry no authentication (Prometheus scrapes `/metrics`), so they must not be exposed by
 * accident.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import {
  LogController,
  fastify,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type InjectOptions,
  type LightMyRequestResponse,
} from "fastify";
import type { Liveness, Readiness } from "../observe/health.js";
import type { Logger } from "../observe/logger.js";

export interface AdminServerOptions {
  /** `http.host` from the config (default 127.0.0.1). */
  readonly host: string;
  /** `http.port` from the config (default 9464); 0 picks a free port. */
  readonly port: number;
  /** `http.adminToken` (SYNC_ADMIN_TOKEN); without it every state-changing route is refused. */
  readonly adminToken: string | undefined;
  readonly logger: Logger;
  readonly metrics: { readonly contentType: string; render(): Promise<string> };
  readonly health: { liveness(): Liveness; readiness(): Readiness };
  /** The `/status` document, already redacted (observe/status.ts). */
  readonly status: () => Promise<unknown>;
}

export type MutatingMethod = "POST" | "PUT" | "PATCH" | "DELETE";
export type AdminHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface AdminServer {
  /**
   * Adds a route that changes state: it answers 401 without the right bearer token and 403 when
   * no token is configured. Register routes before `listen()`.
   */
  mutating(method: MutatingMethod, path: string, handler: AdminHandler): void;
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** Answers a request without a socket (tests). */
  inject(request: InjectOptions): Promise<LightMyRequestResponse>;
}

const REALM = 'Bearer realm="arango-pg-sync"';

export function createAdminServer(options: AdminServerOptions): AdminServer {
  const log = options.logger.child({ module: "http" });
  // Typed as fastify's base logger so routes and hooks use fastify's default request types.
  const loggerInstance: FastifyBaseLogger = log;
  const app: FastifyInstance = fastify({
    loggerInstance,
    // A scrape every few seconds would bury everything else; state changes are logged below.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const statusCode = error.statusCode ?? 500;
    if (statusCode >= 500) {
      request.log.error({ err: error, url: request.url }, "admin request failed");
      // The message of an internal failure may describe internals; the log has it.
      return reply.code(500).send({ error: "internal error (see the daemon's log)" });
    }
    return reply.code(statusCode).send({ error: error.message });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await options.metrics.render();
    return reply.header("content-type", options.metrics.contentType).send(body);
  });

  app.get("/healthz", async (_request, reply) => {
    const liveness = options.health.liveness();
    return reply
      .code(liveness.alive ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: liveness.alive ? "ok" : "stuck", ...liveness });
  });

  app.get("/readyz", async (_request, reply) => {
    const readiness = options.health.readiness();
    return reply
      .code(readiness.ready ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: readiness.ready ? "ready" : "not ready", ...readiness });
  });

  app.get("/status", async (_request, reply) => {
    const status = await options.status();
    return reply.header("cache-control", "no-store").send(status);
  });

  const token = options.adminToken;
  const requireToken = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const where = { method: request.method, url: request.url };
    if (token === undefined) {
      log.warn(where, "admin call refused: no admin token configured");
      return reply.code(403).send({
        error: "state-changing calls are disabled: set SYNC_ADMIN_TOKEN (or http.adminToken)",
      });
    }
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined || !sameSecret(presented, token)) {
      log.warn(where, "admin call refused: missing or wrong bearer token");
      return reply
        .code(401)
        .header("www-authenticate", REALM)
        .send({ error: "send the admin token as 'Authorization: Bearer <token>'" });
    }
    log.info(where, "admin call");
    return undefined;
  };

  return {
    mutating(method, path, handler) {
      app.route({ method, url: path, onRequest: requireToken, handler });
    },
    async listen() {
      await app.listen({ host: options.host, port: options.port });
      // fastify itself logs the address it listens on.
      const address = app.server.address() as AddressInfo;
      return { host: address.address, port: address.port };
    },
    async close() {
      await app.close();
    },
    inject(request) {
      return app.inject(request);
    },
  };
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Compares in constant time: hashing first makes the lengths equal and hides them. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
