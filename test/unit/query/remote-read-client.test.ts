// RemoteReadTarget against small local HTTP servers that answer what a real server cannot be made
// to: garbage, cut streams, wrong checksums, chunk kinds we do not read, hangs. Also what it sends.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { freePort } from '../../../dev/prometheus-process.js';
import { RemoteReadTarget, type RemoteReadTargetOptions } from '../../../src/query/downstream/remote-read-client.js';
import type { LabelMatcher } from '../../../src/model/labels.js';
import { encodeFrame } from '../../../src/remote/framing.js';
import { decodeReadRequest, encodeChunkedReadResponse, encodeReadResponse, type ChunkedReadResponse } from '../../../src/remote/prompb.js';
import { snappyCompress, snappyDecompress } from '../../../src/remote/snappy.js';
import { encodeXorChunk } from '../../../src/remote/xor-chunk.js';
import { ConfigError, DownstreamError } from '../../../src/errors.js';

const STREAMED = 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse';
const up: LabelMatcher[] = [{ type: '=', name: '__name__', value: 'up' }];

const servers: http.Server[] = [];

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A fake downstream. Unless `ownStatusConfig`, it answers the external-labels lookup (GET
 * /api/v1/status/config) with 404 itself, as a remote-read server that is not a Prometheus does,
 * and neither records it nor passes it to `handler`.
 */
async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  { ownStatusConfig = false } = {},
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    if (!ownStatusConfig && req.method === 'GET' && req.url!.includes('/api/v1/status/config')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function withTarget<T>(opts: RemoteReadTargetOptions, fn: (t: RemoteReadTarget) => Promise<T>): Promise<T> {
  const t = new RemoteReadTarget(opts);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

async function failure(url: string, opts: Partial<RemoteReadTargetOptions> = {}, signal?: AbortSignal): Promise<DownstreamError> {
  return withTarget({ url, timeoutMs: 5_000, ...opts }, async (t) => {
    const err = await t.select(up, 0, 100_000, undefined, signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DownstreamError);
    return err as DownstreamError;
  });
}

const series = (name: string, chunks: ChunkedReadResponse['chunkedSeries'][number]['chunks']) => ({ labels: [{ name: '__name__', value: name }], chunks });
const xor = (ts: number[], vs: number[]) => ({
  minTimeMs: ts[0],
  maxTimeMs: ts[ts.length - 1],
  type: 1,
  data: encodeXorChunk(new Float64Array(ts), new Float64Array(vs)),
});
const frame = (msg: ChunkedReadResponse) => encodeFrame(encodeChunkedReadResponse(msg));

function streamedServer(body: Uint8Array | Uint8Array[]) {
  return serve((_req, res) => {
    res.writeHead(200, { 'content-type': STREAMED });
    for (const b of Array.isArray(body) ? body : [body]) res.write(b);
    res.end();
  });
}

describe('RemoteReadTarget: what it sends', () => {
  it('POSTs a snappy ReadRequest to <base><remote_read_path> with auth, headers and query parameters', async () => {
    const { url, seen } = await streamedServer(new Uint8Array(0));
    const base = url.replace('http://', 'http://alice:s3cret@');
    await withTarget(
      { url: `${base}/prefix/`, timeoutMs: 5_000, remoteReadPath: 'custom/read', headers: { 'X-Scope-OrgID': 'team-a' }, queryParams: { tenant: 't1' } },
      (t) =>
        t.select(
          [
            { type: '=~', name: 'job', value: 'a|b' },
            { type: '!=', name: 'x', value: 'y' },
          ],
          1000,
          2000,
          { startMs: 500, endMs: 2000, stepMs: 60_000, func: 'rate', rangeMs: 300_000 },
        ),
    );
    const s = seen[0];
    expect(s.url).toBe('/prefix/custom/read?tenant=t1');
    expect(s.headers['content-type']).toBe('application/x-protobuf');
    expect(s.headers['content-encoding']).toBe('snappy');
    expect(s.headers['x-prometheus-remote-read-version']).toBe('0.1.0');
    expect(s.headers['x-scope-orgid']).toBe('team-a');
    expect(s.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(decodeReadRequest(snappyDecompress(s.body))).toEqual({
      queries: [
        {
          startTimestampMs: 1000,
          endTimestampMs: 2000,
          matchers: [
            { type: 2, name: 'job', value: 'a|b' },
            { type: 1, name: 'x', value: 'y' },
          ],
          // The hints' range is the query's: Prometheus's TSDB would read only the hints' range.
          hints: { startMs: 1000, endMs: 2000, stepMs: 60_000, func: 'rate', rangeMs: 300_000, grouping: [], by: false },
        },
      ],
      acceptedResponseTypes: [1, 0],
    });
  });

  it('no matcher at all asks for every series with a name', async () => {
    const { url, seen } = await streamedServer(new Uint8Array(0));
    await withTarget({ url, timeoutMs: 5_000, responseKinds: ['samples'] }, (t) => t.select([], 0, 1));
    expect(decodeReadRequest(snappyDecompress(seen[0].body))).toMatchObject({
      queries: [{ matchers: [{ type: 2, name: '__name__', value: '.+' }] }],
      acceptedResponseTypes: [0],
    });
  });
});

describe('RemoteReadTarget: how it reads a streamed answer', () => {
  it('joins a series split over frames, merges overlapping chunks, filters to the window and sorts', async () => {
    const body = [
      frame({ chunkedSeries: [series('b', [xor([1000, 2000, 3000], [1, 2, 3])])], queryIndex: 0 }),
      frame({ chunkedSeries: [series('b', [xor([2000, 4000, 5000], [20, 4, 5]), xor([6000, 99_000], [6, 99])])], queryIndex: 0 }),
      frame({ chunkedSeries: [series('a', [xor([500, 1500], [0.5, 1.5])])], queryIndex: 0 }),
    ];
    const { url } = await streamedServer(Buffer.concat(body));
    const got = await withTarget({ url, timeoutMs: 5_000 }, (t) => t.select(up, 1000, 6000));
    expect(got.map((s) => ({ name: s.labels[0].value, ts: Array.from(s.timestamps), vs: Array.from(s.values) }))).toEqual([
      { name: 'a', ts: [1500], vs: [1.5] },
      // The first sample at a timestamp wins.
      { name: 'b', ts: [1000, 2000, 3000, 4000, 5000, 6000], vs: [1, 2, 3, 4, 5, 6] },
    ]);
  });

  it('reads frames however the bytes are split on the wire', async () => {
    const whole = Buffer.concat([
      frame({ chunkedSeries: [series('a', [xor([1, 2, 3], [1, 2, 3])])], queryIndex: 0 }),
      frame({ chunkedSeries: [series('b', [xor([1, 2], [5, 6])])], queryIndex: 0 }),
    ]);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < whole.length; i += 3) pieces.push(whole.subarray(i, i + 3));
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': STREAMED });
      let i = 0;
      const next = () => (i < pieces.length ? res.write(pieces[i++], next) : res.end());
      next();
    });
    const got = await withTarget({ url, timeoutMs: 5_000 }, (t) => t.select(up, 0, 10));
    expect(got.map((s) => [s.labels[0].value, Array.from(s.values)])).toEqual([
      ['a', [1, 2, 3]],
      ['b', [5, 6]],
    ]);
  });
});

describe('RemoteReadTarget errors', () => {
  const goodFrame = frame({ chunkedSeries: [series('up', [xor([1000, 2000], [1, 1])])], queryIndex: 0 });

  it('an error answer: its status and text', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('expanding series: boom\n');
    });
    const err = await failure(url);
    expect(err.message).toBe(`${url}: remote read: HTTP 500: expanding series: boom`);
    expect(err.target).toBe(url);
  });

  it('a 200 with a content type that is not remote read', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html>login</html>');
    });
    expect((await failure(url)).message).toBe(`${url}: remote read: unexpected content type "text/html; charset=utf-8"`);
    const other = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-streamed-protobuf; proto=other.Message' });
      res.end();
    });
    expect((await failure(other.url)).message).toMatch(/unexpected content type "application\/x-streamed-protobuf; proto=other.Message"$/);
  });

  it('a streamed answer that is garbage', async () => {
    const { url } = await streamedServer(Buffer.from('<html>this is not a frame</html>'));
    // '<' is 60: the first byte reads as a frame length.
    expect((await failure(url, { maxFrameBytes: 50 })).message).toBe(
      `${url}: remote read: invalid response: streamed response: frame 1 of 60 bytes exceeds the limit of 50 bytes`,
    );
    // Under the default 50 MB limit the same bytes make a frame that never completes.
    expect((await failure(url, { maxFrameBytes: undefined })).message).toBe(
      `${url}: remote read: invalid response: streamed response: truncated: frame 1 ends after 27 of its 60 bytes`,
    );
  }, 10_000);

  it('a streamed answer cut inside a frame', async () => {
    const { url } = await streamedServer(Buffer.concat([goodFrame, goodFrame.subarray(0, goodFrame.length - 3)]));
    expect((await failure(url)).message).toBe(
      `${url}: remote read: invalid response: streamed response: truncated: frame 2 ends after ${goodFrame.length - 8} of its ${goodFrame.length - 5} bytes`,
    );
  });

  it('a frame with a wrong checksum', async () => {
    const bad = Buffer.from(goodFrame);
    bad[bad.length - 1] ^= 1;
    const { url } = await streamedServer(Buffer.concat([goodFrame, bad]));
    expect((await failure(url)).message).toMatch(
      new RegExp(`^${url.replace(/\./g, '\\.')}: remote read: invalid response: streamed response: frame 2 is corrupt: checksum mismatch`),
    );
  });

  it('a frame whose message is not protobuf', async () => {
    const { url } = await streamedServer(encodeFrame(Buffer.from([0x0a, 0x7f, 0x01])));
    expect((await failure(url)).message).toBe(`${url}: remote read: invalid response: protobuf: length 127 at byte 2 runs past the end of the message`);
  });

  it('a corrupt XOR chunk inside a good frame', async () => {
    const data = encodeXorChunk(new Float64Array([1000, 2000, 3000]), new Float64Array([1, 5, 9])).subarray(0, 14);
    const { url } = await streamedServer(frame({ chunkedSeries: [series('up', [{ minTimeMs: 1000, maxTimeMs: 3000, type: 1, data }])], queryIndex: 0 }));
    expect((await failure(url)).message).toMatch(
      new RegExp(`^${url.replace(/\./g, '\\.')}: remote read: invalid response: XOR chunk: sample 2 of 3: .*truncated`),
    );
  });

  it('native histogram chunks, unknown chunk encodings and a wrong query index', async () => {
    const hist = await streamedServer(
      frame({ chunkedSeries: [series('latency', [{ minTimeMs: 0, maxTimeMs: 1, type: 2, data: new Uint8Array([0, 0]) }])], queryIndex: 0 }),
    );
    expect((await failure(hist.url)).message).toBe(`${hist.url}: remote read: invalid response: native histograms are not supported (series latency)`);
    const unknown = await streamedServer(
      frame({ chunkedSeries: [series('up', [{ minTimeMs: 0, maxTimeMs: 1, type: 9, data: new Uint8Array([0, 0]) }])], queryIndex: 0 }),
    );
    expect((await failure(unknown.url)).message).toBe(`${unknown.url}: remote read: invalid response: unknown chunk encoding 9`);
    const idx = await streamedServer(frame({ chunkedSeries: [series('up', [xor([1], [1])])], queryIndex: 1 }));
    expect((await failure(idx.url)).message).toBe(`${idx.url}: remote read: invalid response: frame 1 answers query 1, only query 0 was asked`);
  });

  it('a SAMPLES answer that is garbage, not protobuf, for the wrong number of queries, or too large', async () => {
    const samples = (body: Uint8Array) =>
      serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' });
        res.end(body);
      });
    const garbage = await samples(Buffer.from('not snappy at all'));
    expect((await failure(garbage.url)).message).toMatch(/: remote read: invalid response: snappy: /);
    const notProto = await samples(snappyCompress(Buffer.from([0x0a, 0x05, 0x0a])));
    expect((await failure(notProto.url)).message).toBe(
      `${notProto.url}: remote read: invalid response: protobuf: length 5 at byte 2 runs past the end of the message`,
    );
    const two = await samples(snappyCompress(encodeReadResponse([[], []])));
    expect((await failure(two.url)).message).toBe(`${two.url}: remote read: invalid response: 2 query results for 1 query`);
    const big = await samples(snappyCompress(new Uint8Array(5000)));
    expect((await failure(big.url, { maxResponseBytes: 1000 })).message).toBe(
      `${big.url}: remote read: invalid response: snappy: decoded length 5000 exceeds the limit of 1000 bytes`,
    );
    expect((await failure(big.url, { maxResponseBytes: 100 })).message).toBe(`${big.url}: remote read: invalid response: SAMPLES answer larger than 100 bytes`);
  });

  it('a server that hangs before answering, and one that stops in the middle of the stream: timeout', async () => {
    const silent = await serve(() => {});
    const started = Date.now();
    expect((await failure(silent.url, { timeoutMs: 300 })).message).toBe(`${silent.url}: remote read: timeout after 300ms`);
    const stalls = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': STREAMED });
      res.write(goodFrame.subarray(0, 10));
    });
    expect((await failure(stalls.url, { timeoutMs: 300 })).message).toBe(`${stalls.url}: remote read: timeout after 300ms`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a kept-alive connection that dies under the request is retried once on a fresh one', async () => {
    const perSocket = new WeakMap<object, number>();
    let killed = 0;
    const { url, seen } = await serve((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) {
        killed++;
        req.socket.destroy(); // as a server whose idle timer fired just as the request came
        return;
      }
      res.writeHead(200, { 'content-type': STREAMED });
      res.end(goodFrame);
    });
    await withTarget({ url, timeoutMs: 5_000 }, async (t) => {
      for (let i = 0; i < 3; i++) expect((await t.select(up, 0, 10_000)).length).toBe(1);
    });
    // Every request on a reused connection died, and was sent again.
    expect(killed).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBe(3 + killed);
    const always = await serve((req) => req.socket.destroy());
    const err = await failure(always.url);
    expect(err.message).toMatch(new RegExp(`^${always.url.replace(/\./g, '\\.')}: remote read: request failed: (other side closed|.*ECONNRESET)`));
    expect(always.seen.length).toBe(2);
  });

  it('the caller aborting', async () => {
    const { url } = await serve(() => {});
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('caller gave up')), 100);
    await withTarget({ url, timeoutMs: 10_000 }, async (t) => {
      await expect(t.select(up, 0, 1, undefined, ac.signal)).rejects.toThrow('caller gave up');
    });
  });

  it('a refused connection, without the credentials in the message', async () => {
    const port = await freePort();
    const err = await failure(`http://alice:s3cret@127.0.0.1:${port}/prefix`);
    expect(err.message).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/prefix: (remote read: )?request failed: .*ECONNREFUSED`));
    expect(err.message).not.toContain('s3cret');
    expect(err.message).not.toContain('alice');
  });
});

describe('fallback to the JSON API where remote read is not served (remote_read unset)', () => {
  /** A server without remote read (answering `status` there) whose JSON API has one `up` sample. */
  const jsonOnly = (status: number, contentType = 'text/plain', text = 'unsupported path requested: "/api/v1/read"') =>
    serve((req, res) => {
      if (req.url!.startsWith('/api/v1/read')) {
        res.writeHead(status, { 'content-type': contentType });
        res.end(text);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'up' }, values: [[99, '1']] }] } }));
    });

  for (const [status, contentType] of [
    [400, 'text/plain'],
    [404, 'text/plain'],
    [405, 'text/plain'],
    [200, 'text/html'],
  ] as const) {
    it(`HTTP ${status} ${contentType} at the remote-read path: the JSON API answers, and is asked directly from then on`, async () => {
      const srv = await jsonOnly(status, contentType);
      await withTarget({ url: srv.url, timeoutMs: 5_000, fallbackToJson: true }, async (t) => {
        for (let i = 0; i < 2; i++) {
          const got = await t.select(up, 0, 100_000);
          expect(got.map((s) => [s.labels, Array.from(s.timestamps), Array.from(s.values)])).toEqual([[[{ name: '__name__', value: 'up' }], [99_000], [1]]]);
        }
        expect(t.fellBackBecause).toMatch(status === 200 ? /unexpected content type/ : new RegExp(`HTTP ${status}`));
      });
      expect(srv.seen.filter((s) => s.url.startsWith('/api/v1/read'))).toHaveLength(1);
      expect(srv.seen.filter((s) => s.url.startsWith('/api/v1/query'))).toHaveLength(2);
    });
  }

  it('does not fall back on other failures (500, 401), nor when remote_read is set', async () => {
    for (const status of [500, 401]) {
      const srv = await jsonOnly(status);
      const err = await failure(srv.url, { fallbackToJson: true });
      expect(err.message).toMatch(new RegExp(`HTTP ${status}`));
    }
    const srv = await jsonOnly(404);
    expect((await failure(srv.url, { fallbackToJson: false })).message).toMatch(/HTTP 404/);
  });
});

describe('config: remote_read and remote_read_path of a server group', () => {
  const group = (extra: string) => `
query:
  server_groups:
    - static_configs: [{targets: ["127.0.0.1:9090"]}]
${extra}`;
  const problems = (text: string): string[] => {
    try {
      parseConfigText(text);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('default to the JSON API and /api/v1/read', () => {
    const g = parseConfigText(group('')).query!.server_groups[0];
    // Unset: remote read where the server serves it (see the fallback tests).
    expect([g.remote_read, g.remote_read_path]).toEqual([undefined, '/api/v1/read']);
  });

  it('are read as given', () => {
    const g = parseConfigText(group('      remote_read: true\n      remote_read_path: /prometheus/api/v1/read\n')).query!.server_groups[0];
    expect([g.remote_read, g.remote_read_path]).toEqual([true, '/prometheus/api/v1/read']);
  });

  it('are checked', () => {
    expect(problems(group('      remote_read: "yes"\n')).join('\n')).toMatch(/query\.server_groups\.0\.remote_read: /);
    expect(problems(group('      remote_read_path: api/v1/read\n')).join('\n')).toMatch(/query\.server_groups\.0\.remote_read_path: must start with "\/"/);
  });
});

describe('RemoteReadTarget: external labels (keepExternalLabels false)', () => {
  it('learns them from status/config, sends the matcher the handler would rewrite as a regex, strips them, refreshes', async () => {
    let site = 'lab';
    const reads: LabelMatcher[][] = [];
    const { url, seen } = await serve(
      (req, res, body) => {
        if (req.method === 'GET' && req.url!.startsWith('/api/v1/status/config')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'success', data: { yaml: `global:\n  external_labels:\n    site: ${site}\n` } }));
          return;
        }
        const q = decodeReadRequest(snappyDecompress(body)).queries[0];
        reads.push(q.matchers.map((m) => ({ type: (['=', '!=', '=~', '!~'] as const)[m.type], name: m.name, value: m.value })));
        res.writeHead(200, { 'content-type': STREAMED });
        res.end(
          frame({
            queryIndex: 0,
            chunkedSeries: [
              {
                labels: [
                  { name: '__name__', value: 'up' },
                  { name: 'a', value: '1' },
                  { name: 'site', value: site },
                ],
                chunks: [xor([1000], [1])],
              },
            ],
          }),
        );
      },
      { ownStatusConfig: true },
    );
    await withTarget({ url, timeoutMs: 5_000, keepExternalLabels: false, externalLabelsRefreshMs: 0 }, async (t) => {
      const got = await t.select([{ type: '=', name: 'site', value: 'lab' }], 0, 2000);
      expect(got.map((s) => s.labels)).toEqual([
        [
          { name: '__name__', value: 'up' },
          { name: 'a', value: '1' },
        ],
      ]);
      expect(reads[0]).toEqual([{ type: '=~', name: 'site', value: 'lab' }]);
      expect(seen[0].url).toMatch(/^\/api\/v1\/status\/config/);
      // Refreshed in the background once older than the refresh interval (0 here): a changed value
      // is used from the next read on.
      site = 'l.b';
      await t.select([{ type: '=', name: 'site', value: 'l.b' }], 0, 2000);
      await new Promise((r) => setTimeout(r, 50));
      const after = await t.select([{ type: '=', name: 'site', value: 'l.b' }], 0, 2000);
      expect(reads[2]).toEqual([{ type: '=~', name: 'site', value: 'l\\.b' }]);
      expect(after[0].labels.map((l) => l.name)).toEqual(['__name__', 'a']);
    });
  });

  it('a server without status/config has none: its series come back as sent', async () => {
    const { url } = await serve((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('404 page not found');
        return;
      }
      res.writeHead(200, { 'content-type': STREAMED });
      res.end(
        frame({
          queryIndex: 0,
          chunkedSeries: [
            {
              labels: [
                { name: '__name__', value: 'up' },
                { name: 'site', value: 'x' },
              ],
              chunks: [xor([1000], [1])],
            },
          ],
        }),
      );
    });
    await withTarget({ url, timeoutMs: 5_000, keepExternalLabels: false }, async (t) => {
      const got = await t.select([{ type: '=', name: 'site', value: 'x' }], 0, 2000);
      expect(got[0].labels.map((l) => l.value)).toEqual(['up', 'x']);
      expect(t.externalLabelStats.lookupErrors).toBe(1);
    });
  });
});
