// Deterministic data sets for the query-layer benchmark, written as OpenMetrics with timestamps and
// backfilled into TSDB blocks with promtool, optionally split into shards by the sharding core's
// shard key. Files are written piece by piece: a 4M-sample data set is ~300 MB of text.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPromtool, prng } from '../dev/backfill.js';
import { initHash, jumpHash, keyBytes } from '../src/shard/hash.js';
import { SourceIngest } from '../src/shard/ingest.js';
import { parseExposition } from '../src/shard/textparse/parse.js';

const execFileAsync = promisify(execFile);

type FamilyType = 'counter' | 'gauge' | 'histogram';

/** Receives a data set family by family; `series` gets every line of one series or histogram child. */
export interface Emitter {
  family(name: string, type: FamilyType): void;
  /** keyLabels: the child's labels without __name__ and le, i.e. what the shard key hashes. */
  series(family: string, type: FamilyType, keyLabels: [string, string][], lines: string, seriesCount: number, sampleCount: number): void;
}

export interface DataSet {
  name: string;
  startMs: number;
  endMs: number;
  stepMs: number;
  generate(e: Emitter): void;
}

const lbl = (pairs: [string, string][]): string => pairs.map(([k, v]) => `${k}="${v}"`).join(',');

function* times(ds: { startMs: number; endMs: number; stepMs: number }): Generator<number> {
  for (let t = ds.startMs; t <= ds.endMs; t += ds.stepMs) yield t / 1000;
}

function counterSeries(e: Emitter, ds: DataSet, r: () => number, family: string, key: [string, string][]): void {
  let v = Math.floor(r() * 1000);
  const perSec = r() * 20;
  const out: string[] = [];
  const l = lbl(key);
  for (const t of times(ds)) {
    v += Math.floor(perSec * r() * (ds.stepMs / 1000));
    out.push(`${family}_total{${l}} ${v} ${t}\n`);
  }
  e.series(family, 'counter', key, out.join(''), 1, out.length);
}

function gaugeSeries(e: Emitter, ds: DataSet, r: () => number, family: string, key: [string, string][]): void {
  let v = Math.floor(1e9 + r() * 7e9);
  const out: string[] = [];
  const l = lbl(key);
  for (const t of times(ds)) {
    v = Math.max(0, v + Math.floor((r() - 0.5) * 5e7));
    out.push(`${family}{${l}} ${v} ${t}\n`);
  }
  e.series(family, 'gauge', key, out.join(''), 1, out.length);
}

function histogramChild(e: Emitter, ds: DataSet, r: () => number, family: string, key: [string, string][], le: string[], scale: number): void {
  const upper = le.map((b) => (b === '+Inf' ? Infinity : Number(b)));
  const counts = new Array<number>(le.length).fill(0);
  let sum = 0;
  const out: string[] = [];
  const l = lbl(key);
  let samples = 0;
  for (const t of times(ds)) {
    const n = Math.floor(r() * 30);
    for (let k = 0; k < n; k++) {
      const x = -Math.log(1 - r()) * scale;
      sum += x;
      for (let b = 0; b < upper.length; b++) if (x <= upper[b]) counts[b]++;
    }
    for (let b = 0; b < le.length; b++) out.push(`${family}_bucket{${l},le="${le[b]}"} ${counts[b]} ${t}\n`);
    out.push(`${family}_count{${l}} ${counts[le.length - 1]} ${t}\n`);
    out.push(`${family}_sum{${l}} ${Math.round(sum * 1e6) / 1e6} ${t}\n`);
    samples += le.length + 2;
  }
  e.series(family, 'histogram', key, out.join(''), le.length + 2, samples);
}

const DASHBOARD_LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '25', '60', '+Inf'];

/**
 * 10,000 series, 1 h at 15 s (2.41M samples): 5,000 counters http_requests_total{job,instance,code},
 * 1,000 gauges memory_free_bytes{job,instance}, a classic histogram http_request_duration_seconds
 * with 14 buckets over 250 children (4,000 series with _sum and _count).
 */
export const DASHBOARD: DataSet = {
  name: 'dashboard',
  startMs: Date.UTC(2024, 0, 1, 0, 0, 0),
  endMs: Date.UTC(2024, 0, 1, 1, 0, 0),
  stepMs: 15_000,
  generate(e) {
    const r = prng(42);
    e.family('http_requests', 'counter');
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 100; i++) {
        for (const code of ['200', '201', '400', '404', '500']) {
          counterSeries(e, this, r, 'http_requests', [
            ['code', code],
            ['instance', `host-${i}:9100`],
            ['job', `job-${j}`],
          ]);
        }
      }
    }
    e.family('memory_free_bytes', 'gauge');
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 100; i++)
        gaugeSeries(e, this, r, 'memory_free_bytes', [
          ['instance', `host-${i}:9100`],
          ['job', `job-${j}`],
        ]);
    }
    e.family('http_request_duration_seconds', 'histogram');
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 25; i++) {
        histogramChild(
          e,
          this,
          r,
          'http_request_duration_seconds',
          [
            ['instance', `host-${i}:9100`],
            ['job', `job-${j}`],
          ],
          DASHBOARD_LE,
          0.1 + 0.05 * j,
        );
      }
    }
  },
};

const SHARDED_LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

/**
 * ~4M samples: 6 h 10 min at 15 s (1,481 samples per series) over 2,690 series: a counter family
 * `x` (x_total{job,instance}, 10 jobs × 125 instances) and a classic histogram `h` with 10 buckets
 * over 120 children (1,440 series).
 */
export const SHARDED: DataSet = {
  name: 'sharded',
  startMs: Date.UTC(2024, 0, 1, 0, 0, 0),
  endMs: Date.UTC(2024, 0, 1, 6, 10, 0),
  stepMs: 15_000,
  generate(e) {
    const r = prng(7);
    e.family('x', 'counter');
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 125; i++)
        counterSeries(e, this, r, 'x', [
          ['instance', `node-${i}:9100`],
          ['job', `job-${j}`],
        ]);
    }
    e.family('h', 'histogram');
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 12; i++)
        histogramChild(
          e,
          this,
          r,
          'h',
          [
            ['instance', `node-${i}:9100`],
            ['job', `job-${j}`],
          ],
          SHARDED_LE,
          0.2,
        );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Sharding

/** The sharding core's shard: jump_hash(xxh64(family 0xFF name 0xFF value ...), n), labels sorted, le left out. */
export function shardOf(family: string, keyLabels: [string, string][], numShards: number): number {
  const sorted = [...keyLabels].filter(([, v]) => v !== '').sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  keyBytes.reset();
  keyBytes.add(family);
  for (const [k, v] of sorted) {
    keyBytes.separator();
    keyBytes.add(k);
    keyBytes.separator();
    keyBytes.add(v);
  }
  const [hi, lo] = keyBytes.hash();
  return jumpHash(hi, lo, numShards);
}

/** The shard the sharding core itself (SourceIngest) puts this series in: a check on shardOf. */
function shardBySourceIngest(family: string, type: FamilyType, keyLabels: [string, string][], numShards: number): number {
  const l = lbl(keyLabels);
  const sample = type === 'counter' ? `${family}_total{${l}} 1` : type === 'gauge' ? `${family}{${l}} 1` : `${family}_bucket{${l},le="+Inf"} 1`;
  const text = `# TYPE ${family} ${type}\n${sample}\n# EOF\n`;
  const ingest = new SourceIngest('openmetrics', numShards);
  parseExposition(text, 'openmetrics', ingest);
  // A family's parts reach `families` when it ends, which finish() does for the last one.
  const parts = ingest.finish().families.get(family)!.parts;
  return parts.findIndex((p) => p !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Files and blocks

class OmWriter {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  series = 0;
  samples = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) this.flush();
  }

  close(): void {
    this.write('# EOF\n');
    this.flush();
    fs.closeSync(this.fd);
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    fs.writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.size = 0;
  }
}

export interface BlockSet {
  /** Directory with the TSDB blocks, to be copied into a Prometheus data dir. */
  dir: string;
  series: number;
  samples: number;
}

export interface BuiltData {
  all: BlockSet;
  /** Present when built with numShards: the data split by the shard key. */
  shards: BlockSet[];
}

async function backfill(om: string, blocks: string): Promise<void> {
  fs.mkdirSync(blocks, { recursive: true });
  try {
    await execFileAsync(findPromtool(), ['tsdb', 'create-blocks-from', 'openmetrics', om, blocks], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`promtool tsdb create-blocks-from openmetrics ${om} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
  fs.rmSync(om);
}

/**
 * Writes the data set (whole, and split into numShards by the shard key when numShards > 0) under
 * `dir` and backfills each file into blocks. Every series' shard is checked against SourceIngest.
 */
export async function buildBlocks(ds: DataSet, dir: string, numShards = 0): Promise<BuiltData> {
  await initHash();
  fs.mkdirSync(dir, { recursive: true });
  const all = new OmWriter(path.join(dir, 'all.om'));
  const shards = Array.from({ length: numShards }, (_, k) => new OmWriter(path.join(dir, `shard-${k}.om`)));
  const outputs = [all, ...shards];
  ds.generate({
    family(name, type) {
      for (const w of outputs) w.write(`# TYPE ${name} ${type}\n`);
    },
    series(family, type, keyLabels, lines, seriesCount, sampleCount) {
      const targets = [all];
      if (numShards > 0) {
        const k = shardOf(family, keyLabels, numShards);
        const core = shardBySourceIngest(family, type, keyLabels, numShards);
        if (k !== core) throw new Error(`shard key mismatch for ${family}{${lbl(keyLabels)}}: ${k} here, ${core} in the sharding core`);
        targets.push(shards[k]);
      }
      for (const w of targets) {
        w.write(lines);
        w.series += seriesCount;
        w.samples += sampleCount;
      }
    },
  });
  for (const w of outputs) w.close();
  const sets = outputs.map((w) => ({ dir: w.file.replace(/\.om$/, '-blocks'), series: w.series, samples: w.samples }));
  // Two at a time: promtool holds a whole file's series in memory, and the VM has two cores.
  const queue = outputs.map((w, i) => () => backfill(w.file, sets[i].dir));
  await Promise.all(
    [0, 1].map(async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
  return { all: sets[0], shards: sets.slice(1) };
}

/** The dashboard queries asked of the DASHBOARD data by the query-layer and query-speed benches. */
export const DASHBOARD_QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
  'topk(10, rate(http_requests_total[5m]))',
  'rate(http_requests_total{code="500"}[5m]) / on (job, instance) group_left sum by (job, instance) (rate(http_requests_total[5m]))',
  'memory_free_bytes{job="job-3"}',
  'avg by (job) (avg_over_time(memory_free_bytes[10m]))',
  'count by (code) (http_requests_total)',
  'http_requests_total{job=~"job-[0-4]", code=~"5.."}',
  'sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))',
];
