import { isDeepStrictEqual } from 'node:util';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { resolvedTimings, type ShardConfig } from '../config/schema.js';
import { buildShards, type ShardSet } from './build.js';
import { ExpositionError, ScrapeError } from '../errors.js';
import type { ExpositionFormat } from './exposition.js';
import { createSourceClient, type SourceClient } from './source-client.js';
import { initHash } from './hash.js';
import type { SourceData } from './ingest.js';
import { PushedChanges, type PushedSource, type PushedSourceFactory } from './pushed-source.js';
import { StreamingIngest } from './stream-ingest.js';
import { sourceIdentity } from './identity.js';
import { scrapeFailureReason, type ScrapeFailureReason } from './failure-reason.js';
import { RepeatedFailureLog } from '../util/failure-log.js';

/** What /status and /metrics show of one source; never holds a secret. */
export interface SourceState {
  index: number;
  /** The URL without userinfo. */
  url: string;
  up: boolean;
  durationMs: number;
  series: number;
  /**
   * Families in the last good scrape. A pushed source's targets are kept instead (`pushedTargets`)
   * and counted when /status or /metrics asks (sourceFamilies): a Set of every target's family names
   * made at each 1 s cycle was 5 % of a NATS centre's CPU.
   */
  families: number;
  pushedTargets?: readonly SourceData[];
  bodyBytes: number;
  wireBytes: number;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  /** lastError sorted into one of a fixed set (the metric's label). */
  lastErrorReason: ScrapeFailureReason | undefined;
  failures: number;
  /** Series no longer served because the source stayed down longer than max_stale. */
  staleDropped: number;
  duplicatesDropped: number;
  /** Samples dropped because their series (at the same timestamp) came earlier in the same scrape. */
  duplicatesInSource: number;
  data: SourceData | undefined;
}

/** A source's families in its last good scrape: for a pushed source, distinct over its targets. */
export function sourceFamilies(s: SourceState): number {
  const targets = s.pushedTargets;
  if (!targets) return s.families;
  const names = new Set<string>();
  for (const t of targets) for (const name of t.familyKeys?.() ?? t.families.keys()) names.add(name);
  return names.size;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/**
 * Scrapes every source each interval, keeps each one's last good data for max_stale, and swaps in
 * freshly built shard bodies after each cycle.
 */
export class ShardService {
  readonly sources: SourceState[];
  current: ShardSet | undefined;
  cycles = 0;
  lastCycleAt: number | undefined;
  lastCycleDurationMs = 0;
  /** Cycles that found nothing new to serve (every source pushed, none moved) and built nothing. */
  unchangedCycles = 0;
  private readonly pushedChanges = new PushedChanges();
  /** Indexed like config.sources: undefined for the pushed (nats) entries. */
  private readonly clients: (SourceClient | undefined)[];
  /** Indexed like config.sources: the pushed sources, undefined for URL entries. */
  readonly pushed: (PushedSource | undefined)[];
  /** Pushed sources this service took over from the one it replaces: started already, not to start again. */
  private readonly inherited = new Set<PushedSource>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly timings;
  private readonly limit = pLimit(32);
  private readonly extraLabels: (readonly [string, string])[][];
  /** Per source, the job/instance its series get when they carry none (identity.ts). */
  private readonly identity: [string, string][][];
  private readonly readyWaiters: ((ready: boolean) => void)[] = [];
  private readonly failureLog: RepeatedFailureLog;

  constructor(
    private readonly config: ShardConfig,
    private readonly log: Logger,
    pushedSource?: PushedSourceFactory,
  ) {
    this.timings = resolvedTimings(config);
    this.failureLog = new RepeatedFailureLog(log);
    this.clients = config.sources.map((s) =>
      'url' in s ? createSourceClient(s, { timeoutMs: this.timings.timeoutMs, maxBodySize: config.max_body_size }) : undefined,
    );
    this.pushed = config.sources.map((s) => {
      if ('url' in s) return undefined;
      if (!pushedSource) throw new Error('a nats source needs the stream capability, which this build was not given');
      return pushedSource(s, { numShards: config.num_shards, log: log.child({ source: `nats:${s.nats.stream}/${s.nats.durable}` }) });
    });
    this.sources = config.sources.map((s, index) => ({
      index,
      url: 'url' in s ? redactUrl(s.url) : `nats:${s.nats.stream}/${s.nats.durable}`,
      up: false,
      durationMs: 0,
      series: 0,
      families: 0,
      bodyBytes: 0,
      wireBytes: 0,
      lastSuccessAt: undefined,
      lastError: undefined,
      lastErrorReason: undefined,
      failures: 0,
      staleDropped: 0,
      duplicatesDropped: 0,
      duplicatesInSource: 0,
      data: undefined,
    }));
    this.extraLabels = config.sources.map((s) => Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    this.identity = config.sources.map((s) => ('url' in s ? sourceIdentity(config, s) : []));
  }

  get numShards(): number {
    return this.config.num_shards;
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  /** Resolves true once the first cycle has built shard bodies, false if stopped before that. */
  whenReady(): Promise<boolean> {
    if (this.current) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Takes over the state of every source that `prev` has with exactly the same settings, before
   * start(): counters go on, and its last good series keep being served for max_stale if its first
   * scrape here fails. Series are split by shard as they are scraped, so they carry over only when
   * num_shards is the same.
   */
  inheritFrom(prev: ShardService): void {
    const sameShards = prev.config.num_shards === this.config.num_shards;
    this.config.sources.forEach((src, i) => {
      const j = prev.config.sources.findIndex((p) => isDeepStrictEqual(p, src));
      if (j < 0) return;
      const old = prev.sources[j];
      this.sources[i] = { ...old, index: i, data: sameShards ? old.data : undefined };
      // One consumer per durable: the running one (and what it has applied) moves over rather than a
      // second one splitting the messages with it. Its data is split by shard, so only with the same num_shards.
      const moved = prev.pushed[j];
      if (moved && sameShards) {
        this.pushed[i] = moved;
        prev.pushed[j] = undefined;
        this.inherited.add(moved);
      }
    });
  }

  async start(): Promise<void> {
    await initHash();
    for (const p of this.pushed) if (p && !this.inherited.has(p)) await p.start();
    // A lone pushed source that keeps its own bodies publishes them itself, as soon as they change.
    this.selfServed?.serveShards!(
      (set) => {
        if (this.stopped) return;
        this.current = set;
        for (const resolve of this.readyWaiters.splice(0)) resolve(true);
      },
      { gzipLevel: this.config.gzip_level },
    );
    this.loop();
  }

  private get selfServed(): PushedSource | undefined {
    const p = this.pushed.length === 1 ? this.pushed[0] : undefined;
    return p?.serveShards ? p : undefined;
  }

  private loop(): void {
    if (this.stopped) return;
    const started = Date.now();
    this.running = this.runCycle()
      .catch((err: unknown) => this.log.error({ err }, 'scrape cycle failed'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        // Cycles never overlap: a slow cycle pushes the next one back instead of piling up.
        const wait = Math.max(0, this.timings.intervalMs - (Date.now() - started));
        this.timer = setTimeout(() => this.loop(), wait);
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const resolve of this.readyWaiters.splice(0)) resolve(false);
    await this.running;
    await Promise.all(this.clients.flatMap((c) => (c ? [c.close()] : [])));
    await Promise.all(this.pushed.flatMap((p) => (p ? [p.stop()] : [])));
  }

  /** One full cycle: scrape all sources in parallel, then build and swap in the shard bodies. */
  async runCycle(): Promise<void> {
    const started = performance.now();
    await Promise.all(this.sources.map((state, i) => this.limit(() => this.scrapeOne(state, i))));
    const now = Date.now();
    for (const state of this.sources) {
      if (state.data && !state.up && state.lastSuccessAt !== undefined && now - state.lastSuccessAt > this.timings.maxStaleMs) {
        this.log.warn(
          { source: state.url, series: state.data.series, age_secs: (now - state.lastSuccessAt) / 1000 },
          'source down longer than max_stale: its series are no longer served',
        );
        state.staleDropped += state.data.series;
        state.data = undefined;
      }
    }
    // A pushed source serves one entry per target: they come after the URL sources, each counted
    // under the source it came from.
    const data = this.sources.map((s) => s.data);
    const owner = this.sources.map((s) => s.index);
    this.pushed.forEach((p, i) => {
      if (!p) return;
      const targets = p.collect(now);
      data.push(...targets);
      for (let k = 0; k < targets.length; k++) owner.push(i);
      const state = this.sources[i];
      state.up = p.up;
      state.lastError = p.lastError;
      state.series = targets.reduce((a, t) => a + t.series, 0);
      state.pushedTargets = targets;
      if (p.up) state.lastSuccessAt = now;
    });
    if (this.selfServed) {
      this.cycles++;
      this.lastCycleAt = Date.now();
      this.lastCycleDurationMs = performance.now() - started;
      return;
    }
    const versions = this.pushedChanges.read(this.pushed);
    if (this.current && this.clients.every((c) => c === undefined) && !this.pushedChanges.changed(versions)) {
      this.unchangedCycles++;
      this.cycles++;
      this.lastCycleAt = Date.now();
      this.lastCycleDurationMs = performance.now() - started;
      return;
    }
    const set = await buildShards(data, this.config.num_shards, this.config.gzip_level);
    this.pushedChanges.done(versions);
    set.duplicatesDropped.forEach((n, i) => (this.sources[owner[i]].duplicatesDropped += n));
    this.current = set;
    this.cycles++;
    this.lastCycleAt = Date.now();
    this.lastCycleDurationMs = performance.now() - started;
    for (const resolve of this.readyWaiters.splice(0)) resolve(true);
    this.log.debug({ duration_ms: Math.round(this.lastCycleDurationMs), series: set.shards.reduce((a, s) => a + s.series, 0) }, 'scrape cycle done');
  }

  private async scrapeOne(state: SourceState, i: number): Promise<void> {
    const client = this.clients[i];
    if (!client) return;
    const started = performance.now();
    let format: ExpositionFormat | undefined;
    try {
      let stream: StreamingIngest | undefined;
      const res = await client.scrape(undefined, (f) => {
        format = f;
        stream = new StreamingIngest(f, this.config.num_shards, this.extraLabels[i], undefined, this.identity[i]);
        return stream;
      });
      // Parse errors surface here, or from inside scrape() while the body was still arriving.
      const data = stream!.finish();
      state.data = data;
      state.up = true;
      state.series = data.series;
      state.families = data.families.size;
      state.bodyBytes = res.bodyBytes;
      state.wireBytes = res.wireBytes;
      state.lastSuccessAt = Date.now();
      state.lastError = undefined;
      state.lastErrorReason = undefined;
      this.failureLog.succeeded(String(i), { source: state.url, series: data.series }, 'scrape succeeded again');
      if (data.duplicates > 0) {
        state.duplicatesInSource += data.duplicates;
        // One line per scrape, never one per series: a broken exporter repeats its duplicates every time.
        this.log.warn(
          { source: state.url, num_dropped: data.duplicates },
          'duplicate series in the scrape: the first sample of each is served, the rest dropped',
        );
      }
    } catch (err) {
      state.up = false;
      state.failures++;
      state.lastError =
        err instanceof ScrapeError
          ? err.message
          : err instanceof ExpositionError
            ? `invalid exposition (${format}): ${err.message}`
            : `internal error: ${(err as Error).message}`;
      state.lastErrorReason = scrapeFailureReason(err);
      this.failureLog.failed(String(i), { source: state.url, reason: state.lastErrorReason, err: state.lastError }, 'scrape failed');
    } finally {
      state.durationMs = performance.now() - started;
    }
  }
}
