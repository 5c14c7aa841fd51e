// A deterministic, Ceph-mgr-like exporter for tests, benchmarks and the demo.
//
// The exposition is a pure function of (series count, seed, step time): two scrapers that hit the same
// step see byte-identical bodies, counters only grow with time, histogram buckets are cumulative.
// The layout imitates a large Ceph cluster: a few cluster-wide families, then per-OSD counters, gauges,
// classic histograms and a summary, per-(OSD, pool) counters, and a per-PG gauge that tops the count up
// to exactly the requested number of series (when it is at least the size of the fixed part).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import zlib from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(zlib.gzip);

export type SyntheticFormat = 'text' | 'openmetrics';

export interface SyntheticOptions {
  /** Total number of series (samples) to produce; the output has exactly this many when series >= FIXED_SERIES. */
  series: number;
  format: SyntheticFormat;
  /** Wall time in ms (>= 0); values are taken at the step floor(timeMs / stepMs) * stepMs. */
  timeMs: number;
  /** Step length in ms used to quantise timeMs (default 5000). */
  stepMs?: number;
  /** Attach the step timestamp to every sample (ms in text, seconds in OpenMetrics). */
  withTimestamps?: boolean;
  seed?: number;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Name of the classic histogram family (for example queries). */
export const SYNTHETIC_HISTOGRAM = 'ceph_osd_op_r_latency_seconds';
/** A counter family, as its samples are named in both formats. */
export const SYNTHETIC_COUNTER = 'ceph_osd_op_w_total';

const DEFAULT_STEP_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-randomness: a 32-bit integer mix of (seed, index, salt).

function mix(seed: number, index: number, salt: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(salt, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform in [0, 1). */
function rand(seed: number, index: number, salt: number): number {
  return mix(seed, index, salt) / 4294967296;
}

/** Log-uniform in [lo, hi). */
function logRand(seed: number, index: number, salt: number, lo: number, hi: number): number {
  return lo * Math.pow(hi / lo, rand(seed, index, salt));
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Layout

const CLUSTER = 'ceph1';
const OSDS_PER_HOST = 12;
const DEVICE_CLASSES = ['hdd', 'ssd', 'nvme'];
const POOLS = [
  'rbd-volumes',
  'cephfs_data',
  'cephfs_metadata',
  '.rgw.root',
  'default.rgw.log',
  'default.rgw.buckets.data',
  'default.rgw.buckets.index',
  'device_health_metrics',
];
/** Pools each OSD reports per-pool counters for. */
const POOLS_PER_OSD = 4;
const LATENCY_BUCKETS = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1.0', '2.5', '5.0'];
const LATENCY_BOUNDS = LATENCY_BUCKETS.map(Number);
const QUANTILES = ['0.5', '0.9', '0.99'];
const QUANTILE_FACTORS = [1, 2.2, 5.5];

interface CounterDef {
  name: string;
  help: string;
  unit?: string;
  rateLo: number;
  rateHi: number;
  float?: boolean;
}
interface GaugeDef {
  name: string;
  help: string;
  unit?: string;
  kind: 'bool' | 'int' | 'float';
  lo: number;
  hi: number;
}

const OSD_COUNTERS: CounterDef[] = [
  { name: 'ceph_osd_op_w', help: 'Client write operations', rateLo: 0.05, rateHi: 40 },
  { name: 'ceph_osd_op_r', help: 'Client read operations', rateLo: 0.05, rateHi: 60 },
  { name: 'ceph_osd_op_rw', help: 'Client read-modify-write operations', rateLo: 0.01, rateHi: 5 },
  { name: 'ceph_osd_op_w_in_bytes', help: 'Client data written', unit: 'bytes', rateLo: 1000, rateHi: 5e6 },
  { name: 'ceph_osd_op_r_out_bytes', help: 'Client data read', unit: 'bytes', rateLo: 1000, rateHi: 8e6 },
  { name: 'ceph_osd_recovery_ops', help: 'Started recovery operations', rateLo: 0.001, rateHi: 0.5 },
  { name: 'ceph_osd_op_process_cpu_seconds', help: 'CPU time spent processing client operations', unit: 'seconds', rateLo: 0.001, rateHi: 0.8, float: true },
];
const OSD_GAUGES: GaugeDef[] = [
  { name: 'ceph_osd_up', help: 'OSD up status (1 = up)', kind: 'bool', lo: 0, hi: 1 },
  { name: 'ceph_osd_in', help: 'OSD in status (1 = in the data placement)', kind: 'bool', lo: 0, hi: 1 },
  { name: 'ceph_osd_weight', help: 'OSD CRUSH weight', kind: 'float', lo: 0.5, hi: 16 },
  { name: 'ceph_osd_stat_bytes', help: 'OSD raw capacity', unit: 'bytes', kind: 'int', lo: 1e12, hi: 2e13 },
  { name: 'ceph_osd_stat_bytes_used', help: 'OSD raw space used', kind: 'int', lo: 1e11, hi: 1e13 },
  { name: 'ceph_osd_numpg', help: 'Placement groups on this OSD', kind: 'int', lo: 40, hi: 300 },
];
const OSD_HISTOGRAMS = [
  { name: 'ceph_osd_op_r_latency_seconds', help: 'Latency of client read operations (including queue time)' },
  { name: 'ceph_osd_op_w_latency_seconds', help: 'Latency of client write operations (including queue time)' },
];
const OSD_SUMMARY = { name: 'ceph_osd_commit_latency_seconds', help: 'Latency of committing transactions to the object store' };
const OSD_POOL_COUNTERS: CounterDef[] = [
  { name: 'ceph_osd_pool_op_w', help: 'Client write operations per pool on this OSD', rateLo: 0.01, rateHi: 20 },
  { name: 'ceph_osd_pool_op_r_out_bytes', help: 'Client data read per pool on this OSD', unit: 'bytes', rateLo: 100, rateHi: 2e6 },
];

/** Series of one OSD, all per-OSD families together. */
const SERIES_PER_OSD =
  1 /* ceph_osd_metadata */ +
  OSD_COUNTERS.length +
  OSD_GAUGES.length +
  OSD_HISTOGRAMS.length * (LATENCY_BUCKETS.length + 3) +
  (QUANTILES.length + 2) +
  OSD_POOL_COUNTERS.length * POOLS_PER_OSD;

const MONS = ['a', 'b', 'c'];
const HEALTH_STATES = ['HEALTH_OK', 'HEALTH_WARN', 'HEALTH_ERR'];
/** Series of the cluster-wide families, always emitted. */
export const FIXED_SERIES = 1 + HEALTH_STATES.length + 1 + MONS.length + POOLS.length * 2;

// Label values that exercise escaping and UTF-8 (written here already escaped for the exposition).
const POOL_DESCRIPTIONS = [
  'block volumes for \\"prod\\" VMs',
  'CephFS data, mounted at C:\\\\ceph\\\\fs on Windows clients',
  'CephFS metadata\\nreplicated ×3',
  'RGW realm root — Zürich',
  'RGW log pool',
  'S3 buckets for 東京 office',
  'bucket index (omap heavy)',
  'device health (mgr module)',
];

function osdLayout(series: number): { osds: number; filler: number } {
  const rest = Math.max(0, series - FIXED_SERIES);
  const osds = Math.floor(rest / SERIES_PER_OSD);
  return { osds, filler: rest - osds * SERIES_PER_OSD };
}

function hostOf(osd: number): string {
  return `ceph-osd-${String(Math.floor(osd / OSDS_PER_HOST)).padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Generation

const CHUNK_LINES = 16384;

/**
 * Yields the exposition in pieces of about CHUNK_LINES lines; concatenated they form the whole body.
 * Pieces stay small so that the caller can encode each to UTF-8 (or yield to the event loop) as it goes.
 */
export function* generateChunks(opts: SyntheticOptions): Generator<string, void, void> {
  const om = opts.format === 'openmetrics';
  const seed = (opts.seed ?? 1) | 0;
  const stepMs = opts.stepMs ?? DEFAULT_STEP_MS;
  const t = Math.floor(opts.timeMs / stepMs) * stepMs;
  const tSec = t / 1000;
  const ts = opts.withTimestamps ? (om ? ` ${tSec.toFixed(3)}` : ` ${t}`) : '';
  const { osds, filler } = osdLayout(opts.series);

  let out: string[] = [];
  let idx = 0; // global series index: the identity that values are derived from

  const meta = (name: string, type: string, help: string, unit?: string): void => {
    out.push(`# HELP ${name} ${help}`);
    out.push(`# TYPE ${name} ${type}`);
    if (om && unit !== undefined) out.push(`# UNIT ${name} ${unit}`);
  };
  /** Family header for a counter: OpenMetrics names the family without _total, text 0.0.4 with it. */
  const counterMeta = (name: string, help: string, unit?: string): void => {
    meta(om ? name : `${name}_total`, 'counter', help, unit);
  };
  const counterValue = (i: number, c: CounterDef): string => {
    const rate = logRand(seed, i, 1, c.rateLo, c.rateHi);
    const base = rand(seed, i, 2) * rate * 86400;
    const v = base + rate * tSec;
    return c.float ? String(round3(v)) : String(Math.floor(v));
  };
  const gaugeValue = (i: number, g: GaugeDef): string => {
    const r = rand(seed, i, 3);
    if (g.kind === 'bool') {
      // Mostly 1; a few series flap with time.
      if (r > 0.02) return '1';
      return Math.floor(tSec / 60 + r * 1000) % 3 === 0 ? '0' : '1';
    }
    const level = g.lo + (g.hi - g.lo) * r;
    const wobble = 1 + 0.1 * Math.sin(tSec / (60 + 600 * rand(seed, i, 4)) + 6.283 * rand(seed, i, 5));
    const v = Math.min(g.hi, level * wobble);
    return g.kind === 'int' ? String(Math.round(v)) : String(round3(v));
  };
  const flush = (): string => {
    if (out.length === 0) return '';
    const s = out.join('\n') + '\n';
    out = [];
    return s;
  };

  // --- cluster-wide families -----------------------------------------------------------------
  const cl = `cluster="${CLUSTER}"`;
  meta('ceph_health_status', 'gauge', 'Cluster health status (0 = OK, 1 = WARN, 2 = ERR)');
  {
    const r = rand(seed, idx, 7);
    out.push(`ceph_health_status{${cl}} ${r < 0.8 ? 0 : 1}${ts}`);
    idx++;
  }
  // A stateset in OpenMetrics, a plain gauge in text; the samples are the same.
  meta('ceph_health_state', om ? 'stateset' : 'gauge', 'Cluster health state as a set of states');
  for (let s = 0; s < HEALTH_STATES.length; s++) {
    out.push(`ceph_health_state{${cl},ceph_health_state="${HEALTH_STATES[s]}"} ${s === 0 ? 1 : 0}${ts}`);
    idx++;
  }
  // An info family in OpenMetrics (family "ceph_cluster", sample "ceph_cluster_info"), a gauge in text.
  meta(om ? 'ceph_cluster' : 'ceph_cluster_info', om ? 'info' : 'gauge', 'Cluster build and placement information');
  out.push(
    `ceph_cluster_info{${cl},fsid="5d0c1c2e-3b4f-4d5e-9a7b-${(mix(seed, 0, 9) >>> 0).toString(16).padStart(8, '0')}0000",` +
      `version="ceph version 17.2.6 (d7ff0d10654d2280e08f1ab989c7cdf3064446a5) quincy (stable)",` +
      `location="Zürich – Halle 3 \\"Nord\\" / 東京"} 1${ts}`,
  );
  idx++;
  meta('ceph_mon_quorum_status', 'gauge', 'Monitor daemons in quorum');
  for (const m of MONS) {
    out.push(`ceph_mon_quorum_status{${cl},ceph_daemon="mon.${m}"} 1${ts}`);
    idx++;
  }
  meta('ceph_pool_metadata', 'gauge', 'Pool metadata; descriptions may name Windows paths like C:\\\\ceph');
  for (let p = 0; p < POOLS.length; p++) {
    out.push(`ceph_pool_metadata{${cl},pool_id="${p + 1}",name="${POOLS[p]}",description="${POOL_DESCRIPTIONS[p]}"} 1${ts}`);
    idx++;
  }
  meta('ceph_pool_stored_bytes', 'gauge', 'Data stored in the pool', 'bytes');
  for (let p = 0; p < POOLS.length; p++) {
    out.push(`ceph_pool_stored_bytes{${cl},pool_id="${p + 1}"} ${gaugeValue(idx, { name: '', help: '', kind: 'int', lo: 1e9, hi: 1e15 })}${ts}`);
    idx++;
  }

  // --- per-OSD families (none at all when the fixed part already uses up the series budget)
  if (osds > 0) {
    const osdLabels = new Array<string>(osds);
    for (let o = 0; o < osds; o++) {
      osdLabels[o] = `${cl},ceph_daemon="osd.${o}",hostname="${hostOf(o)}"`;
    }

    meta('ceph_osd_metadata', 'gauge', 'OSD metadata (always 1)');
    for (let o = 0; o < osds; o++) {
      const host = Math.floor(o / OSDS_PER_HOST);
      const addr = `10.${(host >> 8) & 255}.${host & 255}.${10 + (o % OSDS_PER_HOST)}`;
      out.push(
        `ceph_osd_metadata{${osdLabels[o]},device_class="${DEVICE_CLASSES[o % 3]}",objectstore="bluestore",` +
          `ceph_version="ceph version 17.2.6 quincy (stable)",front_addr="${addr}:6800",back_addr="${addr}:6801"} 1${ts}`,
      );
      idx++;
      if (out.length >= CHUNK_LINES) yield flush();
    }
    for (const c of OSD_COUNTERS) {
      counterMeta(c.name, c.help, c.unit);
      const sample = `${c.name}_total{`;
      for (let o = 0; o < osds; o++) {
        out.push(`${sample}${osdLabels[o]}} ${counterValue(idx, c)}${ts}`);
        idx++;
        if (out.length >= CHUNK_LINES) yield flush();
      }
    }
    for (const g of OSD_GAUGES) {
      meta(g.name, 'gauge', g.help, g.unit);
      const sample = `${g.name}{`;
      for (let o = 0; o < osds; o++) {
        out.push(`${sample}${osdLabels[o]}} ${gaugeValue(idx, g)}${ts}`);
        idx++;
        if (out.length >= CHUNK_LINES) yield flush();
      }
    }
    const nb = LATENCY_BUCKETS.length;
    for (const h of OSD_HISTOGRAMS) {
      meta(h.name, 'histogram', h.help, 'seconds');
      const bucket = `${h.name}_bucket{`;
      const sum = `${h.name}_sum{`;
      const count = `${h.name}_count{`;
      for (let o = 0; o < osds; o++) {
        const id = idx;
        const rate = logRand(seed, id, 1, 0.02, 50);
        const n = Math.floor(rand(seed, id, 2) * rate * 86400 + rate * tSec);
        // Log-logistic latency distribution with a per-series median and spread.
        const median = logRand(seed, id, 3, 0.001, 0.2);
        const shape = 1.5 + 2 * rand(seed, id, 4);
        const labels = osdLabels[o];
        for (let b = 0; b < nb; b++) {
          const cdf = 1 / (1 + Math.pow(median / LATENCY_BOUNDS[b], shape));
          out.push(`${bucket}${labels},le="${LATENCY_BUCKETS[b]}"} ${Math.floor(n * cdf)}${ts}`);
        }
        out.push(`${bucket}${labels},le="+Inf"} ${n}${ts}`);
        out.push(`${sum}${labels}} ${round3(n * median * 1.3)}${ts}`);
        out.push(`${count}${labels}} ${n}${ts}`);
        idx += nb + 3;
        if (out.length >= CHUNK_LINES) yield flush();
      }
    }
    {
      meta(OSD_SUMMARY.name, 'summary', OSD_SUMMARY.help, 'seconds');
      const name = OSD_SUMMARY.name;
      for (let o = 0; o < osds; o++) {
        const id = idx;
        const rate = logRand(seed, id, 1, 0.05, 40);
        const n = Math.floor(rand(seed, id, 2) * rate * 86400 + rate * tSec);
        const median = logRand(seed, id, 3, 0.0005, 0.05);
        const wobble = 1 + 0.2 * Math.sin(tSec / 120 + 6.283 * rand(seed, id, 5));
        const labels = osdLabels[o];
        for (let q = 0; q < QUANTILES.length; q++) {
          out.push(`${name}{${labels},quantile="${QUANTILES[q]}"} ${Math.round(median * QUANTILE_FACTORS[q] * wobble * 1e6) / 1e6}${ts}`);
        }
        out.push(`${name}_sum{${labels}} ${round3(n * median * 1.4)}${ts}`);
        out.push(`${name}_count{${labels}} ${n}${ts}`);
        idx += QUANTILES.length + 2;
        if (out.length >= CHUNK_LINES) yield flush();
      }
    }
    for (const c of OSD_POOL_COUNTERS) {
      counterMeta(c.name, c.help, c.unit);
      const sample = `${c.name}_total{`;
      for (let o = 0; o < osds; o++) {
        for (let k = 0; k < POOLS_PER_OSD; k++) {
          const pool = POOLS[(o + k) % POOLS.length];
          out.push(`${sample}${osdLabels[o]},pool="${pool}"} ${counterValue(idx, c)}${ts}`);
          idx++;
        }
        if (out.length >= CHUNK_LINES) yield flush();
      }
    }
  }

  // --- per-PG gauge that fills up to the exact count -------------------------------------------
  if (filler > 0) {
    meta('ceph_pg_objects', 'gauge', 'Objects in a placement group');
    for (let f = 0; f < filler; f++) {
      const pool = f % POOLS.length;
      out.push(
        `ceph_pg_objects{${cl},pool="${POOLS[pool]}",pg="${pool + 1}.${f.toString(16)}"} ${gaugeValue(idx, { name: '', help: '', kind: 'int', lo: 0, hi: 50000 })}${ts}`,
      );
      idx++;
    }
  }
  if (om) out.push('# EOF');
  yield flush();
}

/** The whole exposition as one string. */
export function generateExposition(opts: SyntheticOptions): string {
  const parts: string[] = [];
  for (const chunk of generateChunks(opts)) parts.push(chunk);
  return parts.join('');
}

/** The exposition as UTF-8 bytes, yielding to the event loop between pieces. */
export async function generateExpositionBuffer(opts: SyntheticOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const chunk of generateChunks(opts)) {
    parts.push(Buffer.from(chunk, 'utf8'));
    await yieldToLoop();
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// HTTP exporter

export interface SyntheticExporter {
  url: string;
  port: number;
  /** GET/HEAD requests served on /metrics so far. */
  scrapes: number;
  close(): Promise<void>;
}

export interface SyntheticExporterOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  series: number;
  /** Step length in ms (default 5000): values change once per step, bodies are cached per step. */
  stepMs?: number;
  withTimestamps?: boolean;
  seed?: number;
  /** Formats the exporter is willing to serve (default both). */
  formats?: SyntheticFormat[];
  /** Clock, for tests (default Date.now). */
  now?: () => number;
}

interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    ranges.push({ type: type.toLowerCase(), q: Number.isFinite(q) ? q : 0 });
  }
  return ranges;
}

/** Picks the format by the Accept header's quality values among the allowed formats; text unless OpenMetrics is preferred. */
export function negotiateFormat(accept: string | undefined, allowed: readonly SyntheticFormat[]): SyntheticFormat {
  const ranges = parseAccept(accept);
  const qOf = (types: string[]): number => {
    let best = -1;
    for (const r of ranges) if (types.includes(r.type)) best = Math.max(best, r.q);
    return best;
  };
  const qOm = qOf(['application/openmetrics-text']);
  const qText = qOf(['text/plain', 'text/*', '*/*']);
  const canOm = allowed.includes('openmetrics');
  const canText = allowed.includes('text');
  if (canOm && qOm > 0 && (!canText || qOm > qText)) return 'openmetrics';
  if (canText) return 'text';
  return 'openmetrics';
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => /^q\s*=\s*([0-9.]+)$/.exec(p)).find((m) => m);
    if (!q || Number(q[1]) > 0) return true;
  }
  return false;
}

interface CachedBody {
  raw: Buffer;
  gzip: Promise<Buffer> | undefined;
}

export async function startSyntheticExporter(opts: SyntheticExporterOptions): Promise<SyntheticExporter> {
  const host = opts.host ?? '127.0.0.1';
  const stepMs = opts.stepMs ?? DEFAULT_STEP_MS;
  const formats = opts.formats && opts.formats.length > 0 ? opts.formats : (['text', 'openmetrics'] as SyntheticFormat[]);
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { step: number; body: Promise<CachedBody> }>();

  const bodyFor = (step: number, format: SyntheticFormat): Promise<CachedBody> => {
    const key = `${step}/${format}`;
    let entry = cache.get(key);
    if (!entry) {
      // Keep the current and the previous step; older bodies are of no use to anyone.
      for (const [k, e] of cache) if (e.step < step - stepMs) cache.delete(k);
      const body = generateExpositionBuffer({
        series: opts.series,
        format,
        timeMs: step,
        stepMs,
        withTimestamps: opts.withTimestamps,
        seed: opts.seed,
      }).then((raw): CachedBody => ({ raw, gzip: undefined }));
      entry = { step, body };
      cache.set(key, entry);
      body.catch(() => cache.delete(key));
    }
    return entry.body;
  };

  const exporter: SyntheticExporter = {
    url: '',
    port: 0,
    scrapes: 0,
    close: async () => {},
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      if (path === '/' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<html><body><h1>synthetic Ceph exporter</h1><p>${opts.series} series, step ${stepMs} ms. <a href="/metrics">/metrics</a></p></body></html>\n`);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    exporter.scrapes++;
    const format = negotiateFormat(req.headers.accept, formats);
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const step = Math.floor(now() / stepMs) * stepMs;
    void (async () => {
      const cached = await bodyFor(step, format);
      let body = cached.raw;
      if (gzip) {
        cached.gzip ??= gzipAsync(cached.raw, { level: 1 });
        body = await cached.gzip;
      }
      const headers: http.OutgoingHttpHeaders = {
        'content-type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
        'content-length': body.length,
        vary: 'Accept, Accept-Encoding',
      };
      if (gzip) headers['content-encoding'] = 'gzip';
      res.writeHead(200, headers);
      if (req.method === 'HEAD') res.end();
      else res.end(body);
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`synthetic exporter failed: ${(err as Error).message}\n`);
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  exporter.port = port;
  exporter.url = `http://${urlHost}:${port}/metrics`;
  let closed: Promise<void> | undefined;
  exporter.close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      cache.clear();
    });
    return closed;
  };
  return exporter;
}
