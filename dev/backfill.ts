// A deterministic historical data set for cross-checking the PromQL engine against a real Prometheus:
// written as OpenMetrics text, backfilled into a TSDB directory with `promtool tsdb
// create-blocks-from openmetrics`, and loaded into a MemoryStorage with exactly the same samples.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MemoryStorage } from '../src/storage/memory.js';
import { findPrometheus, startPrometheus, type PrometheusProcess } from './prometheus-process.js';

const execFileAsync = promisify(execFile);

export const PROMTOOL_MISSING = 'promtool not found: install it with `apt-get install -y prometheus` (Debian; it ships promtool)';

/** 2024-01-01T00:00:00Z in ms. */
export const BACKFILL_START_MS = Date.UTC(2024, 0, 1, 0, 0, 0);
/** 2024-01-01T02:00:00Z in ms. */
export const BACKFILL_END_MS = Date.UTC(2024, 0, 1, 2, 0, 0);
export const BACKFILL_STEP_MS = 15_000;

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface BackfillSeries {
  /** Includes __name__. */
  labels: Record<string, string>;
  /** Sample times in ms (whole seconds), increasing. */
  timestamps: number[];
  values: number[];
}

export interface BackfillFamily {
  /** Family name as in `# TYPE` (counters without _total). */
  name: string;
  type: MetricType;
  help: string;
  series: BackfillSeries[];
}

export interface BackfillDataSet {
  startMs: number;
  endMs: number;
  stepMs: number;
  families: BackfillFamily[];
  seriesCount: number;
  sampleCount: number;
}

/** mulberry32: a small seeded PRNG, so the data set is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (v: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export const HISTOGRAM_BUCKETS = ['0.05', '0.1', '0.25', '0.5', '1.5', '2.5', '7.5', '+Inf'];

export interface BackfillOptions {
  seed?: number;
  startMs?: number;
  endMs?: number;
  stepMs?: number;
  /**
   * Adds the families of `extraFamilies` after the default ones (a summary, a gauge whose series are
   * replaced mid-range, a gauge with NaN samples). They draw from their own PRNG, so the default
   * families are the same with and without them.
   */
  extended?: boolean;
}

/**
 * Builds the data set: counters with resets, gauges (with negative values), classic histograms, series
 * that start late / stop early / have a gap longer than the lookback window. Deterministic for a seed.
 */
export function generateBackfillData(opts: BackfillOptions = {}): BackfillDataSet {
  const rnd = prng(opts.seed ?? 42);
  const startMs = opts.startMs ?? BACKFILL_START_MS;
  const endMs = opts.endMs ?? BACKFILL_END_MS;
  const stepMs = opts.stepMs ?? BACKFILL_STEP_MS;
  const steps = Math.floor((endMs - startMs) / stepMs);

  /** Scrape times of one target: a whole-second phase in [0, step) and every step after it up to endMs. */
  const targetTimes = (phaseSec: number, from = 0, to = steps): number[] => {
    const out: number[] = [];
    for (let i = from; i <= to; i++) {
      const t = startMs + i * stepMs + phaseSec * 1000;
      if (t <= endMs) out.push(t);
    }
    return out;
  };

  const jobs = ['api', 'web'];
  const instances = ['10.0.0.1:9100', '10.0.0.2:9100', '10.0.0.3:9100', '10.0.0.4:9100'];
  const targets: { job: string; instance: string; phase: number; times: number[] }[] = [];
  for (const job of jobs) {
    for (const instance of instances) {
      const phase = Math.floor(rnd() * (stepMs / 1000));
      targets.push({ job, instance, phase, times: targetTimes(phase) });
    }
  }

  const families: BackfillFamily[] = [];

  // http_requests_total: integer counter with occasional resets.
  {
    const series: BackfillSeries[] = [];
    for (const tg of targets) {
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '500']) {
          const ratePerStep = (code === '200' ? 50 : 2) * (method === 'GET' ? 3 : 1) * (0.5 + rnd());
          let v = Math.floor(rnd() * 1000);
          const values: number[] = [];
          for (let i = 0; i < tg.times.length; i++) {
            if (i > 0) {
              if (rnd() < 0.006) v = Math.floor(rnd() * 5);
              else v += Math.floor(ratePerStep * (0.2 + 1.6 * rnd()));
            }
            values.push(v);
          }
          series.push({ labels: { __name__: 'http_requests_total', job: tg.job, instance: tg.instance, method, code }, timestamps: tg.times, values });
        }
      }
    }
    families.push({ name: 'http_requests', type: 'counter', help: 'HTTP requests.', series });
  }

  // cpu_seconds_total: float counter per mode; one reset per series at most.
  {
    const series: BackfillSeries[] = [];
    for (const tg of targets) {
      for (const mode of ['idle', 'user', 'system']) {
        const perStep = mode === 'idle' ? 12 : mode === 'user' ? 2.5 : 0.7;
        let v = round(rnd() * 10000, 3);
        const resetAt = rnd() < 0.3 ? Math.floor(rnd() * tg.times.length) : -1;
        const values: number[] = [];
        for (let i = 0; i < tg.times.length; i++) {
          if (i === resetAt) v = round(rnd(), 3);
          else if (i > 0) v = round(v + perStep * (0.5 + rnd()), 3);
          values.push(v);
        }
        series.push({ labels: { __name__: 'cpu_seconds_total', job: tg.job, instance: tg.instance, mode }, timestamps: tg.times, values });
      }
    }
    families.push({ name: 'cpu_seconds', type: 'counter', help: 'CPU seconds.', series });
  }

  // request_duration_seconds: classic histogram per target and method, with a reset for some.
  {
    const upper = HISTOGRAM_BUCKETS.map((b) => (b === '+Inf' ? Infinity : Number(b)));
    const buckets: BackfillSeries[][] = [];
    const sums: BackfillSeries[] = [];
    const counts: BackfillSeries[] = [];
    for (const tg of targets) {
      for (const method of ['GET', 'POST']) {
        const base = { job: tg.job, instance: tg.instance, method };
        const cum = new Array<number>(HISTOGRAM_BUCKETS.length).fill(0);
        let sum = 0;
        let count = 0;
        const bVals = HISTOGRAM_BUCKETS.map(() => [] as number[]);
        const sVals: number[] = [];
        const cVals: number[] = [];
        const resetAt = rnd() < 0.4 ? Math.floor(tg.times.length * (0.2 + 0.6 * rnd())) : -1;
        const scale = method === 'GET' ? 0.3 : 1.2;
        for (let i = 0; i < tg.times.length; i++) {
          if (i === resetAt) {
            cum.fill(0);
            sum = 0;
            count = 0;
          }
          const n = Math.floor(rnd() * 25);
          for (let k = 0; k < n; k++) {
            const obs = round(-Math.log(1 - rnd()) * scale, 4);
            sum = round(sum + obs, 4);
            count++;
            for (let b = 0; b < upper.length; b++) if (obs <= upper[b]) cum[b]++;
          }
          for (let b = 0; b < upper.length; b++) bVals[b].push(cum[b]);
          sVals.push(sum);
          cVals.push(count);
        }
        buckets.push(
          HISTOGRAM_BUCKETS.map((le, b) => ({
            labels: { __name__: 'request_duration_seconds_bucket', ...base, le },
            timestamps: tg.times,
            values: bVals[b],
          })),
        );
        sums.push({ labels: { __name__: 'request_duration_seconds_sum', ...base }, timestamps: tg.times, values: sVals });
        counts.push({ labels: { __name__: 'request_duration_seconds_count', ...base }, timestamps: tg.times, values: cVals });
      }
    }
    // OpenMetrics wants the _bucket, _count and _sum of one histogram together.
    const series: BackfillSeries[] = [];
    for (let i = 0; i < buckets.length; i++) series.push(...buckets[i], counts[i], sums[i]);
    families.push({ name: 'request_duration_seconds', type: 'histogram', help: 'Request duration.', series });
  }

  // temperature_celsius: gauge with negative values, 10 sensors.
  {
    const series: BackfillSeries[] = [];
    for (let s = 0; s < 10; s++) {
      const phase = Math.floor(rnd() * 15);
      const times = targetTimes(phase);
      const offset = -20 + rnd() * 30;
      const amp = 3 + rnd() * 10;
      const values = times.map((_, i) => round(offset + amp * Math.sin((i / times.length) * 2 * Math.PI * (1 + s / 5)) + (rnd() - 0.5) * 2, 2));
      series.push({ labels: { __name__: 'temperature_celsius', job: 'sensors', instance: `sensor-${s}` }, timestamps: times, values });
    }
    families.push({ name: 'temperature_celsius', type: 'gauge', help: 'Temperature.', series });
  }

  // memory_usage_bytes: large integer gauge; queue_length: small integer gauge (many equal values); up: 0/1.
  {
    const mem: BackfillSeries[] = [];
    const queue: BackfillSeries[] = [];
    const up: BackfillSeries[] = [];
    for (const tg of targets) {
      let m = Math.floor(5e8 + rnd() * 2e9);
      let q = Math.floor(rnd() * 10);
      const downFrom = rnd() < 0.4 ? Math.floor(rnd() * tg.times.length) : -1;
      const downLen = 10 + Math.floor(rnd() * 40);
      const mv: number[] = [];
      const qv: number[] = [];
      const uv: number[] = [];
      for (let i = 0; i < tg.times.length; i++) {
        m = Math.max(1e8, m + Math.floor((rnd() - 0.48) * 5e7));
        q = Math.max(0, Math.min(20, q + Math.floor(rnd() * 5) - 2));
        mv.push(m);
        qv.push(q);
        uv.push(downFrom >= 0 && i >= downFrom && i < downFrom + downLen ? 0 : 1);
      }
      const base = { job: tg.job, instance: tg.instance };
      mem.push({ labels: { __name__: 'memory_usage_bytes', ...base }, timestamps: tg.times, values: mv });
      queue.push({ labels: { __name__: 'queue_length', ...base }, timestamps: tg.times, values: qv });
      up.push({ labels: { __name__: 'up', ...base }, timestamps: tg.times, values: uv });
    }
    families.push({ name: 'memory_usage_bytes', type: 'gauge', help: 'Memory usage.', series: mem });
    families.push({ name: 'queue_length', type: 'gauge', help: 'Queue length.', series: queue });
    families.push({ name: 'up', type: 'gauge', help: 'Target up.', series: up });
  }

  // batch_processed_total: counters that start late, stop early, or have a gap longer than 5 minutes.
  {
    const series: BackfillSeries[] = [];
    for (let s = 0; s < 8; s++) {
      const phase = Math.floor(rnd() * 15);
      const from = s === 0 ? 0 : Math.floor(rnd() * steps * 0.5);
      const to = s === 1 ? steps : from + 40 + Math.floor(rnd() * (steps - from - 40));
      let times = targetTimes(phase, from, to);
      if (s === 2 || s === 3) {
        // a gap of 40 steps (10 minutes) in the middle
        const mid = Math.floor(times.length / 2);
        times = [...times.slice(0, mid), ...times.slice(mid + 40)];
      }
      let v = 0;
      const values = times.map((_, i) => {
        if (i > 0) v += Math.floor(rnd() * 100);
        return v;
      });
      series.push({ labels: { __name__: 'batch_processed_total', job: 'batch', instance: `worker-${s}` }, timestamps: times, values });
    }
    families.push({ name: 'batch_processed', type: 'counter', help: 'Batch items processed.', series });
  }

  if (opts.extended) families.push(...extraFamilies(prng(((opts.seed ?? 42) ^ 0x5eed5eed) >>> 0), targets, targetTimes));

  let seriesCount = 0;
  let sampleCount = 0;
  for (const f of families) {
    seriesCount += f.series.length;
    for (const s of f.series) sampleCount += s.values.length;
  }
  return { startMs, endMs, stepMs, families, seriesCount, sampleCount };
}

/** 2024-01-01T04:00:00Z in ms: the end of the four-hour data set of generateReferenceData. */
export const REFERENCE_END_MS = Date.UTC(2024, 0, 1, 4, 0, 0);

/** Four hours at 15 s with the extra families: the data set of the query layer's reference suite. */
export function generateReferenceData(): BackfillDataSet {
  return generateBackfillData({ endMs: REFERENCE_END_MS, extended: true });
}

export const SUMMARY_QUANTILES = ['0.5', '0.9', '0.99'];

/**
 * The families of `extended` data sets:
 * - rpc_duration_seconds: a summary per target and method (quantiles, _sum, _count), its counters
 *   reset once in some children;
 * - build_info: a gauge of 1 per target whose `version` label changes once or twice mid-range, so
 *   series end and others begin in the middle;
 * - cache_hit_ratio: a gauge in [0, 1] with NaN samples (0/0 when there was no traffic).
 */
function extraFamilies(
  rnd: () => number,
  targets: { job: string; instance: string; phase: number; times: number[] }[],
  targetTimes: (phaseSec: number, from?: number, to?: number) => number[],
): BackfillFamily[] {
  const families: BackfillFamily[] = [];

  {
    const series: BackfillSeries[] = [];
    for (const tg of targets) {
      for (const method of ['Get', 'List']) {
        const base = { job: tg.job, instance: tg.instance, method };
        const scale = method === 'Get' ? 0.02 : 0.4;
        const resetAt = rnd() < 0.5 ? Math.floor(tg.times.length * (0.1 + 0.8 * rnd())) : -1;
        const qVals = SUMMARY_QUANTILES.map(() => [] as number[]);
        const sVals: number[] = [];
        const cVals: number[] = [];
        let sum = 0;
        let count = 0;
        for (let i = 0; i < tg.times.length; i++) {
          if (i === resetAt) {
            sum = 0;
            count = 0;
          }
          const n = 1 + Math.floor(rnd() * 40);
          count += n;
          sum = round(sum + n * scale * (0.5 + rnd()), 4);
          const median = round(scale * (0.6 + 0.8 * rnd()), 5);
          qVals[0].push(median);
          qVals[1].push(round(median * (1.5 + rnd()), 5));
          qVals[2].push(round(median * (3 + 3 * rnd()), 5));
          sVals.push(sum);
          cVals.push(count);
        }
        SUMMARY_QUANTILES.forEach((quantile, k) =>
          series.push({ labels: { __name__: 'rpc_duration_seconds', ...base, quantile }, timestamps: tg.times, values: qVals[k] }),
        );
        series.push({ labels: { __name__: 'rpc_duration_seconds_count', ...base }, timestamps: tg.times, values: cVals });
        series.push({ labels: { __name__: 'rpc_duration_seconds_sum', ...base }, timestamps: tg.times, values: sVals });
      }
    }
    families.push({ name: 'rpc_duration_seconds', type: 'summary', help: 'RPC duration.', series });
  }

  {
    const series: BackfillSeries[] = [];
    for (const tg of targets) {
      const n = tg.times.length;
      const cuts = [0, Math.floor(n * (0.15 + 0.5 * rnd()))];
      if (rnd() < 0.5) cuts.push(cuts[1] + Math.floor((n - cuts[1]) * (0.2 + 0.6 * rnd())));
      cuts.push(n);
      for (let v = 0; v + 1 < cuts.length; v++) {
        const times = tg.times.slice(cuts[v], cuts[v + 1]);
        series.push({
          labels: { __name__: 'build_info', job: tg.job, instance: tg.instance, version: `1.${v}.${Math.floor(rnd() * 10)}` },
          timestamps: times,
          values: times.map(() => 1),
        });
      }
    }
    families.push({ name: 'build_info', type: 'gauge', help: 'Running build.', series });
  }

  {
    const series: BackfillSeries[] = [];
    for (let s = 0; s < 6; s++) {
      const times = targetTimes(Math.floor(rnd() * 15));
      const values = times.map(() => (rnd() < 0.04 ? NaN : round(rnd(), 4)));
      series.push({ labels: { __name__: 'cache_hit_ratio', job: 'cache', instance: `cache-${s}` }, timestamps: times, values });
    }
    families.push({ name: 'cache_hit_ratio', type: 'gauge', help: 'Cache hit ratio.', series });
  }

  return families;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  // String(-0) is "0": Prometheus would store +0 where loadIntoMemory stores -0.
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The data set as OpenMetrics text: one family after another, each series' samples in time order, `# EOF`. */
export function toOpenMetrics(data: BackfillDataSet): string {
  const out: string[] = [];
  for (const f of data.families) {
    out.push(`# HELP ${f.name} ${f.help}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.series) {
      const { __name__: name, ...rest } = s.labels;
      const ls = Object.entries(rest)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      const prefix = ls === '' ? name : `${name}{${ls}}`;
      for (let i = 0; i < s.values.length; i++) {
        const t = s.timestamps[i];
        if (t % 1000 !== 0) throw new Error(`backfill timestamps must be whole seconds, got ${t}`);
        out.push(`${prefix} ${formatValue(s.values[i])} ${t / 1000}`);
      }
    }
  }
  out.push('# EOF');
  return out.join('\n') + '\n';
}

/**
 * The data set as Prometheus text format 0.0.4 with millisecond timestamps (what VictoriaMetrics's
 * /api/v1/import/prometheus takes): one line per sample, no TYPE or HELP lines.
 */
export function toPrometheusText(data: BackfillDataSet): string {
  const out: string[] = [];
  for (const f of data.families) {
    for (const s of f.series) {
      const { __name__: name, ...rest } = s.labels;
      const ls = Object.entries(rest)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      const prefix = ls === '' ? name : `${name}{${ls}}`;
      for (let i = 0; i < s.values.length; i++) out.push(`${prefix} ${formatValue(s.values[i])} ${s.timestamps[i]}`);
    }
  }
  return out.join('\n') + '\n';
}

/** Loads exactly the data set's samples into a MemoryStorage (a new one unless given). */
export function loadIntoMemory(data: BackfillDataSet, storage = new MemoryStorage()): MemoryStorage {
  for (const f of data.families) {
    for (const s of f.series) {
      for (let i = 0; i < s.values.length; i++) storage.add(s.labels, s.timestamps[i], s.values[i]);
    }
  }
  return storage;
}

/** Path of `promtool`: the first executable one on PATH, else in /usr/bin or /usr/local/bin; throws PROMTOOL_MISSING. */
export function findPromtool(): string {
  const search = [...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin'];
  for (const dir of search) {
    const candidate = path.join(dir, 'promtool');
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(PROMTOOL_MISSING);
}

/**
 * Writes the data set as OpenMetrics and backfills it into `tsdbDir` (a Prometheus --storage.tsdb.path)
 * with `promtool tsdb create-blocks-from openmetrics`.
 */
export async function backfillTsdb(data: BackfillDataSet, tsdbDir: string): Promise<void> {
  const promtool = findPromtool();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promfront-backfill-'));
  try {
    const file = path.join(tmp, 'data.om.txt');
    fs.writeFileSync(file, toOpenMetrics(data));
    fs.mkdirSync(tsdbDir, { recursive: true });
    try {
      await execFileAsync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', file, tsdbDir], { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`promtool tsdb create-blocks-from openmetrics failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A Prometheus 2.42 serving `data` backfilled into its TSDB (no scraping). Retention is set far out:
 * the backfilled blocks lie years in the past and would otherwise be deleted at start. Fails with an
 * install hint when prometheus or promtool is missing.
 */
export async function startBackfilledPrometheus(data: BackfillDataSet): Promise<PrometheusProcess> {
  findPrometheus();
  findPromtool();
  return startPrometheus({
    configYaml: 'global:\n  evaluation_interval: 1m\n',
    extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn'],
    prepareDataDir: (dir) => backfillTsdb(data, dir),
  });
}
