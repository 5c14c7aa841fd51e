// The floor under bench/push.ts's proxy figures: what one more Node process in the path costs on
// this machine before any of promfront's code runs. Run as a child by bench/push.ts:
//   node dist-tools/bench/push-floor.js <mode> <listen port> <pushgateway host:port>
// modes: `bare` forwards every request with node:http and an undici Pool (body read whole, no
// framework, no parsing of the path), `hono` answers an empty 200 from a Hono route (the framework's own cost,
// nothing forwarded), `hono-forward` forwards from a Hono route through fetch-style Request and
// Response objects as a capability's fetch would.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';

const [mode, portText, upstream] = process.argv.slice(2);
const port = Number(portText);
const pool = new Pool(`http://${upstream}`, { connections: 64, keepAliveTimeout: 30_000 });

function bare(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => forward(req, res, Buffer.concat(chunks)));
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  pool
    .request({ method: req.method as 'PUT', path: req.url!, headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' }, body })
    .then(async (up) => {
      const body = Buffer.from(await up.body.arrayBuffer());
      res.writeHead(up.statusCode, { 'content-length': body.length });
      res.end(body);
    })
    .catch((err: Error) => {
      res.writeHead(502);
      res.end(err.message);
    });
}

if (mode === 'bare') {
  createServer(bare).listen(port, '127.0.0.1');
} else if (mode === 'hono') {
  const app = new Hono();
  app.all('*', (c) => c.body(null, 200));
  serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
} else if (mode === 'hono-forward') {
  const app = new Hono();
  app.all('*', async (c) => {
    const up = await pool.request({
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      headers: { 'content-type': c.req.header('content-type') ?? 'text/plain' },
      body: c.req.raw.body ? Buffer.from(await c.req.raw.arrayBuffer()) : null,
    });
    return new Response(new Uint8Array(await up.body.arrayBuffer()), { status: up.statusCode });
  });
  serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
} else {
  throw new Error(`unknown mode ${mode}: bare, hono or hono-forward`);
}
