// Our POST /api/v1/read: read by our own RemoteReadTarget in both answer kinds, by real Prometheus
// 2.42 servers through `remote_read` (over an in-memory storage, and over ./proxy reading a
// backfilled Prometheus through remote read itself), and its errors.

import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hono } from 'hono';
import {
  BACKFILL_END_MS,
  BACKFILL_START_MS,
  generateBackfillData,
  loadIntoMemory,
  startBackfilledPrometheus,
  type BackfillDataSet,
} from '../../dev/backfill.js';
import { startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { matchersToSelector } from '../../src/query/downstream/json-api-client.js';
import { RemoteReadTarget } from '../../src/query/downstream/remote-read-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { Engine } from '../../src/promql/engine.js';
import { FrameReader } from '../../src/remote/framing.js';
import { decodeChunkedReadResponse, decodeReadResponse, encodeReadRequest, valueBits, type ReadRequest } from '../../src/remote/prompb.js';
import { snappyCompress, snappyDecompress } from '../../src/remote/snappy.js';
import { decodeXorChunk } from '../../src/remote/xor-chunk.js';
import { type Series, type Storage } from '../../src/storage/interface.js';
import { labelsToString } from '../../src/model/labels.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { createApp } from '../../src/server/app.js';
import { createQueryApi } from '../../src/server/api/query-api.js';
import { fixedQueryApi } from '../../src/server/query-layer-slot.js';
import { createRemoteReadApi } from '../../src/server/api/remote-read-api.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { DownstreamError, StorageUnavailableError } from '../../src/errors.js';
import { eq, ne, re } from '../support/matchers.js';

const T0 = BACKFILL_START_MS;
const T_END = BACKFILL_END_MS;
const MIN = 60_000;

/** Values as bit patterns; a stale sample's value means nothing, so only its flag is compared. */
function plain(series: Series[]) {
  return series.map((s) => {
    const b = valueBits(s.values);
    return {
      labels: labelsToString(s.labels),
      timestamps: Array.from(s.timestamps),
      bits: Array.from(s.values, (_, i) => (s.stale?.[i] ? 'stale' : b[2 * i + 1].toString(16) + ':' + b[2 * i].toString(16))),
    };
  });
}

async function listen(app: { fetch: (req: Request) => Response | Promise<Response> }): Promise<{ url: string; server: ServerType }> {
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function close(server: ServerType | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  return new Promise((r) => server.close(() => r()));
}

/** The backfilled data plus series with the values only remote read carries: NaN, ±Inf, -0 and staleness markers; and a long one. */
function extendedMemory(data: BackfillDataSet): MemoryStorage {
  const m = loadIntoMemory(data);
  for (let i = 0; i <= 40; i++) {
    const t = T0 + i * 15_000;
    m.add({ __name__: 'odd_values', kind: 'special' }, t, [NaN, Infinity, -Infinity, -0, 1e-300, -1.5e300][i % 6]);
    // A series that goes stale every tenth step and comes back.
    if (i % 10 === 9) m.add({ __name__: 'flappy', job: 'x' }, t, NaN, { stale: true });
    else m.add({ __name__: 'flappy', job: 'x' }, t, i);
  }
  // 300,000 samples at 1 s: several frames of about 1 MiB in a streamed answer.
  for (let i = 0; i < 300_000; i++) m.add({ __name__: 'long_series' }, T0 + i * 1000, Math.sin(i) * 1000);
  return m;
}

const MATCHER_SETS: LabelMatcher[][] = [
  [eq('__name__', 'http_requests_total'), re('code', '5..')],
  [eq('job', 'sensors')],
  [re('__name__', 'odd_values|flappy')],
  [eq('__name__', 'long_series')],
  [re('__name__', '.+'), ne('__name__', 'long_series')],
  [eq('__name__', 'no_such_metric')],
  [],
];
const TIME_RANGES: Array<[number, number]> = [
  [T0, T_END],
  [T0 + 2 * MIN + 1, T0 + 7 * MIN],
  [T0 + 5 * MIN, T0 + 5 * MIN],
  [T0 - 10 * MIN, T0 + 200 * MIN],
];

describe('our remote-read endpoint read by RemoteReadTarget', () => {
  let memory: MemoryStorage;
  let srv: { url: string; server: ServerType } | undefined;
  let streamed: RemoteReadTarget;
  let samples: RemoteReadTarget;

  beforeAll(async () => {
    memory = extendedMemory(generateBackfillData());
    // The production app: /api/v1 with compression, remote read mounted by createQueryApi.
    const app = createApp({ shard: undefined, queryApi: fixedQueryApi(createQueryApi({ storage: memory, engine: new Engine() })), startedAt: Date.now() });
    srv = await listen(app);
    streamed = new RemoteReadTarget({ url: srv.url, timeoutMs: 30_000 });
    samples = new RemoteReadTarget({ url: srv.url, timeoutMs: 30_000, responseKinds: ['samples'] });
  });

  afterAll(async () => {
    await Promise.all([streamed?.close(), samples?.close()]);
    await close(srv?.server);
  });

  for (const kind of ['streamed', 'samples'] as const) {
    it(`${kind}: every selection equals the storage's own answer, staleness markers and special values included`, async () => {
      const t = kind === 'streamed' ? streamed : samples;
      let nonEmpty = 0;
      for (const matchers of MATCHER_SETS) {
        for (const [start, end] of TIME_RANGES) {
          const got = await t.select(matchers, start, end, { startMs: start, endMs: end, stepMs: 60_000 });
          expect(t.lastResponseKind).toBe(kind);
          expect(plain(got), `${matchersToSelector(matchers)} over [${start}, ${end}]`).toEqual(plain(await memory.select(matchers, start, end)));
          if (got.length > 0) nonEmpty++;
        }
      }
      expect(nonEmpty).toBeGreaterThan(15);
      expect(t.responses[kind]).toBe(MATCHER_SETS.length * TIME_RANGES.length);
      const [flappy] = await t.select([eq('__name__', 'flappy')], T0, T_END);
      expect(Array.from(flappy.stale!).filter((x) => x === 1).length).toBe(4);
    });
  }

  it('a long series arrives in several frames of about 1 MiB and is put back together', async () => {
    const body = snappyCompress(
      encodeReadRequest({
        queries: [{ startTimestampMs: T0, endTimestampMs: T0 + 400_000_000, matchers: [{ type: 0, name: '__name__', value: 'long_series' }] }],
        acceptedResponseTypes: [1],
      }),
    );
    const res = await fetch(`${srv!.url}/api/v1/read`, { method: 'POST', body });
    expect(res.headers.get('content-type')).toBe('application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse');
    expect(res.headers.get('content-encoding')).toBeNull();
    const r = new FrameReader();
    const frames = [...r.push(new Uint8Array(await res.arrayBuffer()))].map((f) => ({ size: f.length, msg: decodeChunkedReadResponse(f.slice()) }));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames) {
      expect(f.size).toBeLessThan(1024 * 1024 + 4096);
      expect(f.msg.chunkedSeries.map((s) => labelsToString(s.labels))).toEqual(['long_series']);
      for (const c of f.msg.chunkedSeries[0].chunks) expect(decodeXorChunk(c.data).timestamps.length).toBeLessThanOrEqual(120);
    }
    const [whole] = await streamed.select([eq('__name__', 'long_series')], T0, T0 + 400_000_000);
    expect(whole.timestamps.length).toBe(300_000);
  });

  async function post(body: Uint8Array | string, path = '/api/v1/read'): Promise<{ status: number; type: string | null; text: string; bytes: Uint8Array }> {
    const res = await fetch(`${srv!.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, type: res.headers.get('content-type'), text: Buffer.from(bytes).toString(), bytes };
  }
  const request = (req: ReadRequest) => snappyCompress(encodeReadRequest(req));
  const q = (matchers: ReadRequest['queries'][number]['matchers']) => ({ startTimestampMs: T0, endTimestampMs: T_END, matchers });

  it('no accepted types means SAMPLES; several queries are answered in order', async () => {
    const r = await post(
      request({ queries: [q([{ type: 0, name: '__name__', value: 'up' }]), q([{ type: 0, name: 'job', value: 'sensors' }])], acceptedResponseTypes: [] }),
    );
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/x-protobuf');
    const resp = decodeReadResponse(snappyDecompress(r.bytes));
    expect(resp.results.map((x) => x.timeseries.length)).toEqual([8, 10]);
    expect(resp.results[1].timeseries.every((s) => s.labels.some((l) => l.name === 'job' && l.value === 'sensors'))).toBe(true);
    // An unknown type first is passed over.
    const s = await post(
      request({
        queries: [q([{ type: 0, name: '__name__', value: 'up' }]), q([{ type: 0, name: '__name__', value: 'queue_length' }])],
        acceptedResponseTypes: [7, 1],
      }),
    );
    expect(s.type).toBe('application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse');
    const fr = new FrameReader();
    const idx = [...fr.push(s.bytes)].map((f) => decodeChunkedReadResponse(f).queryIndex);
    expect(idx).toEqual([...new Array(8).fill(0), ...new Array(8).fill(1)]);
  });

  it.each([
    ['a body that is not snappy', () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /^snappy: decoded length does not fit in 32 bits\n$/],
    ['an empty body', () => new Uint8Array(0), /^snappy: empty input\n$/],
    ['snappy around garbage', () => snappyCompress(new Uint8Array([0x0a, 0x50, 1, 2])), /^protobuf: length 80 at byte 2 runs past the end of the message\n$/],
    [
      'snappy cut short',
      () => request({ queries: [q([{ type: 0, name: '__name__', value: 'up' }])], acceptedResponseTypes: [] }).subarray(0, 10),
      /^snappy: .*truncated/,
    ],
    [
      'only unknown response types',
      () => request({ queries: [], acceptedResponseTypes: [5, 9] }),
      /^server does not support any of the requested response types: \[5 9\]; supported: \[SAMPLES STREAMED_XOR_CHUNKS\]\n$/,
    ],
    [
      'an unknown matcher type',
      () => request({ queries: [q([{ type: 4, name: 'job', value: 'x' }])], acceptedResponseTypes: [] }),
      /^invalid matcher type 4 for label "job"\n$/,
    ],
    [
      'an invalid regex',
      () => request({ queries: [q([{ type: 2, name: 'job', value: '(' }])], acceptedResponseTypes: [1] }),
      /^error parsing regexp: missing closing \): `\(`\n$/,
    ],
  ])('answers 400 with the reason as text to %s', async (_name, body, msg) => {
    const r = await post(body());
    expect(r.status).toBe(400);
    expect(r.type).toBe('text/plain; charset=utf-8');
    expect(r.text).toMatch(msg);
  });

  it('GET is not remote read', async () => {
    const res = await fetch(`${srv!.url}/api/v1/read`);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
  });

  it('RemoteReadTarget reports the text of an error answer, naming the target', async () => {
    const err = (await streamed.select([re('job', '(')], T0, T_END).catch((e: unknown) => e)) as DownstreamError;
    expect(err).toBeInstanceOf(DownstreamError);
    expect(err.message).toBe(`${srv!.url}: remote read: HTTP 400: error parsing regexp: missing closing ): \`(\``);
  });
});

describe('remote-read endpoint: storage failures and limits', () => {
  const failing = (err: Error): Storage => ({
    select: () => Promise.reject(err),
    labelNames: () => Promise.resolve([]),
    labelValues: () => Promise.resolve([]),
  });
  const body = snappyCompress(
    encodeReadRequest({
      queries: [{ startTimestampMs: 0, endTimestampMs: 1e12, matchers: [{ type: 0, name: '__name__', value: 'up' }] }],
      acceptedResponseTypes: [1, 0],
    }),
  );
  const call = async (app: Hono) => {
    const res = await app.request('/', { method: 'POST', body });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  };

  it('an unavailable storage (a server group down) is 503, any other failure 500', async () => {
    expect(
      await call(createRemoteReadApi({ storage: failing(new StorageUnavailableError('server group "a" failed: target "http://x": timeout after 2s')) })),
    ).toEqual({
      status: 503,
      text: 'server group "a" failed: target "http://x": timeout after 2s\n',
      type: 'text/plain; charset=utf-8',
    });
    expect(await call(createRemoteReadApi({ storage: failing(new Error('boom')) }))).toMatchObject({ status: 500, text: 'boom\n' });
  });

  it('a storage slower than the timeout is 500 "context deadline exceeded" (Prometheus), even one that ignores its abort signal', async () => {
    const hanging: Storage = { select: () => new Promise(() => {}), labelNames: () => Promise.resolve([]), labelValues: () => Promise.resolve([]) };
    const started = Date.now();
    expect(await call(createRemoteReadApi({ storage: hanging, timeoutMs: 100 }))).toMatchObject({ status: 500, text: 'context deadline exceeded\n' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a SAMPLES answer over the sample limit is refused as Prometheus does; a streamed one is not limited', async () => {
    const m = new MemoryStorage();
    for (let i = 0; i < 11; i++) m.add({ __name__: 'up' }, i * 1000, 1);
    const samplesOnly = snappyCompress(
      encodeReadRequest({
        queries: [{ startTimestampMs: 0, endTimestampMs: 1e12, matchers: [{ type: 0, name: '__name__', value: 'up' }] }],
        acceptedResponseTypes: [],
      }),
    );
    const app = createRemoteReadApi({ storage: m, maxSamples: 10 });
    const res = await app.request('/', { method: 'POST', body: samplesOnly });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('exceeded sample limit (10)\n');
    expect((await call(app)).status).toBe(200);
    const ok = await createRemoteReadApi({ storage: m, maxSamples: 11 }).request('/', { method: 'POST', body: samplesOnly });
    expect(ok.status).toBe(200);
  });

  it('storage warnings (a group left out) reach onWarnings', async () => {
    const m = new MemoryStorage();
    m.add({ __name__: 'up' }, 1000, 1);
    const seen: string[][] = [];
    const app = createRemoteReadApi({ storage: () => ({ storage: m, warnings: ['server group "b" failed: down'] }), onWarnings: (w) => seen.push(w) });
    expect((await call(app)).status).toBe(200);
    expect(seen).toEqual([['server group "b" failed: down']]);
  });

  it('a request body over 32 MiB is refused', async () => {
    const res = await createRemoteReadApi({ storage: new MemoryStorage() }).request('/', { method: 'POST', body: new Uint8Array(32 * 1024 * 1024 + 1) });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('request body larger than 33554432 bytes\n');
  });
});

// ---------------------------------------------------------------------------------------------

type Json = {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
};

async function apiGet(base: string, path: string, params: Record<string, string>): Promise<Json> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  return (await res.json()) as Json;
}

/** The result sorted by labels, so that order differences do not count. */
function canonical(j: Json): string {
  if (j.status !== 'success') return JSON.stringify(j);
  const rows = j.data.result.map((r) => JSON.stringify([Object.entries(r.metric).sort(), r.values ?? r.value]));
  return `${j.data.resultType}\n${rows.sort().join('\n')}`;
}

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))',
  'max_over_time(temperature_celsius[15m])',
  'up',
  'topk(3, memory_usage_bytes)',
  'count by (instance) (cpu_seconds_total)',
  'increase(batch_processed_total[10m])',
  'request_duration_seconds_sum / request_duration_seconds_count',
];

describe('Prometheus 2.42 reading from us through remote_read', () => {
  let reference: PrometheusProcess;
  let viaMemory: PrometheusProcess;
  let viaProxy: PrometheusProcess;
  let proxy: ProxyProcess;
  let memSrv: { url: string; server: ServerType } | undefined;
  const start = T0 / 1000;
  const end = T_END / 1000;

  const remoteReadConfig = (url: string) => `
global: {evaluation_interval: 1m}
remote_read:
  - url: ${url}/api/v1/read
    read_recent: true
    remote_timeout: 30s
`;

  beforeAll(async () => {
    const data = generateBackfillData();
    const memory = loadIntoMemory(data);
    for (let i = 0; i <= 40; i++) {
      const t = T0 + i * 15_000;
      if (i === 20) memory.add({ __name__: 'goes_stale', job: 'x' }, t, NaN, { stale: true });
      else if (i < 20) memory.add({ __name__: 'goes_stale', job: 'x' }, t, i);
    }
    memSrv = await listen(
      createApp({ shard: undefined, queryApi: fixedQueryApi(createQueryApi({ storage: memory, engine: new Engine() })), startedAt: Date.now() }),
    );
    reference = await startBackfilledPrometheus(data);
    // ./proxy reads the reference through remote read and serves remote read itself.
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
query:
  server_groups:
    - name: shard-0
      static_configs: [{targets: ["127.0.0.1:${reference.port}"]}]
      remote_read: true
`,
    );
    // No local data: everything they answer comes through our endpoint.
    [viaMemory, viaProxy] = await Promise.all([
      startPrometheus({ configYaml: remoteReadConfig(memSrv.url), extraArgs: ['--log.level=warn', '--query.lookback-delta=5m'] }),
      startPrometheus({ configYaml: remoteReadConfig(proxy.url), extraArgs: ['--log.level=warn', '--query.lookback-delta=5m'] }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([reference, viaMemory, viaProxy].filter(Boolean).map((p) => p.stop()));
    await close(memSrv?.server);
  });

  for (const query of QUERIES) {
    it(`${query}: range and instant results equal the reference's, bit for bit`, async () => {
      const range = { query, start: String(start + 600), end: String(end), step: '60' };
      const ref = await apiGet(reference.url, '/api/v1/query_range', range);
      expect(ref.status).toBe('success');
      expect(ref.data.result.length, 'reference has data').toBeGreaterThan(0);
      expect(canonical(await apiGet(viaMemory.url, '/api/v1/query_range', range)), 'via the in-memory storage').toBe(canonical(ref));
      expect(canonical(await apiGet(viaProxy.url, '/api/v1/query_range', range)), 'via ./proxy').toBe(canonical(ref));
      for (const t of [start + 30 * 60, end]) {
        const inst = { query, time: String(t) };
        const refI = await apiGet(reference.url, '/api/v1/query', inst);
        expect(canonical(await apiGet(viaMemory.url, '/api/v1/query', inst)), `instant at ${t} via memory`).toBe(canonical(refI));
        expect(canonical(await apiGet(viaProxy.url, '/api/v1/query', inst)), `instant at ${t} via ./proxy`).toBe(canonical(refI));
      }
    });
  }

  it('./proxy reads the reference through remote read, not through its JSON query API', async () => {
    const requests = async (): Promise<Record<string, number>> => {
      const metrics = await (await fetch(`${reference.url}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const l of metrics.split('\n')) {
        const m = /^prometheus_http_requests_total\{code="200",handler="([^"]+)"\} (\d+)$/.exec(l);
        if (m) out[m[1]] = Number(m[2]);
      }
      return out;
    };
    const before = await requests();
    const r = await apiGet(viaProxy.url, '/api/v1/query_range', {
      query: 'sum(rate(http_requests_total[5m]))',
      start: String(start + 600),
      end: String(end),
      step: '60',
    });
    expect(r.data.result.length).toBe(1);
    const after = await requests();
    expect((after['/api/v1/read'] ?? 0) - (before['/api/v1/read'] ?? 0)).toBe(1);
    expect(after['/api/v1/query'] ?? 0).toBe(before['/api/v1/query'] ?? 0);
    // The proxy's own metrics count those reads per target, with the bytes they brought.
    const own = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(own).toMatch(new RegExp(`^promfront_query_downstream_requests_total\\{[^}]*endpoint="read"[^}]*outcome="success"[^}]*\\} [1-9]`, 'm'));
    expect(own).toMatch(/^promfront_query_downstream_response_bytes_total\{[^}]*endpoint="read"[^}]*\} [1-9]/m);
  });

  it('our staleness marker ends the series for Prometheus at once, not after the lookback', async () => {
    const at = (i: number) => String((T0 + i * 15_000) / 1000);
    const before = await apiGet(viaMemory.url, '/api/v1/query', { query: 'goes_stale', time: at(19) });
    expect(before.data.result.map((r) => r.value![1])).toEqual(['19']);
    // 15 s after the last real sample, well within the 5 m lookback: the marker hides it.
    const after = await apiGet(viaMemory.url, '/api/v1/query', { query: 'goes_stale', time: at(20) });
    expect(after.data.result).toEqual([]);
    const count = await apiGet(viaMemory.url, '/api/v1/query', { query: 'count_over_time(goes_stale[10m])', time: at(25) });
    expect(count.data.result.map((r) => r.value![1])).toEqual(['20']);
  });
});
