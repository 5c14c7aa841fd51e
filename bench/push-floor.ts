// The floor under bench/push.ts's proxy figures: what one more Node process in the path costs on
// this machine before any of promfront's code runs. Run as a child by bench/push.ts:
//   node dist-tools/bench/push-floor.js <mode> <listen port> <pushgateway host:port>
// modes: `bare` forwards every request with node:http and an undici Pool (body read whole, no
// framework, no parsing of the path), `node-http` the same with node:http's own keep-alive client,
// `raw` the same with one raw keep-alive socket upstream (request head and body in one write, the
// answer read by its Content-Length: only for this bench's one pusher), `hono` answers an empty
// 200 from a Hono route (the framework's own cost, nothing forwarded), `hono-forward` forwards from
// a Hono route through fetch-style Request and Response objects as a capability's fetch would.

import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
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

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
function nodeHttp(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => {
    const body = Buffer.concat(chunks);
    const [host, p] = upstream.split(':');
    const up = httpRequest(
      {
        agent: httpAgent,
        host,
        port: Number(p),
        method: req.method,
        path: req.url,
        headers: { 'content-type': req.headers['content-type'] ?? 'text/plain', 'content-length': body.length },
      },
      (ur) => {
        const got: Buffer[] = [];
        ur.on('data', (c: Buffer) => got.push(c));
        ur.once('end', () => {
          const b = Buffer.concat(got);
          res.writeHead(ur.statusCode ?? 502, { 'content-length': b.length });
          res.end(b);
        });
      },
    );
    up.once('error', (err) => {
      res.writeHead(502);
      res.end(err.message);
    });
    up.end(body);
  });
}

// One idle socket at most (the bench pushes one at a time); answers need a Content-Length.
let idle: net.Socket | undefined;
function raw(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => {
    const body = Buffer.concat(chunks);
    const [host, p] = upstream.split(':');
    const sock = idle ?? net.connect(Number(p), host);
    idle = undefined;
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (buf.length < end + 4 + len) return;
      sock.off('data', onData);
      idle = sock;
      const status = Number(head.slice(9, 12));
      const b = buf.subarray(end + 4, end + 4 + len);
      res.writeHead(status, { 'content-length': b.length });
      res.end(b);
    };
    sock.on('data', onData);
    sock.write(
      Buffer.concat([
        Buffer.from(
          `${req.method} ${req.url} HTTP/1.1\r\nHost: ${upstream}\r\nContent-Type: ${req.headers['content-type'] ?? 'text/plain'}\r\nContent-Length: ${body.length}\r\n\r\n`,
          'latin1',
        ),
        body,
      ]),
    );
  });
}

if (mode === 'bare') {
  createServer(bare).listen(port, '127.0.0.1');
} else if (mode === 'node-http') {
  createServer(nodeHttp).listen(port, '127.0.0.1');
} else if (mode === 'raw') {
  createServer(raw).listen(port, '127.0.0.1');
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
  throw new Error(`unknown mode ${mode}: bare, node-http, raw, hono or hono-forward`);
}
