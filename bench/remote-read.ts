// Remote-read benchmark: the codecs on their own (XOR chunks, protobuf, snappy) and whole selects of
// every sample over loopback: RemoteReadTarget (streamed and SAMPLES) and JsonApiTarget against
// Prometheus 2.42 holding the same data (backfilled with promtool), and RemoteReadTarget against
// our own endpoint over a MemoryStorage. Median of several runs.
//
//   npm run build:tools && node dist-tools/bench/remote-read.js [--runs=5] [--series=2000] [--hours=6] [--no-prometheus]
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { backfillTsdb, loadIntoMemory, prng, type BackfillDataSet, type BackfillSeries } from '../dev/backfill.js';
import { startPrometheus } from '../dev/prometheus-process.js';
import { JsonApiTarget } from '../src/query/downstream/json-api-client.js';
import { RemoteReadTarget } from '../src/query/downstream/remote-read-client.js';
import { Engine } from '../src/promql/engine.js';
import { decodeReadResponse, encodeReadResponse } from '../src/remote/prompb.js';
import { snappyCompress, snappyDecompress } from '../src/remote/snappy.js';
import { decodeXorChunk, encodeXorChunk } from '../src/remote/xor-chunk.js';
import type { Storage } from '../src/storage/interface.js';
import { createApp } from '../src/server/app.js';
import { createQueryApi } from '../src/server/api/query-api.js';
import { fixedQueryApi } from '../src/server/query-layer-slot.js';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const RUNS = Number(args.runs ?? 5);
const SERIES = Number(args.series ?? 2000);
const HOURS = Number(args.hours ?? 6);
const STEP_MS = 15_000;
const START_MS = Date.UTC(2024, 0, 1);
const END_MS = START_MS + HOURS * 3600_000 - STEP_MS;

/** Counters (integers, growing) and gauges (two decimals): what Prometheus servers mostly hold. */
function generate(): BackfillDataSet {
  const r = prng(1);
  const series: BackfillSeries[] = [];
  for (let i = 0; i < SERIES; i++) {
    const timestamps: number[] = [];
    const values: number[] = [];
    let v = Math.floor(r() * 1e6);
    const counter = i % 2 === 0;
    const phase = Math.floor(r() * 15) * 1000;
    for (let t = START_MS + phase; t <= END_MS; t += STEP_MS) {
      timestamps.push(t);
      v = counter ? v + Math.floor(r() * 500) : Math.round((50 + 40 * Math.sin(t / 3.6e6 + i) + r()) * 100) / 100;
      values.push(v);
    }
    series.push({
      labels: { __name__: counter ? 'bench_requests_total' : 'bench_temperature', job: `job-${i % 10}`, instance: `host-${i}:9100` },
      timestamps,
      values,
    });
  }
  const sampleCount = series.reduce((n, s) => n + s.timestamps.length, 0);
  return {
    startMs: START_MS,
    endMs: END_MS,
    stepMs: STEP_MS,
    families: [{ name: 'bench', type: 'gauge', help: 'x', series }],
    seriesCount: SERIES,
    sampleCount,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

const fmtRate = (n: number, ms: number, unit: string) => `${(((n / ms) * 1000) / 1e6).toFixed(2)} M ${unit}/s`;

async function main(): Promise<void> {
  const data = generate();
  const memory = loadIntoMemory(data);
  const n = data.sampleCount;
  console.log(`data: ${SERIES} series, ${n} samples (${HOURS} h at 15 s); ${RUNS} runs, median`);

  // ---- codecs
  const all = await memory.select([{ type: '=~', name: '__name__', value: '.+' }], START_MS, END_MS);
  const chunks: Uint8Array[] = [];
  const enc = time(() => {
    chunks.length = 0;
    for (const s of all)
      for (let i = 0; i < s.timestamps.length; i += 120)
        chunks.push(encodeXorChunk(s.timestamps, s.values, s.stale, i, Math.min(s.timestamps.length, i + 120)));
  });
  const chunkBytes = chunks.reduce((a, c) => a + c.length, 0);
  const dec = time(() => {
    for (const c of chunks) decodeXorChunk(c);
  });
  console.log(`XOR chunks: encode ${fmtRate(n, enc, 'samples')}, decode ${fmtRate(n, dec, 'samples')}, ${(chunkBytes / n).toFixed(2)} bytes/sample`);

  let pb: Uint8Array = new Uint8Array(0);
  const pbEnc = time(() => {
    pb = encodeReadResponse([all]).slice();
  });
  const pbDec = time(() => void decodeReadResponse(pb));
  let sn: Uint8Array = new Uint8Array(0);
  const snEnc = time(() => {
    sn = snappyCompress(pb);
  });
  const snDec = time(() => void snappyDecompress(sn, 1 << 30));
  const mb = pb.length / 1e6;
  console.log(`SAMPLES protobuf (${mb.toFixed(1)} MB): encode ${fmtRate(n, pbEnc, 'samples')}, decode ${fmtRate(n, pbDec, 'samples')}`);
  console.log(
    `snappy on it: compress ${(mb / (snEnc / 1000)).toFixed(0)} MB/s, decompress ${(mb / (snDec / 1000)).toFixed(0)} MB/s, ratio ${(sn.length / pb.length).toFixed(3)}`,
  );

  // ---- whole selects over loopback
  const selectAll = (t: Storage) => t.select([{ type: '=~', name: '__name__', value: 'bench_.*' }], START_MS, END_MS);
  const report = async (what: string, t: Storage) => {
    const got = await selectAll(t);
    const count = got.reduce((a, s) => a + s.timestamps.length, 0);
    if (count !== n) throw new Error(`${what}: ${count} samples, expected ${n}`);
    const ms = await timeAsync(() => selectAll(t));
    console.log(`${what.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms  ${fmtRate(n, ms, 'samples')}`);
  };

  const app = createApp({ shard: undefined, queryApi: fixedQueryApi(createQueryApi({ storage: memory, engine: new Engine() })), startedAt: Date.now() });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const ours = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const targets: (RemoteReadTarget | JsonApiTarget)[] = [];
  const rr = (url: string, kind?: 'samples') => {
    const t = new RemoteReadTarget({ url, timeoutMs: 300_000, responseKinds: kind ? [kind] : undefined });
    targets.push(t);
    return t;
  };
  try {
    await report('our endpoint (MemoryStorage), streamed', rr(ours));
    await report('our endpoint (MemoryStorage), SAMPLES', rr(ours, 'samples'));
    if (args['no-prometheus'] === undefined) {
      const prom = await startPrometheus({
        configYaml: 'global: {evaluation_interval: 1m}\n',
        extraArgs: ['--storage.tsdb.retention.time=100y', '--log.level=warn'],
        prepareDataDir: (dir) => backfillTsdb(data, dir),
      });
      try {
        await report('Prometheus 2.42, remote read streamed', rr(prom.url));
        await report('Prometheus 2.42, remote read SAMPLES', rr(prom.url, 'samples'));
        const json = new JsonApiTarget({ url: prom.url, timeoutMs: 300_000 });
        targets.push(json);
        await report('Prometheus 2.42, JSON API (query with a range selector)', json);
      } finally {
        await prom.stop();
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
