// The listener's explicit timeouts: that listen() sets them, and the Node semantics they rely on
// (requestTimeout limits receiving the request, never a slow handler; a body that trickles in
// past it is answered 408).

import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CONNECTIONS_CHECKING_INTERVAL_MS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  listen,
  MIN_SOCKET_IDLE_MS,
  REQUEST_TIMEOUT_MS,
  socketIdleTimeoutMs,
} from '../../../src/server/listener.js';
import { WebGuard } from '../../../src/server/web-config.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('listener timeouts', () => {
  it('listen() sets every timeout explicitly, the idle one above the query timeout', async () => {
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.get('/', (c) => c.text('ok'));
    const server = listen(app, new WebGuard(undefined, pino({ level: 'silent' })), '127.0.0.1', 0, 10 * 60_000);
    try {
      await once(server, 'listening');
      expect(server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      expect(server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
      expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
      expect(server.timeout).toBe(11 * 60_000);
      expect(CONNECTIONS_CHECKING_INTERVAL_MS).toBeLessThan(HEADERS_TIMEOUT_MS);
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('ok');
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(socketIdleTimeoutMs(undefined)).toBe(MIN_SOCKET_IDLE_MS);
    expect(socketIdleTimeoutMs(30_000)).toBe(MIN_SOCKET_IDLE_MS);
  });

  it("Node's requestTimeout does not cut a handler that takes longer, but answers 408 to a body that trickles past it", async () => {
    const server: Server = createServer({ requestTimeout: 600, headersTimeout: 600, connectionsCheckingInterval: 100 }, (req, res) => {
      req.resume();
      req.on('end', () => void sleep(1500).then(() => res.end('slow answer')));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const slow = await new Promise<string>((resolve, reject) => {
        request({ port, host: '127.0.0.1', method: 'GET', path: '/' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        })
          .on('error', reject)
          .end();
      });
      expect(slow).toBe('200 slow answer');

      const sock = connect(port, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
      await Promise.race([once(sock, 'close'), sleep(3000)]);
      sock.destroy();
      expect(got).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
