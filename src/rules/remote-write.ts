// Remote write 1.0 of the samples rules produce (recorded series, ALERTS, ALERTS_FOR_STATE), one
// queue per remote_write endpoint. promfront has no TSDB, so this queue is the only copy of a
// recorded sample until the receiver has it: it batches, retries what the receiver may accept
// later (5xx, 429, network errors) with Prometheus's backoff, never retries what it refused (4xx),
// and holds at most max_pending_samples, dropping the oldest first and counting them. Samples of a
// series always go out in order: each series is pinned to one shard, and a shard sends one batch
// at a time.

import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from 'undici';
import type { Logger } from 'pino';
import { ProtoWriter, WIRE_FIXED64, WIRE_LEN } from '../remote/protobuf.js';
import { STALE_NAN_HI, STALE_NAN_LO } from '../remote/prompb.js';
import { snappyCompress } from '../remote/snappy.js';
import type { Label, Labels } from '../model/labels.js';
import { labelsKey } from '../model/labels.js';
import { authorizationHeader, readTlsMaterial, tlsConnectOptions } from '../client/auth-tls.js';
import { parseDuration } from '../util/duration.js';
import type { RemoteWriteConfig } from '../config/rules.js';
import { VERSION } from '../version.js';
import { readFile } from 'node:fs/promises';

export interface WriteSample {
  labels: Labels;
  t: number;
  v: number;
  /** Written as Prometheus's staleness marker (StaleNaN). */
  stale?: boolean;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A prompb.WriteRequest holding `samples`, grouped into one TimeSeries per label set, in order. */
export function encodeWriteRequest(samples: readonly WriteSample[], w = new ProtoWriter(64 * 1024)): Uint8Array {
  const bySeries = new Map<string, WriteSample[]>();
  for (const s of samples) {
    const k = labelsKey(s.labels);
    const list = bySeries.get(k);
    if (list) list.push(s);
    else bySeries.set(k, [s]);
  }
  w.reset();
  for (const list of bySeries.values()) {
    w.tag(1, WIRE_LEN);
    const ts = w.beginMessage();
    for (const l of list[0].labels) writeLabel(w, l);
    for (const s of list) {
      w.tag(2, WIRE_LEN);
      const m = w.beginMessage();
      let lo: number, hi: number;
      if (s.stale) {
        lo = STALE_NAN_LO;
        hi = STALE_NAN_HI;
      } else {
        f64[0] = s.v;
        lo = u32[0];
        hi = u32[1];
      }
      if (lo !== 0 || hi !== 0) {
        w.tag(1, WIRE_FIXED64);
        w.fixed64Bits(lo, hi);
      }
      if (s.t !== 0) {
        w.tag(2, 0);
        w.int64(s.t);
      }
      w.endMessage(m);
    }
    w.endMessage(ts);
  }
  return w.finish();
}

function writeLabel(w: ProtoWriter, l: Label): void {
  w.tag(1, WIRE_LEN);
  const m = w.beginMessage();
  w.tag(1, WIRE_LEN);
  w.string(l.name);
  w.tag(2, WIRE_LEN);
  w.string(l.value);
  w.endMessage(m);
}

/** Counters of one queue, named after Prometheus's prometheus_remote_storage_* families. */
export interface QueueStats {
  samplesIn: number;
  samplesSent: number;
  samplesFailed: number;
  samplesRetried: number;
  samplesDropped: number;
  samplesPending: number;
  highestSentTimestampMs: number;
  batchesSent: number;
  lastError: string | undefined;
}

const SHARDS = 4;

class Shard {
  pending: WriteSample[] = [];
  head = 0;
  sending = false;
  timer: NodeJS.Timeout | undefined;
}

/** The queue of one remote_write endpoint. */
export class WriteQueue {
  readonly name: string;
  readonly stats: QueueStats = {
    samplesIn: 0,
    samplesSent: 0,
    samplesFailed: 0,
    samplesRetried: 0,
    samplesDropped: 0,
    samplesPending: 0,
    highestSentTimestampMs: 0,
    batchesSent: 0,
    lastError: undefined,
  };
  private readonly shards: Shard[] = Array.from({ length: SHARDS }, () => new Shard());
  private readonly maxPerShard: number;
  private readonly batch: number;
  private readonly deadlineMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly abort = new AbortController();
  private dispatcher: Agent | undefined;
  private stopped = false;

  constructor(
    readonly cfg: RemoteWriteConfig,
    private readonly log: Logger,
  ) {
    this.name = cfg.name ?? cfg.url.replace(/\/\/[^@/]*@/, '//');
    const q = cfg.queue_config;
    this.maxPerShard = Math.max(1, Math.ceil(q.max_pending_samples / SHARDS));
    this.batch = q.max_samples_per_send;
    this.deadlineMs = parseDuration(q.batch_send_deadline);
    this.minBackoffMs = parseDuration(q.min_backoff);
    this.maxBackoffMs = parseDuration(q.max_backoff);
    this.timeoutMs = parseDuration(cfg.remote_timeout);
  }

  /** Queues samples; a full shard drops its oldest samples (counted) to make room. */
  append(samples: readonly WriteSample[]): void {
    if (this.stopped) return;
    for (const s of samples) {
      const sh = this.shards[shardOf(s.labels)];
      sh.pending.push(s);
      this.stats.samplesIn++;
      if (sh.pending.length - sh.head > this.maxPerShard) {
        sh.head++;
        this.stats.samplesDropped++;
      }
    }
    for (const sh of this.shards) if (!sh.sending) compact(sh);
    for (const sh of this.shards) this.kick(sh);
  }

  get pending(): number {
    let n = 0;
    for (const sh of this.shards) n += sh.pending.length - sh.head;
    return n;
  }

  private kick(sh: Shard): void {
    if (sh.sending) return;
    const n = sh.pending.length - sh.head;
    if (n === 0) return;
    if (n >= this.batch) {
      void this.sendLoop(sh);
      return;
    }
    sh.timer ??= setTimeout(() => {
      sh.timer = undefined;
      void this.sendLoop(sh);
    }, this.deadlineMs);
  }

  /** Resolves when everything queued now has been sent or given up (tests, shutdown). */
  async flush(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (const sh of this.shards) if (!sh.sending) void this.sendLoop(sh);
    while (this.pending > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  private async sendLoop(sh: Shard): Promise<void> {
    if (sh.sending || this.stopped) return;
    sh.sending = true;
    if (sh.timer) clearTimeout(sh.timer);
    sh.timer = undefined;
    try {
      while (!this.stopped && sh.pending.length - sh.head > 0) {
        const start = sh.head;
        const batch = sh.pending.slice(start, start + this.batch);
        await this.sendWithRetry(batch);
        // The queue overflowed into the batch in flight: those samples were counted as dropped,
        // but the batch carried them (sent or failed, counted there).
        const overlap = Math.min(sh.head, start + batch.length) - start;
        if (overlap > 0) this.stats.samplesDropped -= overlap;
        sh.head = Math.max(sh.head, start + batch.length);
        compact(sh);
        if (sh.pending.length - sh.head < this.batch) break;
      }
    } finally {
      sh.sending = false;
    }
    if (!this.stopped && sh.pending.length - sh.head > 0) this.kick(sh);
  }

  private async sendWithRetry(batch: WriteSample[]): Promise<void> {
    const body = snappyCompress(encodeWriteRequest(batch));
    let backoff = this.minBackoffMs;
    for (;;) {
      if (this.stopped) return;
      let status = 0;
      let text: string;
      try {
        const res = await this.post(body);
        status = res.status;
        text = status >= 300 ? (await res.text()).slice(0, 512) : '';
        if (status < 300) await res.body?.cancel();
      } catch (e) {
        text = (e as Error).message;
      }
      if (status >= 200 && status < 300) {
        this.stats.samplesSent += batch.length;
        this.stats.batchesSent++;
        for (const s of batch) if (s.t > this.stats.highestSentTimestampMs) this.stats.highestSentTimestampMs = s.t;
        return;
      }
      const recoverable = status === 0 || status >= 500 || (status === 429 && this.cfg.queue_config.retry_on_http_429);
      this.stats.lastError = status === 0 ? `${text}` : `server returned HTTP status ${status}: ${text.trim()}`;
      if (!recoverable) {
        this.stats.samplesFailed += batch.length;
        this.log.warn({ remote: this.name, status, err: this.stats.lastError }, 'remote write: non-recoverable error, samples dropped');
        return;
      }
      this.stats.samplesRetried += batch.length;
      this.log.debug({ remote: this.name, status, err: this.stats.lastError }, 'remote write: retrying');
      await sleep(backoff, this.abort.signal);
      backoff = Math.min(backoff * 2, this.maxBackoffMs);
    }
  }

  private async post(body: Uint8Array): Promise<UndiciResponse> {
    const headers: Record<string, string> = {
      ...this.cfg.headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'User-Agent': `promfront/${VERSION}`,
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    };
    const read = async (_field: string, path: string) => (await readFile(path, 'utf8')).trim();
    const auth = await authorizationHeader(this.cfg, read);
    if (auth !== undefined) headers.Authorization = auth;
    if (this.cfg.tls_config !== undefined && this.dispatcher === undefined) {
      const material = await readTlsMaterial(this.cfg.tls_config, async (_f, p) => readFile(p, 'utf8'));
      this.dispatcher = new Agent({ connect: tlsConnectOptions(this.cfg.tls_config, material) });
    }
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]);
    return undiciFetch(this.cfg.url, { method: 'POST', body, headers, signal, ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}) });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const sh of this.shards) if (sh.timer) clearTimeout(sh.timer);
    await this.dispatcher?.close();
  }
}

/** Forgets what was sent or dropped once it is most of the array (amortised O(1) per sample). */
function compact(sh: Shard): void {
  if (sh.head > 1024 && sh.head * 2 > sh.pending.length) {
    sh.pending = sh.pending.slice(sh.head);
    sh.head = 0;
  }
}

function shardOf(labels: Labels): number {
  let h = 0;
  for (const l of labels) {
    for (let i = 0; i < l.value.length; i++) h = (Math.imul(h, 31) + l.value.charCodeAt(i)) | 0;
    h = (Math.imul(h, 31) + l.name.length) | 0;
  }
  return (h >>> 0) % SHARDS;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
