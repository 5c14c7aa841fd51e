// The proxy's own /metrics in text format 0.0.4: build info, start time, and the sharding core's
// per-source and per-shard counters. Written by hand because these few families need no client
// library, and the query layer appends its own families (downstream and request metrics).

import { madeGzipBytes, type PushedMetricFamily } from '../shard/pushed-source.js';
import { sourceFamilies, type ShardService } from '../shard/shard-service.js';
import { SCRAPE_FAILURE_REASONS } from '../shard/failure-reason.js';
import { NODEJS_VERSION, REVISION, VERSION } from '../version.js';

function esc(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A tiny text-format writer: every family is declared once, its samples directly below. */
export class Exposition {
  private out: string[] = [];
  family(name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): void {
    this.out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    for (const [labels, value] of samples) {
      const ls = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      this.out.push(`${name}${ls ? `{${ls}}` : ''} ${fmt(value)}\n`);
    }
  }
  toString(): string {
    return this.out.join('');
  }
}

export interface ShardRequestCounters {
  /** key: `${shard} ${code}` */
  requests: Map<string, number>;
}

/** The proxy's own metrics, in text 0.0.4. */
export function renderSelfMetrics(svc: ShardService | undefined, counters: ShardRequestCounters, startedAt: number): string {
  const e = new Exposition();
  e.family(
    'promfront_build_info',
    'gauge',
    'A metric with a constant 1 value labeled by version, revision and the Node.js version from which promfront was built.',
    [[{ version: VERSION, revision: REVISION, nodejs: NODEJS_VERSION }, 1]],
  );
  e.family('promfront_start_time_seconds', 'gauge', 'Start time of the proxy since the Unix epoch in seconds.', [[{}, startedAt / 1000]]);
  if (svc) {
    const src = (s: { index: number; url: string }) => ({ source: String(s.index), url: s.url });
    e.family(
      'promfront_source_up',
      'gauge',
      'Whether the last scrape of the source succeeded.',
      svc.sources.map((s) => [src(s), s.up ? 1 : 0]),
    );
    e.family(
      'promfront_source_scrape_duration_seconds',
      'gauge',
      'Duration of the last scrape of the source, fetch and parse.',
      svc.sources.map((s) => [src(s), s.durationMs / 1000]),
    );
    e.family(
      'promfront_source_series',
      'gauge',
      'Series in the last good scrape of the source.',
      svc.sources.map((s) => [src(s), s.series]),
    );
    e.family(
      'promfront_source_families',
      'gauge',
      'Metric families in the last good scrape of the source.',
      svc.sources.map((s) => [src(s), sourceFamilies(s)]),
    );
    e.family(
      'promfront_source_body_bytes',
      'gauge',
      'Uncompressed size of the last good scrape body.',
      svc.sources.map((s) => [src(s), s.bodyBytes]),
    );
    e.family(
      'promfront_source_wire_bytes',
      'gauge',
      'Bytes received on the wire for the last good scrape.',
      svc.sources.map((s) => [src(s), s.wireBytes]),
    );
    e.family(
      'promfront_source_last_success_timestamp_seconds',
      'gauge',
      'Time of the last successful scrape of the source since the Unix epoch in seconds (0 if never).',
      svc.sources.map((s) => [src(s), s.lastSuccessAt === undefined ? 0 : s.lastSuccessAt / 1000]),
    );
    e.family(
      'promfront_source_last_error',
      'gauge',
      `Why the last scrape failed (1) while the source is failing, absent when up; reason is one of ${SCRAPE_FAILURE_REASONS.join(', ')}.`,
      svc.sources.filter((s) => s.lastErrorReason !== undefined).map((s) => [{ ...src(s), reason: s.lastErrorReason! }, 1]),
    );
    e.family(
      'promfront_source_scrape_failures_total',
      'counter',
      'Failed scrapes of the source.',
      svc.sources.map((s) => [src(s), s.failures]),
    );
    e.family(
      'promfront_source_stale_series_dropped_total',
      'counter',
      'Series no longer served because the source stayed down longer than max_stale.',
      svc.sources.map((s) => [src(s), s.staleDropped]),
    );
    e.family(
      'promfront_duplicate_series_dropped_total',
      'counter',
      'Series left out because an earlier source in config order served the same series.',
      svc.sources.map((s) => [src(s), s.duplicatesDropped]),
    );
    e.family(
      'promfront_source_duplicate_samples_dropped_total',
      'counter',
      'Samples dropped because the same series at the same timestamp came earlier in the same scrape of the source; the first is served.',
      svc.sources.map((s) => [src(s), s.duplicatesInSource]),
    );
    const shards = svc.current?.shards ?? [];
    e.family(
      'promfront_shard_series',
      'gauge',
      'Series served by the shard.',
      shards.map((s) => [{ shard: String(s.id) }, s.series]),
    );
    e.family(
      'promfront_shard_families',
      'gauge',
      'Metric families served by the shard.',
      shards.map((s) => [{ shard: String(s.id) }, s.families]),
    );
    e.family(
      'promfront_shard_bytes',
      'gauge',
      'Size of the prebuilt shard body.',
      shards.flatMap((s) =>
        (
          [
            [{ shard: String(s.id), format: 'text', encoding: 'identity' }, s.textBytes],
            [{ shard: String(s.id), format: 'text', encoding: 'gzip' }, madeGzipBytes(s, false)],
            [{ shard: String(s.id), format: 'openmetrics', encoding: 'identity' }, s.omBytes],
            [{ shard: String(s.id), format: 'openmetrics', encoding: 'gzip' }, madeGzipBytes(s, true)],
          ] as [Record<string, string>, number | undefined][]
        ).filter((x): x is [Record<string, string>, number] => x[1] !== undefined),
      ),
    );
    e.family('promfront_cycle_duration_seconds', 'gauge', 'Duration of the last full scrape cycle: fetch, parse, shard, build and gzip.', [
      [{}, svc.lastCycleDurationMs / 1000],
    ]);
    e.family('promfront_cycles_total', 'counter', 'Completed scrape cycles.', [[{}, svc.cycles]]);
    // Sources fed by messages (nats): their families, each declared once whatever the number of sources.
    const pushed = new Map<string, PushedMetricFamily>();
    for (const f of svc.pushed.flatMap((p) => p?.metrics() ?? [])) {
      const had = pushed.get(f.name);
      if (had) had.samples.push(...f.samples);
      else pushed.set(f.name, { ...f, samples: [...f.samples] });
    }
    for (const f of pushed.values()) e.family(f.name, f.type, f.help, f.samples);
    e.family(
      'promfront_cycle_last_success_timestamp_seconds',
      'gauge',
      'Time the last scrape cycle completed since the Unix epoch in seconds (0 if none yet).',
      [[{}, svc.lastCycleAt === undefined ? 0 : svc.lastCycleAt / 1000]],
    );
  }
  e.family(
    'promfront_shard_requests_total',
    'counter',
    'Requests for shard bodies by shard and HTTP status code.',
    [...counters.requests].map(([k, v]) => {
      const [shard, code] = k.split(' ');
      return [{ shard: shard, code: code }, v];
    }),
  );
  return e.toString();
}

/** The outcome of the last config reload (the start-up load counts as one). */
export interface ReloadStatus {
  successful: boolean;
  /** When the config in service was loaded, ms since the epoch. */
  lastSuccessAt: number;
}

/** Prometheus's prometheus_config_last_reload_* pair, under our prefix. */
export function renderReloadMetrics(status: ReloadStatus): string {
  const e = new Exposition();
  e.family('promfront_config_last_reload_successful', 'gauge', 'Whether the last configuration reload attempt was successful.', [
    [{}, status.successful ? 1 : 0],
  ]);
  e.family('promfront_config_last_reload_success_timestamp_seconds', 'gauge', 'Timestamp of the last successful configuration reload.', [
    [{}, status.lastSuccessAt / 1000],
  ]);
  return e.toString();
}

/** What /status says of the process itself. */
export interface ProcessInfo {
  startedAt: number;
  /** The config file in service (the path as given on the command line). */
  configFile?: string;
}

/**
 * The /status document: the build and process (version, uptime, config file), then per source and
 * per shard when there is a shard section, and the query layer's groups and targets (`query`) when
 * there is a query section; a section that is not configured is left out, not shown as null. Never
 * with secrets.
 */
export function statusDocument(svc: ShardService | undefined, query?: unknown, info?: ProcessInfo): Record<string, unknown> {
  const now = Date.now();
  const doc: Record<string, unknown> = {
    version: VERSION,
    revision: REVISION,
    nodejs: NODEJS_VERSION,
  };
  if (info) {
    doc.started_at = new Date(info.startedAt).toISOString();
    doc.uptime_secs = Math.round((now - info.startedAt) / 1000);
    if (info.configFile !== undefined) doc.config_file = info.configFile;
  }
  if (svc) Object.assign(doc, shardStatus(svc, now));
  if (query !== undefined && query !== null) doc.query = query;
  return doc;
}

function shardStatus(svc: ShardService, now: number): Record<string, unknown> {
  return {
    num_shards: svc.numShards,
    ready: svc.ready,
    cycles: svc.cycles,
    last_cycle_ago_secs: svc.lastCycleAt === undefined ? null : (now - svc.lastCycleAt) / 1000,
    last_cycle_duration_ms: Math.round(svc.lastCycleDurationMs),
    sources: svc.sources.map((s) => ({
      url: s.url,
      up: s.up,
      duration_ms: Math.round(s.durationMs),
      series: s.series,
      families: sourceFamilies(s),
      bytes: s.bodyBytes,
      wire_bytes: s.wireBytes,
      age_secs: s.lastSuccessAt === undefined ? null : (now - s.lastSuccessAt) / 1000,
      serving: s.data !== undefined,
      error: s.lastError ?? null,
      error_reason: s.lastErrorReason ?? null,
      failures: s.failures,
      stale_series_dropped: s.staleDropped,
      duplicates_dropped: s.duplicatesDropped,
      duplicates_in_source: s.duplicatesInSource,
      ...(svc.pushed[s.index] ? { stream: svc.pushed[s.index]!.status() } : {}),
    })),
    shards: (svc.current?.shards ?? []).map((s) => ({
      id: s.id,
      series: s.series,
      families: s.families,
      size_bytes: s.textBytes,
      gzip_bytes: madeGzipBytes(s, false) ?? null,
      openmetrics_size_bytes: s.omBytes,
      openmetrics_gzip_bytes: madeGzipBytes(s, true) ?? null,
    })),
  };
}
