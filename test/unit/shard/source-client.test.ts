// The shard source client against loopback HTTP servers: formats, headers and auth, failures with
// their reasons and no secrets, body size limits. TLS is in test/e2e/source-client-tls.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_HEADER } from '../../../src/shard/source-client.js';
import { BODY, MiB, client, expectNoSecrets, freePort, httpServer, lazyBody, listen, rawServer, scrapeError, source } from '../../support/source-client.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'promfront-fetch-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// ---------- tests ----------

describe('createSourceClient: successful scrapes', () => {
  it('scrapes a plain text body and reports text format', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(BODY);
    });
    const c = client(source(url));
    const r = await c.scrape();
    expect(r.body.toString()).toBe(BODY);
    expect(r.format).toBe('text');
    expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.wireBytes).toBe(Buffer.byteLength(BODY));
    expect(r.bodyBytes).toBe(Buffer.byteLength(BODY));
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(c.url).toBe(url);
  });

  it('reports openmetrics for application/openmetrics-text', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'Application/OpenMetrics-Text; version=1.0.0; charset=utf-8' });
      res.end(`${BODY}# EOF\n`);
    });
    const r = await client(source(url)).scrape();
    expect(r.format).toBe('openmetrics');
    expect(r.body.toString()).toBe(`${BODY}# EOF\n`);
  });

  it('treats a missing or unknown content type as text', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('up 1\n');
      res.end('é 2\n'); // chunked, multi-byte UTF-8
    });
    const r = await client(source(url)).scrape();
    expect(r.format).toBe('text');
    expect(r.body.toString()).toBe('up 1\né 2\n');
    expect(r.bodyBytes).toBe(Buffer.byteLength('up 1\né 2\n'));
  });

  it('decompresses a gzip body and reports wire and body sizes', async () => {
    const text = BODY.repeat(2000);
    const gz = gzipSync(text);
    const url = await httpServer((req, res) => {
      expect(req.headers['accept-encoding']).toBe('gzip');
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Encoding': 'gzip' });
      // Written in pieces so the gunzip stream sees several chunks.
      for (let i = 0; i < gz.length; i += 1000) res.write(gz.subarray(i, i + 1000));
      res.end();
    });
    const r = await client(source(url)).scrape();
    expect(r.body.toString()).toBe(text);
    expect(r.wireBytes).toBe(gz.length);
    expect(r.bodyBytes).toBe(Buffer.byteLength(text));
  });

  it('reuses the keep-alive connection across scrapes', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => res.end(BODY));
    server.on('connection', () => connections++);
    const port = await listen(server);
    const c = client(source(`http://127.0.0.1:${port}/metrics`));
    for (let i = 0; i < 3; i++) expect((await c.scrape()).body.toString()).toBe(BODY);
    expect(connections).toBe(1);
  });

  it('retries once on a fresh connection when a kept-alive connection was closed by the server', async () => {
    let requests = 0;
    let connections = 0;
    const server = http.createServer((req, res) => {
      requests++;
      // The second request arrives on the idle kept-alive socket: drop it as if the server had timed it out.
      if (requests === 2) {
        req.socket.destroy();
        return;
      }
      res.end(BODY);
    });
    server.on('connection', () => connections++);
    const port = await listen(server);
    const c = client(source(`http://127.0.0.1:${port}/metrics`));
    expect((await c.scrape()).body.toString()).toBe(BODY);
    expect((await c.scrape()).body.toString()).toBe(BODY);
    expect(requests).toBe(3);
    expect(connections).toBe(2);
  });
});

describe('createSourceClient: request headers', () => {
  it('sends Prometheus-style headers and the configured headers', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let path = '';
    const url = await httpServer((req, res) => {
      seen = req.headers;
      path = req.url ?? '';
      res.end(BODY);
    });
    await client(source(`${url}?x=1&y=2#frag`, { headers: { 'X-Custom': 'abc', 'X-Other': 'def' } }), 7500).scrape();
    expect(path).toBe('/metrics?x=1&y=2');
    expect(seen.accept).toBe(ACCEPT_HEADER);
    expect(seen.accept).toBe(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    );
    expect(seen['accept-encoding']).toBe('gzip');
    expect(seen['user-agent']).toMatch(/^promfront\/\d+\.\d+\.\d+/);
    expect(seen['x-prometheus-scrape-timeout-seconds']).toBe('7.5');
    expect(seen['x-custom']).toBe('abc');
    expect(seen['x-other']).toBe('def');
    expect(seen.authorization).toBeUndefined();
  });

  it('uses the source timeout over the default for the timeout header', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const url = await httpServer((req, res) => {
      seen = req.headers;
      res.end(BODY);
    });
    await client(source(url, { timeout: '3s' }), 10_000).scrape();
    expect(seen['x-prometheus-scrape-timeout-seconds']).toBe('3');
  });

  it('sends basic auth with a password', async () => {
    let auth: string | undefined;
    const url = await httpServer((req, res) => {
      auth = req.headers.authorization;
      res.end(BODY);
    });
    await client(source(url, { basic_auth: { username: 'alice', password: 's3cret-pw' } })).scrape();
    expect(auth).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
  });

  it('reads basic_auth.password_file at each scrape', async () => {
    const file = join(tmp, 'password');
    writeFileSync(file, 'first-pw\n');
    const auths: string[] = [];
    const url = await httpServer((req, res) => {
      auths.push(req.headers.authorization ?? '');
      res.end(BODY);
    });
    const c = client(source(url, { basic_auth: { username: 'bob', password_file: file } }));
    await c.scrape();
    writeFileSync(file, 'second-pw\r\n');
    await c.scrape();
    expect(auths).toEqual([`Basic ${Buffer.from('bob:first-pw').toString('base64')}`, `Basic ${Buffer.from('bob:second-pw').toString('base64')}`]);
  });

  it('sends a bearer token', async () => {
    let auth: string | undefined;
    const url = await httpServer((req, res) => {
      auth = req.headers.authorization;
      res.end(BODY);
    });
    await client(source(url, { bearer_token: 'tok-123456' })).scrape();
    expect(auth).toBe('Bearer tok-123456');
  });

  it('rereads bearer_token_file between scrapes (rotation)', async () => {
    const file = join(tmp, 'token');
    writeFileSync(file, 'token-one\n');
    const auths: string[] = [];
    const url = await httpServer((req, res) => {
      auths.push(req.headers.authorization ?? '');
      res.end(BODY);
    });
    const c = client(source(url, { bearer_token_file: file }));
    await c.scrape();
    writeFileSync(file, 'token-two\n');
    await c.scrape();
    expect(auths).toEqual(['Bearer token-one', 'Bearer token-two']);
  });

  it('fails with the file path, not its content, when the token file is missing', async () => {
    const url = await httpServer((_req, res) => res.end(BODY));
    const file = join(tmp, 'no-such-token');
    const err = await scrapeError(client(source(url, { bearer_token_file: file })));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/bearer_token_file/);
    expect(err.message).toMatch(/ENOENT/);
  });

  it('turns URL userinfo into basic auth and strips it from url', async () => {
    let auth: string | undefined;
    const port = await listen(
      http.createServer((req, res) => {
        auth = req.headers.authorization;
        res.writeHead(500);
        res.end();
      }),
    );
    const c = client(source(`http://carol:p%40ss-word@127.0.0.1:${port}/metrics`));
    expect(c.url).toBe(`http://127.0.0.1:${port}/metrics`);
    const err = await scrapeError(c);
    expect(auth).toBe(`Basic ${Buffer.from('carol:p@ss-word').toString('base64')}`);
    expectNoSecrets(err, 'p@ss-word', 'p%40ss-word', Buffer.from('carol:p@ss-word').toString('base64'));
  });
});

describe('createSourceClient: failures', () => {
  it('fails on HTTP 500 with the status in the message and no secrets', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('boom '.repeat(100_000));
    });
    const err = await scrapeError(client(source(url, { bearer_token: 'super-secret-token' })));
    expect(err.message).toBe('server returned HTTP status 500 Internal Server Error');
    expectNoSecrets(err, 'super-secret-token');
  });

  it('fails on other non-2xx statuses', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(404);
      res.end('nope');
    });
    const c = client(source(url));
    expect((await scrapeError(c)).message).toBe('server returned HTTP status 404 Not Found');
    // The client stays usable after an error response.
    expect((await scrapeError(c)).message).toBe('server returned HTTP status 404 Not Found');
  });

  it('times out a server that never responds', async () => {
    const url = await httpServer(() => {
      /* never respond */
    });
    const c = client(source(url, { basic_auth: { username: 'u', password: 'hang-password' } }), 300);
    const t0 = performance.now();
    const err = await scrapeError(c);
    const elapsed = performance.now() - t0;
    expect(err.message).toMatch(/^timeout after 300ms/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
    expectNoSecrets(err, 'hang-password');
  });

  it('times out a server that sends headers and then stalls the body', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100000' });
      res.write('up 1\n'); // then nothing
    });
    const t0 = performance.now();
    const err = await scrapeError(client(source(url), 300));
    const elapsed = performance.now() - t0;
    expect(err.message).toMatch(/^timeout after 300ms \(reading body, 5 of 100000 bytes received\)/);
    expect(elapsed).toBeLessThan(1500);
  });

  it('applies the source timeout over the default', async () => {
    const url = await httpServer(() => {
      /* never respond */
    });
    const t0 = performance.now();
    const err = await scrapeError(client(source(url, { timeout: '200ms' }), 30_000));
    expect(err.message).toMatch(/^timeout after 200ms/);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('aborts when the external signal fires', async () => {
    const url = await httpServer(() => {
      /* never respond */
    });
    const c = client(source(url), 10_000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    const err = await scrapeError(c, ac.signal);
    expect(err.message).toMatch(/abort/);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('fails on a body shorter than Content-Length', async () => {
    const url = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n');
      s.end('up 1\n'.repeat(20)); // 100 bytes, then close
    });
    const err = await scrapeError(client(source(url, { bearer_token: 'trunc-token' })));
    expect(err.message).toMatch(/^body truncated: connection closed after 100 of 1000 bytes/);
    expectNoSecrets(err, 'trunc-token');
  });

  it('fails on a chunked body cut off before the last chunk', async () => {
    const url = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
      s.end('5\r\nup 1\n\r\n10\r\nup');
    });
    const err = await scrapeError(client(source(url)));
    expect(err.message).toMatch(/^body truncated/);
  });

  it('fails on a corrupt gzip body', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end('this is not gzip at all');
    });
    const err = await scrapeError(client(source(url)));
    expect(err.message).toMatch(/^invalid gzip body: /);
  });

  it('fails on a gzip stream that ends early', async () => {
    const gz = gzipSync(BODY.repeat(1000));
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end(gz.subarray(0, gz.length - 20));
    });
    const err = await scrapeError(client(source(url)));
    expect(err.message).toMatch(/^invalid gzip body: unexpected end of file/);
  });

  it('fails on an unsupported Content-Encoding', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'br' });
      res.end('xxxx');
    });
    const err = await scrapeError(client(source(url)));
    expect(err.message).toBe('unsupported Content-Encoding "br"');
  });

  it('fails on invalid UTF-8', async () => {
    const url = await httpServer((_req, res) => {
      res.end(Buffer.from([0x75, 0x70, 0x20, 0xff, 0xfe, 0x0a]));
    });
    const err = await scrapeError(client(source(url)));
    expect(err.message).toMatch(/UTF-8/);
  });

  it('fails on connection refused with a clear reason and no secrets', async () => {
    const port = await freePort();
    const c = client(source(`http://dave:refused-pw@127.0.0.1:${port}/metrics`, {}));
    const err = await scrapeError(c);
    expect(err.message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expectNoSecrets(err, 'refused-pw', 'dave:');

    const c2 = client(source(`http://127.0.0.1:${port}/metrics`, { bearer_token: 'refused-token' }));
    expectNoSecrets(await scrapeError(c2), 'refused-token');
  });

  it('fails fast when a closed client is used', async () => {
    const url = await httpServer((_req, res) => res.end(BODY));
    const c = client(source(url));
    await c.scrape();
    await c.close();
    expect((await scrapeError(c)).message).toMatch(/closed/);
  });
});

describe('createSourceClient: body size limits', () => {
  it('aborts a lazily streamed 1 GB body as soon as max_body_size is crossed', async () => {
    const produced = { bytes: 0 };
    let serverStream: Readable | undefined;
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // chunked: no Content-Length to refuse early
      serverStream = lazyBody(1024 ** 3, Buffer.alloc(64 * 1024, 'a'), produced);
      serverStream.pipe(res);
      res.on('close', () => serverStream?.destroy());
    });
    const t0 = performance.now();
    const err = await scrapeError(client(source(url, { max_body_size: '8MiB' }), 10_000));
    const elapsed = performance.now() - t0;
    expect(err.message).toBe('body exceeds max_body_size of 8MiB');
    expect(elapsed).toBeLessThan(3000);
    // Give the server a moment to notice the closed connection, then check it stopped well short of 1 GB.
    await new Promise((r) => setTimeout(r, 50));
    expect(produced.bytes).toBeLessThan(64 * MiB);
  });

  it('refuses a body whose Content-Length exceeds max_body_size without reading it', async () => {
    const produced = { bytes: 0 };
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(1024 ** 3) });
      const body = lazyBody(1024 ** 3, Buffer.alloc(64 * 1024, 'a'), produced);
      body.pipe(res);
      res.on('close', () => body.destroy());
    });
    const err = await scrapeError(client(source(url), 10_000, 8 * MiB));
    expect(err.message).toBe(`body exceeds max_body_size of 8MiB (Content-Length: ${1024 ** 3})`);
  });

  it('accepts a body exactly at the limit and rejects one byte more', async () => {
    const url = await httpServer((req, res) => {
      const n = req.url === '/metrics' ? 1024 : 1025;
      res.write(Buffer.alloc(n - 1, 'a')); // chunked
      res.end('\n');
    });
    expect((await client(source(url), 5000, 1024).scrape()).bodyBytes).toBe(1024);
    const err = await scrapeError(client(source(url.replace('/metrics', '/more')), 5000, 1024));
    expect(err.message).toBe('body exceeds max_body_size of 1KiB');
  });

  it('aborts a gzip bomb once the decompressed size crosses max_body_size', async () => {
    // One gzip member of 64 MiB of zeros, repeated: ~1 GiB decompressed from well under 2 MB on the wire.
    const member = await new Promise<Buffer>((resolve, reject) => {
      const gz = createGzip({ level: 9 });
      const out: Buffer[] = [];
      gz.on('data', (c: Buffer) => out.push(c));
      gz.on('end', () => resolve(Buffer.concat(out)));
      gz.on('error', reject);
      const zeros = Buffer.alloc(MiB);
      for (let i = 0; i < 64; i++) gz.write(zeros);
      gz.end();
    });
    expect(member.length).toBeLessThan(128 * 1024);
    const members = 16;
    let sent = 0;
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' });
      const body = new Readable({
        read() {
          this.push(sent < members ? member : null);
          sent++;
        },
      });
      body.pipe(res);
      res.on('close', () => body.destroy());
    });
    const t0 = performance.now();
    const err = await scrapeError(client(source(url, { max_body_size: '8MiB' }), 10_000));
    expect(err.message).toBe('body exceeds max_body_size of 8MiB');
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('limits the compressed wire size too', async () => {
    // Incompressible data: the wire size crosses the limit before the decompressed size is checked.
    const random = Buffer.alloc(4 * MiB);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const gz = gzipSync(random, { level: 1 });
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' }); // chunked
      res.end(gz);
    });
    const err = await scrapeError(client(source(url), 5000, 2 * MiB));
    expect(err.message).toBe('body exceeds max_body_size of 2MiB');
  });
});
