// Remote write 1.0 of the samples rules produce (recorded series, ALERTS, ALERTS_FOR_STATE), one
// queue per remote_write endpoint. promfront has no TSDB, so this queue is the only copy of a
// recorded sample until the receiver has it: it batches, retries what the receiver may accept
// later (5xx, 429, network errors) with Prometheus's backoff, never retries what it refused (4xx),
// and holds at most max_pending_samples, dropping the oldest first and counting them. Several
// shards send at once (between queue_config's min_shards and max_shards, following the backlog), yet
// samples of a series go out in order: a series is pinned to one shard, a shard sends one batch at a
// time, and after a reshard the new shards wait until the old ones have drained.

import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from 'undici';
import type { Logger } from 'pino';
import { ProtoWriter, WIRE_FIXED64, WIRE_LEN } from '../remote/protobuf.js';
import { STALE_NAN_HI, STALE_NAN_LO } from '../remote/prompb.js';
import { SnappyCompressor } from '../remote/snappy.js';
import type { Label, Labels } from '../model/labels.js';
import { authorizationHeader, readTlsMaterial, tlsConnectOptions } from '../client/auth-tls.js';
import { parseDuration } from '../util/duration.js';
import type { RemoteWriteConfig } from '../config/rules.js';
import { VERSION } from '../version.js';
import { readFile } from 'node:fs/promises';
import { subscribeAbort } from '../util/abort.js';

export interface WriteSample {
  labels: Labels;
  t: number;
  v: number;
  /** Written as Prometheus's staleness marker (StaleNaN). */
  stale?: boolean;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * A prompb.WriteRequest holding `samples` in order: one TimeSeries per run of consecutive samples
 * sharing the same Labels object (no label key is built: a sample's labels are written as they
 * are, and the receiver groups series itself, as it does for Prometheus's one-sample TimeSeries).
 */
export function encodeWriteRequest(samples: readonly WriteSample[], w = new ProtoWriter(64 * 1024)): Uint8Array {
  w.reset();
  let i = 0;
  while (i < samples.length) {
    const labels = samples[i].labels;
    w.tag(1, WIRE_LEN);
    const ts = w.beginMessage();
    for (const l of labels) writeLabel(w, l);
    do writeSample(w, samples[i++]);
    while (i < samples.length && samples[i].labels === labels);
    w.endMessage(ts);
  }
  return w.finish();
}

function writeSample(w: ProtoWriter, s: WriteSample): void {
  let lo: number, hi: number;
  if (s.stale) {
    lo = STALE_NAN_LO;
    hi = STALE_NAN_HI;
  } else {
    f64[0] = s.v;
    lo = u32[0];
    hi = u32[1];
  }
  w.tag(2, WIRE_LEN);
  const m = w.beginMessage();
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

function writeLabel(w: ProtoWriter, l: Label): void {
  const n = l.name.length;
  const v = l.value.length;
  // Fast path: short ASCII name and value, whose lengths are their byte counts, written in place.
  if (n + v < 120) {
    w.ensure(n + v + 6);
    const b = w.buf;
    const p0 = w.pos;
    b[p0] = 0x0a; // Label, length-delimited
    b[p0 + 1] = n + v + 4;
    b[p0 + 2] = 0x0a; // name
    b[p0 + 3] = n;
    let p = p0 + 4;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = l.name.charCodeAt(i);
      if (c >= 0x80) ascii = false;
      b[p++] = c;
    }
    b[p++] = 0x12; // value
    b[p++] = v;
    for (let i = 0; i < v; i++) {
      const c = l.value.charCodeAt(i);
      if (c >= 0x80) ascii = false;
      b[p++] = c;
    }
    if (ascii) {
      w.pos = p;
      return;
    }
  }
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

/** Prometheus's shardToleranceFraction: the shard count changes only when off by more than this. */
const SHARD_TOLERANCE = 0.3;
/** Fewer shards are taken at most this often (Prometheus recomputes its shards every 10 s). */
const SHRINK_EVERY_MS = 10_000;

class Shard {
  pending: WriteSample[] = [];
  head = 0;
  sending = false;
  timer: NodeJS.Timeout | undefined;
  /** Reused for every batch of this shard: one batch is in flight at a time, so one body suffices. */
  writer: ProtoWriter | undefined;
  snappy: SnappyCompressor | undefined;

  get size(): number {
    return this.pending.length - this.head;
  }
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
  /** The shards new samples go to; they send only once `draining` is empty (order per series). */
  private shards: Shard[];
  /** The previous shards after a reshard, with a batch still in flight: the new ones wait for them. */
  private draining: Shard[] = [];
  /**
   * Samples not handed to a shard yet, in arrival order: a shard buffers at most `capacity`, and
   * when the next sample's shard is full the rest wait here (where Prometheus stops reading its WAL).
   */
  private backlog: WriteSample[] = [];
  private backlogHead = 0;
  private lastReshardMs = Date.now();
  private total = 0;
  private readonly maxPending: number;
  private readonly capacity: number;
  private readonly minShards: number;
  private readonly maxShards: number;
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
    this.maxPending = q.max_pending_samples;
    this.capacity = q.capacity;
    this.minShards = Math.min(q.min_shards, q.max_shards);
    this.maxShards = q.max_shards;
    this.batch = q.max_samples_per_send;
    this.deadlineMs = parseDuration(q.batch_send_deadline);
    this.minBackoffMs = parseDuration(q.min_backoff);
    this.maxBackoffMs = parseDuration(q.max_backoff);
    this.timeoutMs = parseDuration(cfg.remote_timeout);
    this.shards = Array.from({ length: this.minShards }, () => new Shard());
  }

  /** Shards currently taking samples (Prometheus's prometheus_remote_storage_shards). */
  get shardCount(): number {
    return this.shards.length;
  }

  /** Samples waiting for room in their shard (not counting those buffered in shards). */
  get backlogSize(): number {
    return this.backlog.length - this.backlogHead;
  }

  /** Queues samples; beyond max_pending_samples the oldest still waiting are dropped (counted) to make room. */
  append(samples: readonly WriteSample[]): void {
    if (this.stopped || samples.length === 0) return;
    this.reshardFor(this.total + samples.length);
    for (const s of samples) {
      this.stats.samplesIn++;
      this.total++;
      const sh = this.backlogSize === 0 && this.draining.length === 0 ? this.shardFor(s) : undefined;
      // Over the bound with nothing in the backlog, the shard's oldest makes room (dropOldest).
      if (sh !== undefined && (sh.size < this.capacity || this.total > this.maxPending)) sh.pending.push(s);
      else this.backlog.push(s);
      if (this.total > this.maxPending) this.dropOldest(sh);
    }
    this.feed();
  }

  get pending(): number {
    return this.total;
  }

  private shardFor(s: WriteSample): Shard {
    const n = this.shards.length;
    return this.shards[n === 1 ? 0 : seriesHash(s.labels) % n];
  }

  /**
   * Hands waiting samples to their shards in arrival order while the next one's shard has room
   * (Prometheus's WAL reader blocks on a full shard the same way), then starts what can send.
   * Nothing is handed out while the shards of before a reshard still have a batch in flight.
   */
  private feed(): void {
    if (this.draining.length === 0) {
      const b = this.backlog;
      let i = this.backlogHead;
      for (; i < b.length; i++) {
        const sh = this.shardFor(b[i]);
        if (sh.size >= this.capacity) break;
        sh.pending.push(b[i]);
      }
      this.backlogHead = i;
      if (i === b.length) {
        this.backlog = [];
        this.backlogHead = 0;
      } else if (i > 1024 && i * 2 > b.length) {
        this.backlog = b.slice(i);
        this.backlogHead = 0;
      }
    }
    for (const sh of this.shards) if (!sh.sending) compact(sh);
    for (const sh of this.draining) this.kick(sh);
    for (const sh of this.shards) this.kick(sh);
  }

  /**
   * Prometheus scales its shards to keep up with the incoming rate; ours follow the backlog: as
   * many shards as there are full batches waiting, between min_shards and max_shards. The old
   * shards send what they buffer first (at most `capacity` each, the rest is in the backlog) and
   * the new ones start after them, so samples of a series still leave in order.
   */
  private reshardFor(backlog: number): void {
    if (this.draining.length > 0) return;
    const n = this.shards.length;
    const want = Math.max(this.minShards, Math.min(this.maxShards, Math.ceil(backlog / this.batch)));
    const grow = want > n * (1 + SHARD_TOLERANCE) || (n === 1 && want > 1);
    const shrink = want < n * (1 - SHARD_TOLERANCE) && Date.now() - this.lastReshardMs >= SHRINK_EVERY_MS;
    if (!grow && !shrink) return;
    this.lastReshardMs = Date.now();
    this.draining = this.shards.filter((sh) => sh.size > 0 || sh.sending);
    for (const sh of this.shards) {
      if (sh.sending || !sh.timer) continue;
      clearTimeout(sh.timer);
      sh.timer = undefined;
    }
    this.shards = Array.from({ length: want }, () => new Shard());
  }

  /**
   * Makes room for one sample: the oldest sample waiting in the backlog goes; with none waiting
   * there, the oldest in `into`, the shard the new sample went to. A batch in flight is never
   * dropped: it is counted once it is sent or fails.
   */
  private dropOldest(into: Shard | undefined): void {
    if (this.backlogSize > 0) this.backlogHead++;
    else if (into !== undefined && into.size > 0) into.head++;
    else return;
    this.total--;
    this.stats.samplesDropped++;
  }

  private kick(sh: Shard): void {
    if (sh.sending) return;
    const draining = this.draining.includes(sh);
    if (!draining && this.draining.length > 0) return;
    const n = sh.size;
    if (n === 0) return;
    if (n >= this.batch || draining) {
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
    for (const sh of [...this.draining, ...this.shards]) if (!sh.sending) void this.sendLoop(sh);
    while (this.total > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  private async sendLoop(sh: Shard): Promise<void> {
    if (sh.sending || this.stopped) return;
    if (!this.draining.includes(sh) && this.draining.length > 0) return;
    sh.sending = true;
    if (sh.timer) clearTimeout(sh.timer);
    sh.timer = undefined;
    try {
      while (!this.stopped && sh.size > 0) {
        const start = sh.head;
        const batch = sh.pending.slice(start, start + this.batch);
        // The batch leaves the queue as it goes out: an overflow while it is retried drops the
        // oldest samples still waiting, never the ones in flight, so every sample is counted once,
        // as sent, failed or dropped, and no counter goes down. It stays in `total` (pending, as
        // Prometheus counts its in-flight samples) until it is counted.
        sh.head = start + batch.length;
        // The shard's buffer has room again while its batch is out (capacity counts what waits).
        if (this.backlogSize > 0) this.feed();
        await this.sendWithRetry(sh, batch);
        this.total -= batch.length;
        compact(sh);
        // Room was made in the shard: hand it what waits for it.
        if (this.backlogSize > 0) this.feed();
        // A draining shard empties itself; a current one leaves a partial batch to the deadline.
        if (!this.draining.includes(sh) && sh.size < this.batch) break;
      }
    } finally {
      sh.sending = false;
    }
    if (this.stopped) return;
    // Read again: a reshard during the send may have made this shard a draining one.
    if (this.draining.includes(sh)) {
      if (sh.size > 0) return this.kick(sh);
      this.draining = this.draining.filter((d) => d !== sh);
      if (this.draining.length === 0) this.feed();
      return;
    }
    if (sh.size > 0) this.kick(sh);
  }

  private async sendWithRetry(sh: Shard, batch: WriteSample[]): Promise<void> {
    sh.writer ??= new ProtoWriter(64 * 1024);
    sh.snappy ??= new SnappyCompressor();
    const body = sh.snappy.compress(encodeWriteRequest(batch, sh.writer));
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
    for (const sh of [...this.draining, ...this.shards]) if (sh.timer) clearTimeout(sh.timer);
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

/** The hash that pins a series to a shard (modulo the shard count). */
function seriesHash(labels: Labels): number {
  let h = 0;
  for (const l of labels) {
    for (let i = 0; i < l.value.length; i++) h = (Math.imul(h, 31) + l.value.charCodeAt(i)) | 0;
    h = (Math.imul(h, 31) + l.name.length) | 0;
  }
  return h >>> 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // One listener per retrying shard at a time, removed when the sleep ends.
    const unsubscribe = subscribeAbort(signal, () => {
      clearTimeout(t);
      resolve();
    });
    const t = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
  });
}
