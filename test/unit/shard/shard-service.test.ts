import { serve } from '@hono/node-server';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { createApp } from '../../../src/server/app.js';
import { initHash } from '../../../src/shard/hash.js';
import { ShardService, sourceFamilies, type SourceState } from '../../../src/shard/shard-service.js';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { startUpstream, type Upstream } from '../../support/upstream.js';

const GOOD = `# HELP app_requests_total Requests.
# TYPE app_requests_total counter
${Array.from({ length: 200 }, (_, i) => `app_requests_total{path="/p${i}",code="200"} ${i}`).join('\n')}
# TYPE app_latency_seconds histogram
${Array.from({ length: 20 }, (_, i) =>
  [
    `app_latency_seconds_bucket{path="/p${i}",le="0.1"} 1`,
    `app_latency_seconds_bucket{path="/p${i}",le="1"} 2`,
    `app_latency_seconds_bucket{path="/p${i}",le="+Inf"} 3`,
    `app_latency_seconds_sum{path="/p${i}"} 1.5`,
    `app_latency_seconds_count{path="/p${i}"} 3`,
  ].join('\n'),
).join('\n')}
`;
const GOOD_SERIES = 200 + 20 * 5;

const log = pino({ level: 'silent' });
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function service(sources: string, extra = ''): Promise<ShardService> {
  const config = parseConfigText(`
shard:
  num_shards: 2
  scrape_interval: 1m
  scrape_timeout: 500ms
  # These tests check bodies as the upstreams wrote them; identity labels are tested in identity.test.ts.
  source_identity: false
  # Small enough to be exceeded well within the timeout on a loaded machine (8MiB was not, at times).
  max_body_size: 1MiB
${extra}
  sources:
${sources}
`);
  const svc = new ShardService(config.shard!, log);
  cleanup.push(() => svc.stop());
  await initHash(); // no timer loop: the test drives every cycle
  return svc;
}

function allText(svc: ShardService): string {
  return svc.current!.shards.map((s) => Buffer.concat(s.text).toString()).join('');
}

function seriesLines(body: string): string[] {
  return body.split('\n').filter((l) => l && !l.startsWith('#'));
}

async function upstream(body = GOOD, ct?: string): Promise<Upstream> {
  const u = await startUpstream(body, ct);
  cleanup.push(() => u.close());
  return u;
}

describe('ShardService failure handling', () => {
  it('keeps the last good series through every kind of upstream failure, then drops them after max_stale', async () => {
    const up = await upstream();
    const svc = await service(`    - url: ${up.url}`, '  max_stale: 3s');
    await svc.runCycle();
    const good = seriesLines(allText(svc)).sort();
    expect(good).toHaveLength(GOOD_SERIES);
    const src = svc.sources[0];
    expect(src.lastError).toBeUndefined();
    expect(src.up).toBe(true);

    // The clock stands still while the failures are tried (on a loaded machine they could take longer
    // than max_stale), then moves past max_stale at once. Only Date is faked: timers stay real.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    cleanup.push(async () => void vi.useRealTimers());
    const cases: [Upstream['mode'], RegExp][] = [
      ['500', /^server returned HTTP status 500/],
      ['garbage', /^invalid exposition \(text\): line 1: /],
      ['truncated', /^body truncated/],
      ['hang', /^timeout after 500ms/],
      ['huge', /^body exceeds max_body_size of 1MiB/],
    ];
    for (const [mode, reason] of cases) {
      up.mode = mode;
      const t0 = performance.now();
      await svc.runCycle();
      expect(performance.now() - t0, mode).toBeLessThan(5000);
      expect(src.up, mode).toBe(false);
      expect(src.lastError, mode).toMatch(reason);
      // Still served: the last good data, unchanged and complete.
      expect(seriesLines(allText(svc)).sort(), mode).toEqual(good);
    }
    expect(src.failures).toBe(cases.length);

    vi.setSystemTime(src.lastSuccessAt! + 3100);
    up.mode = '500';
    await svc.runCycle();
    expect(seriesLines(allText(svc))).toHaveLength(0);
    expect(src.staleDropped).toBe(GOOD_SERIES);

    up.mode = 'good';
    await svc.runCycle();
    expect(seriesLines(allText(svc)).sort()).toEqual(good);
    expect(src.lastError).toBeUndefined();
  }, 30_000);

  it('serves the first source in config order when two sources have the same series, and counts the rest', async () => {
    const a = await upstream('# TYPE m gauge\nm{k="1"} 1\nm{k="2",z="a"} 1\n');
    // The same series spelled with its labels in another order, and with an empty label, is the same series.
    const b = await upstream('# TYPE m gauge\nm{z="a",k="2"} 2\nm{k="3"} 2\nm{e="",k="1"} 2\n# TYPE other gauge\nother 5\n');
    const svc = await service(`    - url: ${a.url}\n    - url: ${b.url}`);
    await svc.runCycle();
    const lines = seriesLines(allText(svc)).sort();
    expect(lines).toEqual(['m{k="1"} 1', 'm{k="2",z="a"} 1', 'm{k="3"} 2', 'other 5']);
    expect(svc.sources[1].duplicatesDropped).toBe(2);
    expect(svc.sources[0].duplicatesDropped).toBe(0);
    // Each family is declared once per shard even when both sources have it.
    for (const s of svc.current!.shards) {
      const body = Buffer.concat(s.text).toString();
      expect(body.match(/^# TYPE m gauge$/gm)?.length ?? 0).toBeLessThanOrEqual(1);
    }
  });
});

describe('HTTP endpoints', () => {
  it('answers 503 before the first cycle, 404 out of range, and negotiates format and gzip', async () => {
    const up = await upstream(
      `# TYPE t_seconds counter\n# UNIT t_seconds seconds\nt_seconds_total{a="x"} 3 1700000000.5\nt_seconds_created{a="x"} 1600000000 1700000000.5\n# EOF\n`,
      'application/openmetrics-text; version=1.0.0',
    );
    const config = parseConfigText(
      `shard:\n  num_shards: 2\n  source_identity: false\n  scrape_interval: 1m\n  sources:\n    - url: ${up.url}\n      bearer_token: SECRET-TOKEN-123\n`,
    );
    const svc = new ShardService(config.shard!, log);
    await initHash();
    const app = createApp({ shard: svc, startedAt: Date.now() });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    type Raw = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text(): Promise<string>; json(): Promise<unknown> };
    const req = (path: string, headers: Record<string, string> = {}) =>
      new Promise<Raw>((resolve, reject) => {
        get(`${base}${path}`, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({ status: res.statusCode!, headers: res.headers, body, text: async () => body.toString(), json: async () => JSON.parse(body.toString()) });
          });
        }).on('error', reject);
      });

    expect((await req('/-/ready')).status).toBe(503);
    expect((await req('/health')).status).toBe(503);
    expect((await req('/-/healthy')).status).toBe(200);
    expect((await req('/metrics/shard/0')).status).toBe(503);
    const oob = await req('/metrics/shard/2');
    expect(oob.status).toBe(404);
    expect(await oob.text()).toMatch(/shards are numbered 0 to 1/);

    await svc.runCycle();
    expect(up.lastHeaders.authorization).toBe('Bearer SECRET-TOKEN-123');
    expect((await req('/-/ready')).status).toBe(200);
    const status = (await (await req('/status')).json()) as any;
    expect(status.num_shards).toBe(2);
    expect(status.sources[0]).toMatchObject({ up: true, series: 2, families: 1, error: null });
    expect(status.shards.map((s: any) => s.series).reduce((a: number, b: number) => a + b)).toBe(2);
    const metrics = await (await req('/metrics')).text();
    expect(metrics).toMatch(/^promfront_source_up\{source="0",url="http:\/\/127\.0\.0\.1:\d+\/metrics"\} 1$/m);
    expect(metrics).toMatch(/^promfront_shard_series\{shard="\d"\} 2$/m);
    for (const text of [JSON.stringify(status), metrics]) expect(text).not.toContain('SECRET-TOKEN');
    const shard = svc.current!.shards.find((s) => s.series > 0)!;
    expect(Buffer.concat(shard.om).toString()).toBe(
      '# TYPE t_seconds counter\n# UNIT t_seconds seconds\nt_seconds_total{a="x"} 3 1700000000.5\nt_seconds_created{a="x"} 1600000000 1700000000.5\n# EOF\n',
    );
    expect(Buffer.concat(shard.text).toString()).toBe(
      '# TYPE t_seconds_total counter\nt_seconds_total{a="x"} 3 1700000000500\n# TYPE t_seconds_created gauge\nt_seconds_created{a="x"} 1600000000 1700000000500\n',
    );
    expect(gunzipSync(shard.omGzip)).toEqual(Buffer.concat(shard.om));
    expect(gunzipSync(shard.textGzip)).toEqual(Buffer.concat(shard.text));

    // Over HTTP: text by default, OpenMetrics when preferred, gzip when accepted.
    const id = shard.id;
    const plain = await req(`/metrics/shard/${id}`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(plain.body).toEqual(Buffer.concat(shard.text));
    const promAccept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const omGz = await req(`/metrics/shard/${id}`, { accept: promAccept, 'accept-encoding': 'gzip' });
    expect(omGz.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(omGz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(omGz.body)).toEqual(Buffer.concat(shard.om));
    const other = svc.current!.shards.find((s) => s.id !== id)!;
    // A shard with no series is still a valid, empty exposition.
    expect((await req(`/metrics/shard/${other.id}`, { accept: promAccept })).body.toString()).toBe('# EOF\n');
    expect((await req(`/metrics/shard/${other.id}`)).body.toString()).toBe('');
    // Self endpoints are gzipped on request too.
    const gzMetrics = await req('/metrics', { 'accept-encoding': 'gzip' });
    expect(gzMetrics.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzMetrics.body).toString()).toMatch(/promfront_cycles_total 1/);
    await svc.stop();
  });
});

describe('sourceFamilies', () => {
  it("counts a pushed source's families once over all its targets, and a URL source's as its scrape had them", async () => {
    await initHash();
    const data = (body: string) => {
      const ingest = new StreamingIngest('text', 2, []);
      ingest.write(Buffer.from(body));
      return ingest.finish();
    };
    const a = data('# TYPE x_total counter\nx_total 1\n# TYPE up gauge\nup 1\n');
    const b = data('# TYPE up gauge\nup 0\ny 2\n');
    const state = { families: 7 } as SourceState;
    expect(sourceFamilies(state)).toBe(7);
    expect(sourceFamilies({ ...state, pushedTargets: [a, b] })).toBe(3);
    expect(sourceFamilies({ ...state, pushedTargets: [] })).toBe(0);
  });
});
