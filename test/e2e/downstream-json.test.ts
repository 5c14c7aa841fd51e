// JsonApiTarget against a live Prometheus 2.42 on the backfilled data set (compared with the same
// data loaded into a MemoryStorage), and its error handling against small local HTTP servers.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKFILL_END_MS,
  BACKFILL_START_MS,
  startBackfilledPrometheus,
  generateBackfillData,
  loadIntoMemory,
  type BackfillDataSet,
} from '../../dev/backfill.js';
import { freePort, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { JsonApiTarget, matchersToSelector } from '../../src/query/downstream/json-api-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { type Series } from '../../src/storage/interface.js';
import { labelsToString } from '../../src/model/labels.js';
import type { MemoryStorage } from '../../src/storage/memory.js';
import { DownstreamError } from '../../src/errors.js';
import { eq, re, nre, DOWNSTREAM_MATCHER_SETS, DOWNSTREAM_TIME_RANGES } from '../support/matchers.js';

const T0 = BACKFILL_START_MS;
const T_END = BACKFILL_END_MS;
const MIN = 60_000;

const MATCHER_SETS = DOWNSTREAM_MATCHER_SETS;

const TIME_RANGES = DOWNSTREAM_TIME_RANGES;

function plain(series: Series[]): Array<{ labels: string; timestamps: number[]; values: string[] }> {
  // Values as strings so NaN compares equal and -0 / 0 are told apart only if printed differently.
  return series.map((s) => ({
    labels: labelsToString(s.labels),
    timestamps: Array.from(s.timestamps),
    values: Array.from(s.values, (v) => String(v)),
  }));
}

describe('JsonApiTarget against Prometheus 2.42 on backfilled data', () => {
  let data: BackfillDataSet;
  let memory: MemoryStorage;
  let prom: PrometheusProcess | undefined;
  let target: JsonApiTarget;

  beforeAll(async () => {
    // Fail (not skip) with an install hint when the binaries are missing.
    data = generateBackfillData();
    memory = loadIntoMemory(data);
    prom = await startBackfilledPrometheus(data);
    target = new JsonApiTarget({ url: prom.url, timeoutMs: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await target?.close();
    await prom?.stop();
  });

  it('select returns exactly the samples of the memory storage', async () => {
    let compared = 0;
    let samples = 0;
    for (const matchers of MATCHER_SETS) {
      for (const [start, end] of TIME_RANGES) {
        const got = await target.select(matchers, start, end);
        const want = await memory.select(matchers, start, end);
        expect(plain(got), `${matchersToSelector(matchers)} over [${start}, ${end}]`).toEqual(plain(want));
        for (const s of got) {
          expect(s.timestamps).toBeInstanceOf(Float64Array);
          expect(s.values).toBeInstanceOf(Float64Array);
          samples += s.timestamps.length;
        }
        compared++;
      }
    }
    expect(compared).toBe(MATCHER_SETS.length * TIME_RANGES.length);
    expect(samples).toBeGreaterThan(data.sampleCount); // the whole data set was read more than once
  });

  it('select over the whole data set returns every series and sample', async () => {
    const got = await target.select([re('__name__', '.+')], T0, T_END);
    expect(got.length).toBe(data.seriesCount);
    expect(got.reduce((n, s) => n + s.timestamps.length, 0)).toBe(data.sampleCount);
  });

  it('a path prefix, extra query parameters and headers are passed along', async () => {
    // Prometheus ignores unknown parameters and headers; a trailing slash in the base URL is fine.
    const t = new JsonApiTarget({ url: `${prom!.url}/`, timeoutMs: 10_000, headers: { 'X-Scope-OrgID': 'a' }, queryParams: { foo: 'bar' } });
    try {
      const got = await t.select([eq('__name__', 'up')], T0, T_END);
      expect(plain(got)).toEqual(plain(await memory.select([eq('__name__', 'up')], T0, T_END)));
    } finally {
      await t.close();
    }
  });

  it('labelNames and labelValues agree with the memory storage', async () => {
    const sets: LabelMatcher[][] = [
      [],
      [eq('__name__', 'http_requests_total')],
      [eq('job', 'sensors')],
      [re('__name__', 'request_duration_seconds_.*')],
      [eq('__name__', 'no_such_metric')],
    ];
    for (const m of sets) {
      const what = matchersToSelector(m);
      expect(await target.labelNames(m, T0, T_END), `labelNames ${what}`).toEqual(await memory.labelNames(m, T0, T_END));
      for (const name of ['__name__', 'job', 'instance', 'le', 'no_such_label']) {
        expect(await target.labelValues(name, m, T0, T_END), `labelValues ${name} ${what}`).toEqual(await memory.labelValues(name, m, T0, T_END));
      }
    }
    expect((await target.labelValues('job', [], T0, T_END)).length).toBeGreaterThan(1);
  });

  it('a bad query gives the Prometheus error text', async () => {
    const err = await target.select([re('job', '(')], T0, T_END).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownstreamError);
    expect((err as Error).message).toMatch(new RegExp(`^${prom!.url.replace(/[.]/g, '\\.')}: HTTP 400: bad_data: `));
  });
});

describe('matchersToSelector', () => {
  it('quotes values, and names only when they are not identifiers', () => {
    expect(matchersToSelector([eq('__name__', 'x'), re('job', 'a|b')])).toBe('{__name__="x", job=~"a|b"}');
    expect(matchersToSelector([eq('a.b', 'say "hi"\n'), nre('c', '\\d+')])).toBe('{"a.b"="say \\"hi\\"\\n", c!~"\\\\d+"}');
    expect(matchersToSelector([re('job', '.*')])).toBe('{job=~".*", __name__=~".+"}');
  });
});

describe('JsonApiTarget errors', () => {
  const servers: http.Server[] = [];

  async function serve(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  async function failure(url: string, timeoutMs = 5_000, signal?: AbortSignal): Promise<DownstreamError> {
    const t = new JsonApiTarget({ url, timeoutMs });
    try {
      const err = await t.select([eq('__name__', 'up')], T0, T_END, undefined, signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DownstreamError);
      return err as DownstreamError;
    } finally {
      await t.close();
    }
  }

  it('asks 1 ms past the end (VictoriaMetrics < 1.132 misses new series at exactly midnight) and keeps only [start, end]', async () => {
    const seen: URLSearchParams[] = [];
    const start = Date.UTC(2024, 0, 1, 0, 0, 0) - 5 * MIN;
    const end = Date.UTC(2024, 0, 1, 0, 0, 0);
    const url = await serve((req, res) => {
      seen.push(new URL(req.url!, 'http://x').searchParams);
      res.writeHead(200, { 'content-type': 'application/json' });
      const values = [start - 1, start, end, end + 1].map((t) => [t / 1000, String(t % 7)]);
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'up' }, values }] } }));
    });
    const t = new JsonApiTarget({ url, timeoutMs: 5_000 });
    try {
      const got = await t.select([eq('__name__', 'up')], start, end);
      expect(plain(got)).toEqual([{ labels: 'up', timestamps: [start, end], values: [String(start % 7), String(end % 7)] }]);
    } finally {
      await t.close();
    }
    expect(seen).toHaveLength(1);
    // time = end + 1 ms, and a window of end - start + 2 ms reaches back to start - 1 ms: start is
    // inside whether the server's window is left-closed (Prometheus 2) or left-open (Prometheus 3, VM).
    expect(seen[0].get('time')).toBe(String((end + 1) / 1000));
    expect(seen[0].get('query')).toBe(`{__name__="up"}[${end - start + 2}ms]`);
  });

  it('HTTP 500 with a Prometheus error envelope', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: 'expanding series: boom' }));
    });
    const err = await failure(url);
    expect(err.message).toBe(`${url}: HTTP 500: internal: expanding series: boom`);
    expect(err.target).toBe(url);
  });

  it('an HTML answer', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body>login</body></html>');
    });
    expect((await failure(url)).message).toBe(`${url}: unexpected content type text/html`);
  });

  it('an HTML error page', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    expect((await failure(url)).message).toBe(`${url}: HTTP 502: unexpected content type text/html`);
  });

  it('invalid JSON', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status": "success", "data": ');
    });
    expect((await failure(url)).message).toMatch(new RegExp(`^${url.replace(/[.]/g, '\\.')}: HTTP 200: invalid JSON: `));
  });

  it('a server that hangs: timeout', async () => {
    const url = await serve(() => {
      // never answers
    });
    const started = Date.now();
    expect((await failure(url, 300)).message).toBe(`${url}: timeout after 300ms`);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('the caller aborting', async () => {
    const url = await serve(() => {});
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('caller gave up')), 100);
    const t = new JsonApiTarget({ url, timeoutMs: 10_000 });
    try {
      await expect(t.select([eq('__name__', 'up')], T0, T_END, undefined, ac.signal)).rejects.toThrow('caller gave up');
    } finally {
      await t.close();
    }
  });

  it('credentials a downstream echoes back are cut out of the error', async () => {
    // Each answer quotes the credentials the request carried, as some misconfigured gateways do.
    const answers: [number, string, (auth: string) => string][] = [
      [500, 'application/json', (a) => JSON.stringify({ status: 'error', errorType: 'internal', error: `denied for ${a}` })],
      [200, 'application/json', (a) => JSON.stringify({ status: 'error', errorType: 'bad_data', error: `token ${a.split(' ')[1]} unknown` })],
      [200, 'application/json', (a) => `${a.split(' ')[1]} is not JSON`],
      [502, 'application/json', (a) => `{"oops": "${'x'.repeat(190)}${a}"}`],
    ];
    for (const [status, type, body] of answers) {
      const url = await serve((req, res) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body(req.headers.authorization ?? 'none none'));
      });
      for (const [headers, base, secret] of [
        [{ Authorization: 'Bearer s3cretT0ken' }, url, 's3cretT0ken'],
        [{}, url.replace('http://', 'http://alice:pa55word@'), Buffer.from('alice:pa55word').toString('base64')],
      ] as const) {
        const t = new JsonApiTarget({ url: base, timeoutMs: 5_000, headers });
        try {
          const err = (await t.select([eq('__name__', 'up')], T0, T_END).catch((e: unknown) => e)) as Error;
          expect(err).toBeInstanceOf(DownstreamError);
          expect(err.message).not.toContain(secret);
          // Not even a piece of it (V8's JSON errors and our snippets quote parts of the body).
          expect(err.message).not.toContain(secret.slice(0, 4));
        } finally {
          await t.close();
        }
      }
    }
    // The echo is really there: the errors say where the credentials were cut out.
    const url = await serve((req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: `denied for ${req.headers.authorization}` }));
    });
    const t = new JsonApiTarget({ url, timeoutMs: 5_000, headers: { Authorization: 'Bearer s3cretT0ken' } });
    await expect(t.select([eq('__name__', 'up')], T0, T_END)).rejects.toThrow(`${url}: HTTP 500: internal: denied for <secret>`);
    await t.close();
  });

  it('a refused connection, without the credentials in the message', async () => {
    const port = await freePort();
    const err = await failure(`http://alice:s3cret@127.0.0.1:${port}/prefix`);
    expect(err.message).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/prefix: request failed: .*ECONNREFUSED`));
    expect(err.message).not.toContain('s3cret');
    expect(err.message).not.toContain('alice');
  });
});
