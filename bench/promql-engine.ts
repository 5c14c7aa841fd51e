// PromQL engine benchmark: dashboard queries over 10,000 series with 1 h of 15 s data, range step
// 15 s, evaluated in-process against the in-memory storage, side by side with Prometheus 2.42
// answering the same queries on the same data backfilled with promtool (whole-request time on
// loopback, median of several runs).
//
//   npm run build:tools && node --expose-gc dist-tools/bench/promql-engine.js [--runs=7] [--no-prometheus]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../src/promql/engine.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { findPromtool, prng } from '../dev/backfill.js';
import { startPrometheus } from '../dev/prometheus-process.js';
import { parseExposition } from '../src/shard/textparse/parse.js';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const RUNS = Number(args.runs ?? 7);

const STEP_MS = 15_000;
const START_MS = Date.UTC(2024, 0, 1, 0, 0, 0);
const END_MS = START_MS + 3600_000;
const JOBS = 10;
const LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

/** OpenMetrics with timestamps: 5,000 counter series and 500 histogram children (5,000 buckets + sum/count). */
function generate(): string {
  const out: string[] = [];
  const r = prng(42);
  out.push('# TYPE http_requests counter');
  for (let j = 0; j < JOBS; j++) {
    for (let i = 0; i < 100; i++) {
      for (const code of ['200', '201', '400', '404', '500']) {
        let v = Math.floor(r() * 1000);
        const rate = r() * 20;
        for (let t = START_MS; t <= END_MS; t += STEP_MS) {
          v += Math.floor(rate * r() * 15);
          out.push(`http_requests_total{code="${code}",instance="host-${i}:9100",job="job-${j}"} ${v} ${t / 1000}`);
        }
      }
    }
  }
  out.push('# TYPE http_request_duration_seconds histogram');
  for (let j = 0; j < JOBS; j++) {
    for (let i = 0; i < 50; i++) {
      const counts = new Array<number>(LE.length).fill(0);
      let sum = 0;
      for (let t = START_MS; t <= END_MS; t += STEP_MS) {
        const n = Math.floor(r() * 50);
        for (let k = 0; k < n; k++) {
          const x = -Math.log(1 - r()) * 0.1;
          sum += x;
          for (let b = 0; b < LE.length; b++) if (LE[b] === '+Inf' || x <= Number(LE[b])) counts[b]++;
        }
        const lbl = `instance="host-${i}:9100",job="job-${j}"`;
        LE.forEach((le, b) => out.push(`http_request_duration_seconds_bucket{${lbl},le="${le}"} ${counts[b]} ${t / 1000}`));
        out.push(`http_request_duration_seconds_count{${lbl}} ${counts[LE.length - 1]} ${t / 1000}`);
        out.push(`http_request_duration_seconds_sum{${lbl}} ${sum} ${t / 1000}`);
      }
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
  'topk(10, rate(http_requests_total[5m]))',
  'rate(http_requests_total{code="500"}[5m]) / on (job, instance) group_left sum by (job, instance) (rate(http_requests_total[5m]))',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const om = generate();
  const storage = new MemoryStorage();
  let samples = 0;
  const labels: Record<string, string> = {};
  parseExposition(om, 'openmetrics', {
    family() {},
    sample(s) {
      for (const k of Object.keys(labels)) delete labels[k];
      for (let i = 0; i < s.labels.length; i += 2) labels[s.labels[i]] = s.labels[i + 1]!;
      labels.__name__ = s.name;
      storage.add(labels, s.timestampMs!, s.value);
      samples++;
    },
  });
  console.log(
    `# node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}; ${storage.seriesCount} series, ${samples} samples, loaded in ${Math.round(performance.now() - t0)} ms`,
  );

  const engine = new Engine({ semantics: 'prometheus-2' });
  const qStart = START_MS + 5 * 60_000;
  const ours: Record<string, { ms: number; heapMb: number; series: number }> = {};
  for (const q of QUERIES) {
    const times: number[] = [];
    let heap = 0;
    let series = 0;
    for (let i = 0; i < RUNS; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      const before = process.memoryUsage().heapUsed;
      const t = performance.now();
      const out = await engine.rangeQuery(storage, q, qStart, END_MS, STEP_MS);
      times.push(performance.now() - t);
      heap = Math.max(heap, process.memoryUsage().heapUsed - before);
      series = out.result.resultType === 'matrix' ? out.result.result.length : 0;
    }
    ours[q] = { ms: median(times), heapMb: heap / 1e6, series };
  }

  let prom: Record<string, number> = {};
  if (args['no-prometheus'] !== 'true') prom = await prometheusTimes(om, qStart);

  console.log('\n| query | promfront (in-process), median | heap growth | Prometheus 2.42 (HTTP, loopback), median | result series |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const q of QUERIES) {
    const o = ours[q];
    const p = prom[q];
    console.log(`| \`${q}\` | ${o.ms.toFixed(1)} ms | ${o.heapMb.toFixed(1)} MB | ${p === undefined ? 'n/a' : `${p.toFixed(1)} ms`} | ${o.series} |`);
  }
}

/** Backfills the same data into Prometheus 2.42 and times its answers over HTTP. */
async function prometheusTimes(om: string, qStart: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'promfront-bench-'));
  const file = path.join(dir, 'data.om');
  writeFileSync(file, om);
  const blocks = path.join(dir, 'blocks');
  execFileSync(findPromtool(), ['tsdb', 'create-blocks-from', 'openmetrics', file, blocks], { stdio: 'ignore' });
  const prom = await startPrometheus({
    configYaml: 'global: {scrape_interval: 1h}\n',
    extraArgs: ['--storage.tsdb.retention.time=100y'],
    prepareDataDir: (dataDir: string) => {
      execFileSync('cp', ['-r', `${blocks}/.`, dataDir]);
    },
  });
  const out: Record<string, number> = {};
  try {
    for (const q of QUERIES) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const res = await prom.queryRange(q, qStart / 1000, END_MS / 1000, STEP_MS / 1000);
        times.push(performance.now() - t);
        if (!Array.isArray(res)) throw new Error(`unexpected answer for ${q}`);
      }
      out[q] = median(times);
    }
  } finally {
    await prom.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

await main();
