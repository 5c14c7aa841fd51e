// A small server that answers the three Prometheus JSON API calls JsonApiTarget makes, with one
// series `up{server="<name>"}` holding the value 1 at the query time. It records what it was asked
// (path and Authorization header), so tests see which targets a query reached and with which
// credentials. HTTP, or HTTPS with the given certificate.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ApiServer {
  url: string;
  host: string;
  port: number;
  requests: { path: string; authorization: string | undefined }[];
  /** Replaces the normal answers, e.g. to fail; return true when it answered. */
  override: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  name: string;
  host?: string;
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1';
  const api: ApiServer = { url: '', host, port: 0, requests: [], override: undefined, close: async () => {} };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    api.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    if (api.override?.(req, res)) return;
    const u = new URL(req.url ?? '/', 'http://x');
    const json = (data: unknown): void => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data }));
    };
    if (u.pathname.endsWith('/api/v1/query')) {
      // One sample 1 ms before the evaluation time: JsonApiTarget asks at the end of its range + 1 ms.
      const t = (Math.round(Number(u.searchParams.get('time')) * 1000) - 1) / 1000;
      json({ resultType: 'matrix', result: [{ metric: { __name__: 'up', server: opts.name }, values: [[t, '1']] }] });
    } else if (u.pathname.endsWith('/api/v1/labels')) {
      json(['__name__', 'server']);
    } else if (u.pathname.endsWith('/api/v1/label/server/values')) {
      json([opts.name]);
    } else if (u.pathname.endsWith('/api/v1/label/__name__/values')) {
      json(['up']);
    } else if (/\/api\/v1\/label\/[^/]+\/values$/.test(u.pathname)) {
      json([]);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handle) : createHttpServer(handle);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  api.port = (server.address() as AddressInfo).port;
  api.url = `${opts.tls ? 'https' : 'http'}://${host}:${api.port}`;
  api.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}
