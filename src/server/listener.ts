// The proxy's HTTP(S) listener: plain HTTP or, with a web config's tls_server_config, HTTPS; and the
// Node server timeouts, set explicitly instead of left to Node's defaults, each with its reason.

import { createServer as createHttpsServer } from 'node:https';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { getRequestListener } from '@hono/node-server';
import { withFastPath, type FastPathDeps } from './fast-path.js';
import type { WebGuard } from './web-config.js';

/**
 * A client must have sent all request headers within this (slowloris: a connection trickling
 * headers holds a socket and a parser). Node's default too, stated so it cannot drift.
 */
export const HEADERS_TIMEOUT_MS = 60_000;
/**
 * The whole request, headers and body, must have arrived within this: a slow body cannot hold a
 * connection for ever. Node counts only the receiving of the request, not the handler's work or
 * the response (a connection leaves Node's checked list once its request is complete), so a long
 * query or a slow /federate answer is not cut by it. 5 minutes as Prometheus's --web.read-timeout.
 */
export const REQUEST_TIMEOUT_MS = 5 * 60_000;
/**
 * How long an idle keep-alive connection stays open after a response. Longer than Node's 5 s so
 * that Prometheus scraping /metrics/shard/K every 15 s to 1 min reuses its connection instead of
 * paying a new TCP and TLS handshake per scrape; short enough that idle sockets do not pile up.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 2 * 60_000 + 5_000;
/**
 * How often Node checks connections against the two limits above (its default 30 s would let a
 * header trickle run to 90 s); one pass over the open connections every 5 s costs nothing.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 5_000;
/** The floor of the socket idle timeout (see socketIdleTimeoutMs). */
export const MIN_SOCKET_IDLE_MS = 5 * 60_000;

/**
 * A socket with no traffic either way for this long is destroyed: it frees connections whose
 * client stopped reading a response (the write never drains) or vanished without a FIN. A query
 * sends nothing while it is evaluated, so the limit stays a minute above the query timeout.
 */
export function socketIdleTimeoutMs(queryTimeoutMs: number | undefined): number {
  return Math.max(MIN_SOCKET_IDLE_MS, (queryTimeoutMs ?? 0) + 60_000);
}

/** Sets the socket idle timeout for connections accepted from now on (at start and after a reload). */
export function applySocketIdleTimeout(server: Server, queryTimeoutMs: number | undefined): void {
  server.timeout = socketIdleTimeoutMs(queryTimeoutMs);
}

/**
 * Starts listening: HTTPS when the guard's settings have TLS, else HTTP; the guard watches the
 * handshakes. With `fast`, pushes and queries are served ahead of the app (fast-path.ts).
 */
export function listen(
  app: Hono<{ Bindings: HttpBindings }>,
  guard: WebGuard,
  host: string,
  port: number,
  queryTimeoutMs: number | undefined,
  fast?: FastPathDeps,
): Server {
  const timeouts = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const https = guard.httpsOptions();
  const toApp = getRequestListener(app.fetch, { hostname: host });
  const listener = fast ? withFastPath(fast, toApp) : (req: IncomingMessage, res: ServerResponse) => void toApp(req, res);
  const server = (https ? createHttpsServer({ ...https, ...timeouts }, listener) : createServer(timeouts, listener)) as Server;
  server.listen(port, host);
  applySocketIdleTimeout(server, queryTimeoutMs);
  guard.attach(server);
  return server;
}
