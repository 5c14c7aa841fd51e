// The fast path's own small answers (node-answer.ts) against the app's: the same text answered by a
// Hono app with the compress middleware and by writeAppAnswer, for Accept-Encoding headers of every
// kind, must leave with the same status, headers (but Date) and bytes. And the bounded body read
// from Node's request stops at the bound as the web one does.

import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectEncoding, writeAppAnswer } from '../../../src/server/node-answer.js';
import { readNodeBodyBounded } from '../../../src/server/read-body.js';

async function serve(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function ask(port: number, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: body ? 'POST' : 'GET', path: '/x', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, unknown> = { ...res.headers };
        delete h.date;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('base64') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe("writeAppAnswer writes the app's compressed answers", () => {
  const text = 'internal error: something broke on the way\n';
  let app: { server: Server; port: number };
  let ours: { server: Server; port: number };

  beforeAll(async () => {
    const hono = new Hono();
    hono.use('*', compress());
    hono.get('/x', (c) => c.text(text, 500));
    app = await serve((req, res) => void getRequestListener(hono.fetch)(req, res));
    ours = await serve((req, res) => writeAppAnswer(req, res, 500, text));
  });

  afterAll(() => {
    for (const s of [app, ours]) {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it.each([undefined, 'gzip', 'deflate', 'gzip, deflate, br', 'deflate;q=0.9, gzip;q=0.5', 'gzip;q=0', '*', '*;q=0.3, deflate;q=0.2', 'identity', 'br'])(
    'Accept-Encoding %s',
    async (ae) => {
      const headers: Record<string, string> = ae === undefined ? {} : { 'accept-encoding': ae };
      const [a, b] = [await ask(app.port, headers), await ask(ours.port, headers)];
      expect(b).toEqual(a);
    },
  );

  it('picks as Hono compress does', () => {
    expect(selectEncoding(undefined)).toBeUndefined();
    expect(selectEncoding('deflate;q=0.9, gzip;q=0.5')).toBe('deflate');
    expect(selectEncoding('GZIP')).toBe('gzip');
    expect(selectEncoding('gzip;q=0')).toBeUndefined();
  });
});

describe('readNodeBodyBounded', () => {
  it('reads a body whole into a buffer of its own, and stops past the bound', async () => {
    const seen: (number | undefined | string)[] = [];
    const s = await serve((req, res) => {
      readNodeBodyBounded(req, 1000).then(
        (b) => {
          seen.push(b === undefined ? undefined : b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? b.byteLength : 'shared');
          res.end();
        },
        (err: Error) => seen.push(err.message),
      );
    });
    try {
      await ask(s.port, {}, Buffer.alloc(999, 1));
      await ask(s.port, { 'content-length': '1000' }, Buffer.alloc(1000, 1));
      await ask(s.port, {}, Buffer.alloc(1001, 1));
      await ask(s.port, { 'transfer-encoding': 'chunked' }, Buffer.alloc(5000, 1));
      expect(seen).toEqual([999, 1000, undefined, undefined]);
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });
});
