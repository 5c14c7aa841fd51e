// Runs a real single-node VictoriaMetrics (Debian's `victoria-metrics` package, 1.79) as a child
// process on loopback, for the query layer's downstream tests. See docs/victoriametrics.md for how
// its raw-sample API differs from Prometheus's.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toPrometheusText, type BackfillDataSet } from './backfill.js';
import { answers200, freePort, terminate, trackChild, waitFor } from './prometheus-process.js';

export const VICTORIA_METRICS_MISSING = 'victoria-metrics not found: install it with `apt-get install -y victoria-metrics` (Debian)';

/** Path of the `victoria-metrics` binary: the first executable one on PATH, else in /usr/bin or /usr/local/bin. */
export function findVictoriaMetrics(dirs?: string[]): string {
  const search = dirs ?? [...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin'];
  for (const dir of search) {
    for (const name of ['victoria-metrics', 'victoria-metrics-prod']) {
      const candidate = path.join(dir, name);
      try {
        if (!fs.statSync(candidate).isFile()) continue;
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  throw new Error(VICTORIA_METRICS_MISSING);
}

export interface VictoriaMetricsProcess {
  /** Base URL, e.g. http://127.0.0.1:8428 */
  url: string;
  port: number;
  pid: number;
  /** Temporary directory holding the storage; removed by stop(). */
  dataDir: string;
  /** POSTs Prometheus text format (timestamps in ms) to /api/v1/import/prometheus. */
  importPrometheusText(text: string): Promise<void>;
  /** Makes everything imported so far searchable (/internal/force_flush). */
  flush(): Promise<void>;
  /** Recent stdout/stderr. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartVictoriaMetricsOptions {
  extraArgs?: string[];
  /** Deadline for /health (default 30 s). */
  readyTimeoutMs?: number;
}

/**
 * Flags that make stored data come back exactly as imported, whatever its age: retention far out
 * (the test data lies years in the past), no deduplication, no response cache (it is built for
 * data that only grows at "now" and would hide backfilled samples), no latency offset.
 */
const EXACT_READ_ARGS = ['-retentionPeriod=100y', '-dedup.minScrapeInterval=0s', '-search.disableCache', '-search.latencyOffset=0s'];

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', body });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 500)}`);
}

async function launchOnce(bin: string, dir: string, port: number, opts: StartVictoriaMetricsOptions): Promise<VictoriaMetricsProcess> {
  const args = [
    `-storageDataPath=${path.join(dir, 'data')}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-loggerLevel=WARN',
    ...EXACT_READ_ARGS,
    ...(opts.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString('utf8');
    if (out.length > 64 * 1024) out = out.slice(-32 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  if (child.pid === undefined) await spawnError;
  trackChild(child, [dir]);
  const base = `http://127.0.0.1:${port}`;
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  try {
    await Promise.race([
      spawnError,
      waitFor(
        async () => {
          if (exited())
            throw new Error(`victoria-metrics exited early (code ${child.exitCode}); last output:\n${out.trimEnd().split('\n').slice(-20).join('\n')}`);
          return answers200(`${base}/health`);
        },
        opts.readyTimeoutMs ?? 30_000,
        `victoria-metrics on ${base} to become ready`,
      ),
    ]);
  } catch (err) {
    await terminate(child, 2000);
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url: base,
    port,
    pid: child.pid!,
    dataDir: dir,
    importPrometheusText: (text) => post(`${base}/api/v1/import/prometheus`, text),
    flush: async () => {
      const res = await fetch(`${base}/internal/force_flush`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`/internal/force_flush: HTTP ${res.status}`);
    },
    output: () => out,
    stop: () => {
      stopped ??= (async () => {
        await terminate(child, 10_000);
        fs.rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Starts VictoriaMetrics on a free loopback port with a fresh temporary storage directory. */
export async function startVictoriaMetrics(opts: StartVictoriaMetricsOptions = {}): Promise<VictoriaMetricsProcess> {
  const bin = findVictoriaMetrics();
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promfront-vm-'));
    try {
      return await launchOnce(bin, dir, await freePort(), opts);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      lastErr = err;
      if (!/address already in use/i.test(String((err as Error)?.message))) break;
    }
  }
  throw lastErr;
}

/**
 * Samples of the data set that VictoriaMetrics keeps: every one but NaN values, which 1.79 drops at
 * ingestion (lib/storage/storage.go: "Skip NaNs other than Prometheus staleness marker").
 */
export function storedByVictoriaMetrics(data: BackfillDataSet): { series: number; samples: number } {
  let series = 0;
  let samples = 0;
  for (const f of data.families) {
    for (const s of f.series) {
      const n = s.values.reduce((acc, v) => acc + (Number.isNaN(v) ? 0 : 1), 0);
      if (n > 0) series++;
      samples += n;
    }
  }
  return { series, samples };
}

/** Counts the series and samples /api/v1/export returns for the data set's time range. */
async function exportedCounts(vm: VictoriaMetricsProcess, data: BackfillDataSet): Promise<{ series: number; samples: number }> {
  const params = new URLSearchParams({ 'match[]': '{__name__=~".+"}', start: String(data.startMs / 1000), end: String(data.endMs / 1000) });
  const res = await fetch(`${vm.url}/api/v1/export?${params.toString()}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/api/v1/export: HTTP ${res.status}: ${text.slice(0, 300)}`);
  let series = 0;
  let samples = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    series++;
    samples += (JSON.parse(line) as { timestamps: unknown[] }).timestamps.length;
  }
  return { series, samples };
}

/**
 * A VictoriaMetrics holding `data` (imported as text with ms timestamps), returned once every stored
 * sample is searchable.
 */
export async function startBackfilledVictoriaMetrics(data: BackfillDataSet): Promise<VictoriaMetricsProcess> {
  const vm = await startVictoriaMetrics();
  try {
    await vm.importPrometheusText(toPrometheusText(data));
    const want = storedByVictoriaMetrics(data);
    let got = { series: 0, samples: 0 };
    try {
      await waitFor(
        async () => {
          await vm.flush();
          got = await exportedCounts(vm, data);
          return got.series === want.series && got.samples === want.samples;
        },
        30_000,
        `victoria-metrics to serve ${want.series} series / ${want.samples} samples`,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; it serves ${got.series} / ${got.samples}`, { cause: err });
    }
    return vm;
  } catch (err) {
    await vm.stop();
    throw err;
  }
}
