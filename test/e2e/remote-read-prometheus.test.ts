// RemoteReadTarget against real Prometheus 2.42 servers: one on the backfilled data set (compared
// with JsonApiTarget and the same data in a MemoryStorage, bit for bit), and one scraping a tiny
// local target so that real staleness markers come through.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKFILL_END_MS,
  BACKFILL_START_MS,
  generateBackfillData,
  loadIntoMemory,
  startBackfilledPrometheus,
  type BackfillDataSet,
} from '../../dev/backfill.js';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { JsonApiTarget, matchersToSelector } from '../../src/query/downstream/json-api-client.js';
import { RemoteReadTarget } from '../../src/query/downstream/remote-read-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { FrameReader } from '../../src/remote/framing.js';
import { decodeChunkedReadResponse, encodeReadRequest, valueBits } from '../../src/remote/prompb.js';
import { snappyCompress } from '../../src/remote/snappy.js';
import { decodeXorChunk, encodeXorChunk } from '../../src/remote/xor-chunk.js';
import { type Series } from '../../src/storage/interface.js';
import { labelsToString } from '../../src/model/labels.js';
import type { MemoryStorage } from '../../src/storage/memory.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { eq, ne, re, nre, DOWNSTREAM_MATCHER_SETS, DOWNSTREAM_TIME_RANGES } from '../support/matchers.js';

const T0 = BACKFILL_START_MS;
const T_END = BACKFILL_END_MS;
const MIN = 60_000;

const MATCHER_SETS: LabelMatcher[][] = [
  ...DOWNSTREAM_MATCHER_SETS,
  [eq('__name__', 'memory_usage_bytes'), ne('no_such_label', '')], // a label no series has
  [eq('__name__', 'temperature_celsius'), nre('instance', 'sensor-[0-4]')],
];

const TIME_RANGES: [number, number][] = [
  ...DOWNSTREAM_TIME_RANGES,
  [T0 + 59 * MIN, T0 + 61 * MIN], // across a chunk boundary of most series (120 samples = 30 min)
];

/** Values as 64-bit patterns, so that equality is bit for bit (NaN payloads and -0 included). */
function plain(series: Series[]): Array<{ labels: string; timestamps: number[]; bits: string[]; stale: number[] }> {
  return series.map((s) => {
    const b = valueBits(s.values);
    return {
      labels: labelsToString(s.labels),
      timestamps: Array.from(s.timestamps),
      bits: Array.from(s.values, (_, i) => b[2 * i + 1].toString(16) + ':' + b[2 * i].toString(16)),
      stale: s.stale ? Array.from(s.stale) : [],
    };
  });
}

/** A raw remote-read request (our codecs, no RemoteReadTarget), returning the streamed frames' messages. */
async function rawStreamedRead(url: string, matchers: LabelMatcher[], start: number, end: number) {
  const body = snappyCompress(
    encodeReadRequest({
      queries: [
        {
          startTimestampMs: start,
          endTimestampMs: end,
          matchers: matchers.map((m) => ({ type: ['=', '!=', '=~', '!~'].indexOf(m.type), name: m.name, value: m.value })),
        },
      ],
      acceptedResponseTypes: [1],
    }),
  );
  const res = await fetch(`${url}/api/v1/read`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse');
  const reader = new FrameReader();
  const frames = [...reader.push(new Uint8Array(await res.arrayBuffer()))].map((f) => decodeChunkedReadResponse(f.slice()));
  reader.finish();
  return frames;
}

describe('RemoteReadTarget against Prometheus 2.42 on backfilled data', () => {
  let data: BackfillDataSet;
  let memory: MemoryStorage;
  let prom: PrometheusProcess | undefined;
  let streamed: RemoteReadTarget;
  let samples: RemoteReadTarget;
  let json: JsonApiTarget;

  beforeAll(async () => {
    data = generateBackfillData();
    memory = loadIntoMemory(data);
    prom = await startBackfilledPrometheus(data);
    streamed = new RemoteReadTarget({ url: prom.url, timeoutMs: 30_000 });
    samples = new RemoteReadTarget({ url: prom.url, timeoutMs: 30_000, responseKinds: ['samples'] });
    json = new JsonApiTarget({ url: prom.url, timeoutMs: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([streamed?.close(), samples?.close(), json?.close()]);
    await prom?.stop();
  });

  it(`select returns exactly what JsonApiTarget and the memory storage return (${MATCHER_SETS.length * TIME_RANGES.length} selections, streamed XOR chunks)`, async () => {
    let compared = 0;
    let nonEmpty = 0;
    for (const matchers of MATCHER_SETS) {
      for (const [start, end] of TIME_RANGES) {
        const what = `${matchersToSelector(matchers)} over [${start}, ${end}]`;
        const hints = { startMs: start, endMs: end, stepMs: 15_000, func: 'rate', rangeMs: 300_000 };
        const got = await streamed.select(matchers, start, end, compared % 2 === 0 ? hints : undefined);
        expect(streamed.lastResponseKind, what).toBe('streamed');
        const want = plain(await memory.select(matchers, start, end));
        expect(plain(got), what).toEqual(want);
        expect(plain(await json.select(matchers, start, end)), what).toEqual(want);
        if (got.length > 0) nonEmpty++;
        compared++;
      }
    }
    expect(compared).toBe(MATCHER_SETS.length * TIME_RANGES.length);
    expect(nonEmpty).toBeGreaterThanOrEqual(30);
    expect(streamed.responses).toEqual({ streamed: compared, samples: 0 });
  });

  it('the SAMPLES answer gives the same but for the sign of zero (Prometheus answers it when streaming is not asked for)', async () => {
    // Prometheus's generated Marshal leaves out a Sample value that compares equal to 0, so -0
    // arrives as +0; the data set has a few -0 temperatures.
    const positiveZero = (s: Series[]): Series[] => s.map((x) => ({ ...x, values: x.values.map((v) => (v === 0 ? 0 : v)) }));
    let compared = 0;
    let negativeZeros = 0;
    for (const matchers of MATCHER_SETS) {
      for (const [start, end] of TIME_RANGES.slice(0, 4)) {
        const got = await samples.select(matchers, start, end);
        const want = await memory.select(matchers, start, end);
        for (const s of want) for (const v of s.values) if (Object.is(v, -0)) negativeZeros++;
        expect(plain(got), `${matchersToSelector(matchers)} over [${start}, ${end}]`).toEqual(plain(positiveZero(want)));
        compared++;
      }
    }
    expect(negativeZeros).toBeGreaterThan(0);
    expect(samples.responses).toEqual({ streamed: 0, samples: compared });
  });

  it('the whole data set: every series and sample', async () => {
    const got = await streamed.select([re('__name__', '.+')], T0, T_END);
    expect(got.length).toBe(data.seriesCount);
    expect(got.reduce((n, s) => n + s.timestamps.length, 0)).toBe(data.sampleCount);
    expect(got.some((s) => s.stale !== undefined)).toBe(false);
  });

  it("Prometheus's own XOR chunks decode and re-encode to the same bytes", async () => {
    const frames = await rawStreamedRead(prom!.url, [re('__name__', '.+')], T0 - 3_600_000, T_END + 3_600_000);
    let chunks = 0;
    let sampleCount = 0;
    const differ: string[] = [];
    for (const f of frames) {
      for (const s of f.chunkedSeries) {
        for (const c of s.chunks) {
          expect(c.type).toBe(1);
          const d = decodeXorChunk(c.data);
          expect(c.minTimeMs).toBe(d.timestamps[0]);
          expect(c.maxTimeMs).toBe(d.timestamps[d.timestamps.length - 1]);
          const again = encodeXorChunk(d.timestamps, d.values, d.stale);
          if (Buffer.compare(Buffer.from(again), Buffer.from(c.data)) !== 0) differ.push(`${labelsToString(s.labels)} chunk at ${c.minTimeMs}`);
          chunks++;
          sampleCount += d.timestamps.length;
        }
      }
    }
    expect(differ).toEqual([]);
    expect(sampleCount).toBe(data.sampleCount);
    expect(chunks).toBeGreaterThan(data.seriesCount * 3); // 481 samples per full series: several chunks each
  });

  it('labelNames and labelValues go through the JSON API', async () => {
    for (const m of [[], [eq('job', 'sensors')], [re('__name__', 'request_duration_seconds_.*')]] as LabelMatcher[][]) {
      expect(await streamed.labelNames(m, T0, T_END)).toEqual(await memory.labelNames(m, T0, T_END));
      expect(await streamed.labelValues('instance', m, T0, T_END)).toEqual(await memory.labelValues('instance', m, T0, T_END));
    }
  });

  it('an invalid regex gives the Prometheus error text, naming the target', async () => {
    const err = (await streamed.select([re('job', '(')], T0, T_END).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('DownstreamError');
    expect(err.message).toMatch(new RegExp(`^${prom!.url.replace(/[.]/g, '\\.')}: remote read: HTTP 500: error parsing regexp: missing closing \\)`));
  });
});

describe('a scraping Prometheus 2.42: staleness markers through remote read', () => {
  let target: http.Server;
  let prom: PrometheusProcess | undefined;
  let rr: RemoteReadTarget;
  let rrSamples: RemoteReadTarget;
  let json: JsonApiTarget;
  let flappy = true;

  beforeAll(async () => {
    target = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`${flappy ? 'flappy_metric 1\n' : ''}steady_metric 2\n`);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const port = (target.address() as AddressInfo).port;
    prom = await startPrometheus({
      configYaml: `
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1m}
scrape_configs:
  - job_name: live
    static_configs: [{targets: ["127.0.0.1:${port}"]}]
`,
      extraArgs: ['--log.level=warn'],
    });
    rr = new RemoteReadTarget({ url: prom.url, timeoutMs: 10_000 });
    rrSamples = new RemoteReadTarget({ url: prom.url, timeoutMs: 10_000, responseKinds: ['samples'] });
    json = new JsonApiTarget({ url: prom.url, timeoutMs: 10_000 });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([rr?.close(), rrSamples?.close(), json?.close()]);
    await prom?.stop();
    target.closeAllConnections();
    await new Promise((resolve) => target.close(resolve));
  });

  const lastIsStale = (s: Series | undefined): boolean => s?.stale !== undefined && s.stale[s.stale.length - 1] === 1;

  it('a series that disappears, then a target that goes down, end in a staleness marker flagged stale', async () => {
    const name = (n: string) => [eq('__name__', n)];
    await waitFor(
      async () => ((await rr.select(name('flappy_metric'), Date.now() - 60_000, Date.now()))[0]?.timestamps.length ?? 0) >= 3,
      30_000,
      'three scrapes',
    );

    flappy = false;
    let flap: Series | undefined;
    await waitFor(
      async () => {
        [flap] = await rr.select(name('flappy_metric'), Date.now() - 120_000, Date.now());
        return lastIsStale(flap);
      },
      30_000,
      'the staleness marker of flappy_metric',
    );
    const n = flap!.timestamps.length;
    expect(rr.lastResponseKind).toBe('streamed');
    // One marker, after the real samples, carrying the StaleNaN pattern.
    expect(Array.from(flap!.stale!)).toEqual([...new Array(n - 1).fill(0), 1]);
    expect(Array.from(flap!.values.subarray(0, n - 1))).toEqual(new Array(n - 1).fill(1));
    const bits = valueBits(flap!.values);
    expect([bits[2 * n - 1], bits[2 * n - 2]]).toEqual([0x7ff00000, 0x00000002]);

    // The same through a SAMPLES answer; the JSON API shows the real samples only.
    const [start, end] = [flap!.timestamps[0], flap!.timestamps[n - 1] + 1];
    expect(plain(await rrSamples.select(name('flappy_metric'), start, end))).toEqual(plain([flap!]));
    const viaJson = await json.select(name('flappy_metric'), start, end);
    expect(viaJson[0].stale).toBeUndefined();
    expect(Array.from(viaJson[0].timestamps)).toEqual(Array.from(flap!.timestamps.subarray(0, n - 1)));

    // The query layer over remote read sees the series end where Prometheus does; over the JSON API
    // (which drops markers) it would still show the last value for the 5m lookback.
    const markerSec = flap!.timestamps[n - 1] / 1000;
    const proxies: ProxyProcess[] = [];
    try {
      for (const remoteRead of [true, false]) {
        proxies.push(
          await startProxy(
            (listen) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - static_configs: [{targets: ["127.0.0.1:${prom!.port}"]}]
      remote_read: ${remoteRead}
      # The raw paths are what is tested: a lone Prometheus would otherwise answer whole queries.
      pushdown: false
`,
          ),
        );
      }
      const instant = async (base: string, query: string, t: number) => {
        const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(t) })}`);
        const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        return body.data.result.map((r) => [r.metric, r.value]);
      };
      for (const [query, t] of [
        ['flappy_metric', markerSec - 1],
        ['flappy_metric', markerSec + 0.5],
        ['flappy_metric', markerSec + 30],
        ['count_over_time(flappy_metric[5m])', markerSec + 30],
        ['last_over_time(flappy_metric[5m])', markerSec + 30],
      ] as const) {
        const want = await instant(prom!.url, query, t);
        expect(await instant(proxies[0].url, query, t), `${query} at ${t}, remote read`).toEqual(want);
      }
      expect(await instant(prom!.url, 'flappy_metric', markerSec + 0.5)).toEqual([]);
      expect((await instant(proxies[1].url, 'flappy_metric', markerSec + 0.5)).length, 'JSON API: the marker is not seen').toBe(1);
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
    }

    // The target goes away: a failed scrape marks all its series stale, and up turns 0.
    target.closeAllConnections();
    await new Promise((resolve) => target.close(resolve));
    let steady: Series | undefined;
    await waitFor(
      async () => {
        [steady] = await rr.select(name('steady_metric'), Date.now() - 120_000, Date.now());
        return lastIsStale(steady);
      },
      30_000,
      'the staleness marker of steady_metric',
    );
    expect(steady!.stale!.reduce((a, b) => a + b, 0)).toBe(1);
    const [up] = await rr.select(name('up'), Date.now() - 120_000, Date.now());
    expect(up.values[up.values.length - 1]).toBe(0);
    expect(up.stale).toBeUndefined();

    // Head chunks re-encode to the same bytes as well, the marker included.
    const frames = await rawStreamedRead(prom!.url, [re('__name__', 'flappy_metric|steady_metric|up')], 0, Date.now() + 60_000);
    let chunks = 0;
    for (const f of frames) {
      for (const s of f.chunkedSeries) {
        for (const c of s.chunks) {
          const d = decodeXorChunk(c.data);
          expect(Buffer.from(encodeXorChunk(d.timestamps, d.values, d.stale)).toString('hex'), labelsToString(s.labels)).toBe(
            Buffer.from(c.data).toString('hex'),
          );
          chunks++;
        }
      }
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
