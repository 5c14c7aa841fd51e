// The push forwarder's pieces that need no Pushgateway: reading a small body whole (and refusing a
// short or late one), the headers passed on, and the connection's secrets (read, rotated, never in
// an error).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { connectionKey, PushConnection } from '../../../src/push/connection.js';
import { Agent } from 'undici';
import { forwardHeaders, forwardOnce, ForwardTimeoutError, readSmallBody } from '../../../src/push/forward.js';
import { pushScrapeConfig } from '../../../src/server/scrape-config.js';

let server: Server;
let port: number;
/** What the test's handler does with the next request's body. */
let onRequest: (req: IncomingMessage) => Promise<string>;

beforeAll(async () => {
  server = createServer((req, res) => {
    onRequest(req).then(
      (v) => res.end(v),
      (err: Error) => res.end(`error: ${err.message}`),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Sends `chunks` as a body declared `length` long, with `gapMs` between chunks; resolves with the answer. */
function send(length: number, chunks: string[], gapMs = 0, endEarly = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-length': String(length) } }, (res) => {
      let out = '';
      res.on('data', (d: Buffer) => (out += d.toString()));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    void (async () => {
      for (const c of chunks) {
        req.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (endEarly) req.destroy();
      else req.end();
    })();
  });
}

describe('readSmallBody', () => {
  it('returns the body when it arrives whole, in one or several chunks', async () => {
    onRequest = async (req) => (await readSmallBody(req, Number(req.headers['content-length']), 2000)).toString();
    expect(await send(12, ['abc', 'def', 'ghijkl'], 5)).toBe('abcdefghijkl');
    expect(await send(0, [])).toBe('');
  });

  it('refuses a body that does not arrive within the timeout, saying so', async () => {
    let failure: Error | undefined;
    onRequest = async (req) => {
      try {
        return (await readSmallBody(req, 10, 100)).toString();
      } catch (err) {
        failure = err as Error;
        throw err;
      }
    };
    await send(10, ['abc'], 400).catch(() => '');
    expect(failure?.message).toBe('the body did not arrive within 100 ms');
  });

  it('refuses a body cut short by the client', async () => {
    const failed = new Promise<Error>((resolve) => {
      onRequest = async (req) => {
        try {
          return (await readSmallBody(req, 10, 2000)).toString();
        } catch (err) {
          resolve(err as Error);
          throw err;
        }
      };
    });
    await send(10, ['abc'], 50, true).catch(() => '');
    expect((await failed).message).toMatch(/closed the connection before the body ended|the body had 3 bytes, Content-Length said 10/);
  });
});

describe('forwardHeaders', () => {
  it("drops hop-by-hop headers, Host and Expect, keeps the rest, and puts the configured Authorization in place of the client's", () => {
    const h = {
      host: 'proxy:9090',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'content-type': 'text/plain',
      authorization: 'Basic client',
      'x-a': ['1', '2'],
      expect: '100-continue',
    };
    expect(forwardHeaders(h, undefined)).toEqual({ 'content-type': 'text/plain', authorization: 'Basic client', 'x-a': ['1', '2'] });
    expect(forwardHeaders(h, { authorization: 'Basic configured' })).toEqual({
      'content-type': 'text/plain',
      authorization: 'Basic configured',
      'x-a': ['1', '2'],
    });
  });
});

describe('forwardOnce', () => {
  let upstream: Server;
  let origin: string;
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  let endlessClosed: (() => void) | undefined;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === '/hang') return; // never answers
        if (req.url === '/endless') {
          // An answer that never ends: only the reader going away stops it.
          res.writeHead(200, { 'content-type': 'text/plain' });
          const t = setInterval(() => res.write('y'.repeat(70 * 1024)), 10);
          res.on('close', () => {
            clearInterval(t);
            endlessClosed?.();
          });
          return;
        }
        if (req.url === '/big') {
          // 200 KiB without a length: chunked, passed on as a stream.
          res.writeHead(200, { 'content-type': 'text/plain' });
          for (let i = 0; i < 200; i++) res.write('x'.repeat(1024));
          res.end();
          return;
        }
        const answer = req.method === 'DELETE' ? '' : 'refused\n';
        res.writeHead(req.method === 'DELETE' ? 202 : 400, [
          ['Content-Type', 'text/plain'],
          ['Content-Length', String(answer.length)],
          ['X-Seen', `${req.method} ${req.url} ${req.headers['content-type']} ${body.trim()}`],
          ['X-Twice', 'a'],
          ['X-Twice', 'b'],
          ['Connection', 'keep-alive'],
        ]);
        res.end(answer);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('passes status, headers (repeated ones as a list, hop-by-hop ones dropped) and body back; sends method, path, headers and body as given', async () => {
    const a = await forwardOnce(agent, origin, 'PUT', '/metrics/job/j?x=1', { 'content-type': 'text/plain; version=0.0.4' }, Buffer.from('m 1\n'), 5000);
    expect(a.status).toBe(400);
    expect(Buffer.from(a.body as Uint8Array).toString()).toBe('refused\n');
    expect(a.headers['x-seen']).toBe('PUT /metrics/job/j?x=1 text/plain; version=0.0.4 m 1');
    expect(a.headers['x-twice']).toEqual(['a', 'b']);
    expect(a.headers.connection).toBeUndefined();
    const d = await forwardOnce(agent, origin, 'DELETE', '/metrics/job/j', {}, undefined, 5000);
    expect([d.status, Buffer.from(d.body as Uint8Array).length]).toEqual([202, 0]);
  });

  it('streams an answer larger than 64 KiB', async () => {
    const a = await forwardOnce(agent, origin, 'PUT', '/big', {}, Buffer.from(''), 5000);
    expect(a.body).toBeInstanceOf(Readable);
    let n = 0;
    for await (const c of a.body as Readable) n += (c as Buffer).length;
    expect(n).toBe(200 * 1024);
  });

  it('stops reading the Pushgateway when the streamed answer is dropped before its end', async () => {
    const closed = new Promise<void>((r) => (endlessClosed = r));
    const a = await forwardOnce(agent, origin, 'PUT', '/endless', {}, Buffer.from(''), 60_000);
    const body = a.body as Readable;
    await new Promise((r) => body.once('data', r));
    body.destroy();
    // Long before the 60 s deadline: the upstream connection is closed as soon as the reader goes.
    await closed;
  }, 10_000);

  it('rejects when no answer comes within the timeout, or nothing listens', async () => {
    await expect(forwardOnce(agent, origin, 'PUT', '/hang', {}, Buffer.from('m 1\n'), 200)).rejects.toThrow(ForwardTimeoutError);
    await expect(forwardOnce(agent, origin, 'PUT', '/hang', {}, Buffer.from('m 1\n'), 200)).rejects.toThrow('no answer within 200 ms');
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    await expect(forwardOnce(agent, `http://127.0.0.1:${closed}`, 'PUT', '/x', {}, Buffer.from('m 1\n'), 2000)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('PushConnection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-push-conn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads password_file at build and again at refresh (rotation without a reload)', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 'first-secret\n');
    const conn = await PushConnection.build({ scheme: 'http', basic_auth: { username: 'u', password_file: file } });
    expect(conn.auth).toEqual({ authorization: `Basic ${Buffer.from('u:first-secret').toString('base64')}` });
    writeFileSync(file, 'second-secret\n');
    await conn.refresh();
    expect(conn.auth).toEqual({ authorization: `Basic ${Buffer.from('u:second-secret').toString('base64')}` });
    expect(conn.origin('127.0.0.1:9091')).toBe('http://127.0.0.1:9091');
    await conn.close();
  });

  it('an unreadable or empty secret file fails with the field and path, never a secret', async () => {
    await expect(PushConnection.build({ scheme: 'http', authorization: { type: 'Bearer', credentials_file: join(dir, 'missing') } })).rejects.toThrow(
      `push.authorization.credentials_file: cannot read ${join(dir, 'missing')}: ENOENT`,
    );
    writeFileSync(join(dir, 'empty'), '\n');
    await expect(PushConnection.build({ scheme: 'http', basic_auth: { username: 'u', password_file: join(dir, 'empty') } })).rejects.toThrow(
      `push.basic_auth.password_file: ${join(dir, 'empty')} is empty`,
    );
    await expect(PushConnection.build({ scheme: 'https', tls_config: { ca_file: join(dir, 'nope.crt'), insecure_skip_verify: false } })).rejects.toThrow(
      `push.tls_config.ca_file: cannot read ${join(dir, 'nope.crt')}: ENOENT`,
    );
  });

  it('no credentials configured: no Authorization added; the key changes with the connection fields only', async () => {
    const conn = await PushConnection.build({ scheme: 'https' });
    expect(conn.auth).toEqual({});
    expect(conn.origin('pgw:9091')).toBe('https://pgw:9091');
    await conn.close();
    expect(connectionKey({ scheme: 'http' })).not.toBe(connectionKey({ scheme: 'https' }));
    expect(connectionKey({ scheme: 'http', basic_auth: { username: 'a', password: 'x' } })).not.toBe(
      connectionKey({ scheme: 'http', basic_auth: { username: 'a', password: 'y' } }),
    );
  });
});

describe('push section: TLS and auth fields', () => {
  const base = 'push:\n  pushgateways: {static_configs: [{targets: ["127.0.0.1:9091"]}]}\n';

  it("accepts Prometheus's scheme, tls_config, basic_auth, authorization; refuses both auths at once", () => {
    const c = parseConfigText(`${base}  scheme: https\n  tls_config: {ca_file: ca.crt}\n  basic_auth: {username: u, password_file: pw}\n`, 'c.yaml');
    expect(c.push?.scheme).toBe('https');
    expect(() => parseConfigText(`${base}  basic_auth: {username: u, password: p}\n  authorization: {credentials: t}\n`, 'c.yaml')).toThrow(
      /at most one of basic_auth and authorization may be set/,
    );
    expect(() => parseConfigText(`${base}  scheme: ftp\n`, 'c.yaml')).toThrow(/scheme/);
  });

  it('scrape-config gives Prometheus the same scheme, trust and credential files, never an inline secret', () => {
    const files = parseConfigText(
      `${base}  scheme: https\n  tls_config: {ca_file: /etc/ca.crt}\n  basic_auth: {username: u, password_file: /etc/pw}\n`,
      'c.yaml',
    );
    const out = pushScrapeConfig(files);
    expect(out).toContain('scheme: https');
    expect(out).toContain('ca_file: /etc/ca.crt');
    expect(out).toContain('password_file: /etc/pw');
    const inline = pushScrapeConfig(parseConfigText(`${base}  basic_auth: {username: u, password: hunter2-secret}\n`, 'c.yaml'));
    expect(inline).not.toContain('hunter2-secret');
    expect(inline).toContain('give Prometheus the same one');
  });
});
