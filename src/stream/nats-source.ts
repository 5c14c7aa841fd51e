// The centre side of NATS federation: the `nats` entry of shard.sources. A durable pull consumer
// reads the edges' scrapes; each one is parsed and split by shard as it arrives, kept as its
// target's latest scrape, and only then acknowledged, so a crash before that gets it redelivered.
// The shard service reads every target's latest scrape at each cycle (src/shard/pushed-source.ts)
// and serves it with the target's job/instance/labels, its own up, scrape_duration_seconds and
// scrape_samples_scraped, all at the edge's scrape time.

import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NatsSourceConfig } from '../config/stream.js';
import { ExpositionError, ScrapeError } from '../errors.js';
import type { ShardSet } from '../shard/build.js';
import type { SourceData } from '../shard/ingest.js';
import type { PushedMetricFamily, PushedSource } from '../shard/pushed-source.js';
import { StreamingIngest } from '../shard/stream-ingest.js';
import { formatFromContentType } from '../shard/textparse/parse.js';
import { connectNats, natsError } from './connection.js';
import { decompress, readHeaders, type ScrapeHeaders } from './message.js';
import { servedSet, type ServedTarget } from './served-bodies.js';
import { ScrapeTemplate } from './scrape-template.js';
import { WakeableSleep } from '../util/wakeable-sleep.js';

interface TargetState {
  publisher: string;
  /** The labels header it came with, and what that made: the served labels and their key. */
  labelsText: string;
  labels: [string, string][];
  labelsKey: string;
  job: string;
  instance: string;
  scrapeTimeMs: number;
  appliedAt: number;
  up: boolean;
  error: string | undefined;
  samples: number;
  /** The scrape's own series (undefined when it failed). */
  data: SourceData | undefined;
  /** up, scrape_duration_seconds, scrape_samples_scraped. */
  meta: SourceData;
  /** meta and data as a published set takes them. */
  served: ServedTarget;
  /** To apply the next scrape when only its values changed (scrape-template.ts), with the labels it was made for. */
  template: { of: ScrapeTemplate; labels: string } | undefined;
  /** Scrapes in a row that did not fit the template made from the one before. */
  misses: number;
  /** The same for meta, whose three lines differ between scrapes only in their values. */
  metaTemplate: { of: ScrapeTemplate; labels: string } | undefined;
}

/** Why a message was not applied; the label of promfront_stream_messages_rejected_total. */
type RejectReason = 'bad_headers' | 'oversized' | 'bad_body' | 'internal_error';

const ACK_WAIT_MS = 30_000;
/** An unexpected failure is retried this often before the message is given up (terminated). */
const MAX_ATTEMPTS = 5;
const RETRY_MS = 2000;
/** Longest stretch of applying before other work (a shard cycle, a request) gets a turn. */
const SLICE_MS = 20;

/** Upper bounds of the served-lag buckets in /status, seconds. */
const LAG_BUCKETS = [0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300];

/** Per-target applied/skipped log lines, for tests and for following one target. */
export const APPLIED_LOG = 'scrape applied';

export class NatsSource implements PushedSource {
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private consuming = false;
  private readonly pause = new WakeableSleep();
  lastError: string | undefined;
  /** See PushedSource.version: moves with every applied scrape and every expired target. */
  version = 0;
  private readonly targets = new Map<string, TargetState>();
  private readonly counts = {
    received: 0,
    applied: 0,
    redelivered: 0,
    tooOld: 0,
    older: 0,
    duplicate: 0,
    expired: 0,
    invalidExposition: 0,
    templated: 0,
    rejected: new Map<RejectReason, number>(),
  };
  /** Per publisher: the latest lag (apply time minus edge scrape time), seconds. */
  private readonly lag = new Map<string, number>();
  /** Where published sets go (serveShards); undefined while the shard service builds them itself. */
  private publishTo: ((set: ShardSet) => void) | undefined;
  private gzipLevel = 1;
  private publishScheduled = false;
  /** Scrape times applied since the last publish: their lag is observed when they are published. */
  private unpublished: number[] = [];
  /** Edge scrape time to served, per applied scrape: cumulative bucket counts, then sum and count. */
  private readonly servedLag = { buckets: new Array<number>(LAG_BUCKETS.length).fill(0), sum: 0, count: 0 };
  private duplicatesDropped = 0;
  private readonly label: string;

  constructor(
    private readonly config: NatsSourceConfig,
    private readonly numShards: number,
    private readonly log: Logger,
  ) {
    this.label = `${config.nats.stream}/${config.nats.durable}`;
  }

  get up(): boolean {
    return this.consuming && this.nc !== undefined && !this.nc.isClosed();
  }

  start(): Promise<void> {
    this.loop = this.run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause.wake();
    this.messages?.stop();
    await this.loop;
    await this.nc?.close();
  }

  /** Connects, makes sure of the durable consumer, and consumes until stopped; any failure starts over. */
  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.nc) {
          const nc = await connectNats(this.config.nats);
          if (this.stopped) {
            await nc.close();
            return;
          }
          this.nc = nc;
          this.log.info({ server: nc.getServer() }, 'connected to NATS');
        }
        await this.ensureConsumer();
        const js = jetstream(this.nc);
        const consumer = await js.consumers.get(this.config.nats.stream, this.config.nats.durable);
        this.messages = await consumer.consume({ max_messages: 256 });
        this.consuming = true;
        this.lastError = undefined;
        // After stop() the messages already pulled are still handled (and acked) before the loop
        // ends: left unacked they would come back only after ack_wait, behind newer scrapes.
        let slice = performance.now();
        for await (const m of this.messages) {
          this.handle(m);
          // Messages already pulled come out of the iterator without a turn of the event loop:
          // without a pause now and then, shard cycles and HTTP requests would wait for the batch.
          if (performance.now() - slice > SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            slice = performance.now();
          }
        }
      } catch (err) {
        this.lastError = `NATS: ${natsError(err)}`;
        this.log.warn({ err: this.lastError }, 'consuming failed, starting over');
      }
      this.consuming = false;
      if (!this.stopped) await this.pause.sleep(RETRY_MS);
    }
  }

  /** Creates the durable pull consumer when missing; an existing one is used as it is. */
  private async ensureConsumer(): Promise<void> {
    const jsm = await jetstreamManager(this.nc!);
    const { stream, durable, subjects } = this.config.nats;
    try {
      await jsm.consumers.info(stream, durable);
      return;
    } catch (err) {
      if (!/consumer not found/i.test(natsError(err))) throw err;
    }
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: 1024,
      // One subject works on every JetStream; several need filter_subjects (nats-server 2.10+).
      ...(subjects.length === 1 ? { filter_subject: subjects[0] } : { filter_subjects: subjects }),
    });
    this.log.info({ stream, durable, subjects }, 'created the durable consumer');
  }

  private reject(m: JsMsg, reason: RejectReason, detail: string): void {
    this.counts.rejected.set(reason, (this.counts.rejected.get(reason) ?? 0) + 1);
    this.log.warn({ subject: m.subject, seq: m.seq, reason, detail }, 'message rejected');
    // Terminated: never redelivered, never blocks what comes after it. Without a reason text:
    // nats-server before 2.10 does not know "+TERM <reason>" and would leave the message pending.
    m.term();
  }

  private handle(m: JsMsg): void {
    this.counts.received++;
    if (m.redelivered) this.counts.redelivered++;
    try {
      this.apply(m);
    } catch (err) {
      if (m.info.deliveryCount >= MAX_ATTEMPTS) {
        this.reject(m, 'internal_error', natsError(err));
        return;
      }
      this.log.warn({ subject: m.subject, seq: m.seq, err: natsError(err) }, 'applying a message failed: it will be redelivered');
      m.nak(RETRY_MS);
    }
  }

  private apply(m: JsMsg): void {
    if (m.data.length > this.config.max_message_size) {
      this.reject(m, 'oversized', `${m.data.length} bytes is more than max_message_size of ${this.config.max_message_size}`);
      return;
    }
    let h: ScrapeHeaders;
    try {
      // One pass over the headers: the client's get() lists and filters every key for each name asked.
      const values = new Map<string, string>();
      if (m.headers) for (const [name, v] of m.headers) values.set(name, v[0] ?? '');
      h = readHeaders((name) => values.get(name) ?? '');
    } catch (err) {
      this.reject(m, 'bad_headers', natsError(err));
      return;
    }
    const now = Date.now();
    // The edge's scrape time against this process's clock: see docs/stream.md (clocks).
    if (now - h.scrapeTimeMs > this.config.max_age) {
      this.counts.tooOld++;
      m.ack();
      return;
    }
    const key = `${h.publisher}\u0000${h.job}\u0000${h.instance}`;
    const prev = this.targets.get(key);
    if (prev && prev.scrapeTimeMs >= h.scrapeTimeMs) {
      // A redelivery of what is applied already, or a late older scrape: the newer one stays.
      if (prev.scrapeTimeMs === h.scrapeTimeMs) this.counts.duplicate++;
      else this.counts.older++;
      this.log.debug({ publisher: h.publisher, job: h.job, instance: h.instance, scrape_time: h.scrapeTimeMs, served: prev.scrapeTimeMs }, 'scrape skipped');
      m.ack();
      return;
    }
    let body: Buffer | undefined;
    if (m.data.length > 0) {
      try {
        body = decompress(m.data, this.config.max_message_size);
      } catch (err) {
        const tooBig = err instanceof RangeError || /larger than|buffer/i.test(natsError(err));
        this.reject(
          m,
          tooBig ? 'oversized' : 'bad_body',
          tooBig ? `more than max_message_size of ${this.config.max_message_size} once decompressed` : natsError(err),
        );
        return;
      }
    }
    // A target's labels are mostly the same from one scrape to the next: made again only when its header changed.
    const sameLabels = prev !== undefined && prev.labelsText === h.labelsText;
    const labels = sameLabels ? prev.labels : servedLabels(h, this.config.labels);
    const labelsKey = sameLabels ? prev.labelsKey : JSON.stringify(labels);
    let up = h.success;
    let error = h.error;
    let data: SourceData | undefined;
    let samples = 0;
    let template = prev?.template;
    let misses = prev?.misses ?? 0;
    if (h.success) {
      try {
        const format = formatFromContentType(h.contentType);
        const templatable = format === 'text' && body !== undefined;
        if (templatable && template?.labels === labelsKey) {
          // From the body's bytes: the data keeps only the values, copied out of it.
          data = template.of.apply(body!, h.scrapeTimeMs);
          if (data) {
            this.counts.templated++;
            misses = 0;
          } else misses++;
        }
        if (!data) {
          const ingest = new StreamingIngest(format, this.numShards, labels, h.scrapeTimeMs);
          if (body) ingest.write(body);
          data = ingest.finish();
          // A target whose body changes shape every time would pay for a template it never uses:
          // after two misses in a row, one is made only every eighth scrape.
          template = undefined;
          if (templatable && (misses < 2 || this.counts.applied % 8 === 0)) {
            const of = ScrapeTemplate.make(body!.toString('latin1'), this.numShards, labels);
            template = of ? { of, labels: labelsKey } : undefined;
          }
        }
        samples = data.series + data.duplicates;
      } catch (err) {
        if (!(err instanceof ExpositionError || err instanceof ScrapeError)) throw err;
        // As Prometheus does with a body it cannot parse: the target is down, none of its series served.
        up = false;
        error = `invalid exposition: ${err.message}`;
        data = undefined;
        template = undefined;
        this.counts.invalidExposition++;
      }
    }
    const metaText = metaBody(h, up, samples);
    const metaBytes = Buffer.from(metaText, 'latin1');
    let metaTemplate = prev?.metaTemplate?.labels === labelsKey ? prev.metaTemplate : undefined;
    let meta = metaTemplate?.of.apply(metaBytes, h.scrapeTimeMs);
    if (!meta) {
      const ingest = new StreamingIngest('text', this.numShards, labels, h.scrapeTimeMs);
      ingest.write(metaBytes);
      meta = ingest.finish();
      const of = ScrapeTemplate.make(metaText, this.numShards, labels);
      metaTemplate = of ? { of, labels: labelsKey } : undefined;
    }
    this.targets.set(key, {
      publisher: h.publisher,
      labelsText: h.labelsText,
      labels,
      labelsKey,
      job: h.job,
      instance: h.instance,
      scrapeTimeMs: h.scrapeTimeMs,
      appliedAt: now,
      up,
      error,
      samples,
      data,
      meta,
      served: { group: prev?.served.group ?? JSON.stringify([h.job, h.instance]), data: data ? [meta, data] : [meta] },
      template,
      misses,
      metaTemplate,
    });
    this.counts.applied++;
    this.version++;
    this.unpublished.push(h.scrapeTimeMs);
    this.schedulePublish();
    this.lag.set(h.publisher, (Date.now() - h.scrapeTimeMs) / 1000);
    this.log.debug({ publisher: h.publisher, job: h.job, instance: h.instance, scrape_time: h.scrapeTimeMs, seq: m.seq, up }, APPLIED_LOG);
    m.ack();
  }

  collect(nowMs: number): SourceData[] {
    const out: SourceData[] = [];
    for (const [key, t] of this.targets) {
      if (nowMs - t.scrapeTimeMs > this.config.max_age) {
        // Silent longer than max_age: its series disappear rather than freeze.
        this.targets.delete(key);
        this.counts.expired++;
        this.version++;
        this.schedulePublish();
        this.log.info({ publisher: t.publisher, job: t.job, instance: t.instance }, 'target silent longer than max_age: its series are no longer served');
        continue;
      }
      out.push(t.meta);
      if (t.data) out.push(t.data);
    }
    return out;
  }

  serveShards(publish: (set: ShardSet) => void, opts: { gzipLevel: number }): void {
    this.publishTo = publish;
    this.gzipLevel = opts.gzipLevel;
    this.publish();
  }

  /**
   * Publishes once the messages at hand are applied: the consumer yields to the event loop between
   * batches and at least every SLICE_MS, so a burst becomes one publish, and a lone message is
   * served as soon as it is applied.
   */
  private schedulePublish(): void {
    if (this.publishScheduled || !this.publishTo) return;
    this.publishScheduled = true;
    setImmediate(() => {
      this.publishScheduled = false;
      this.publish();
    });
  }

  private publish(): void {
    if (!this.publishTo) return;
    const served: ServedTarget[] = [];
    for (const t of this.targets.values()) served.push(t.served);
    this.publishTo(servedSet(served, this.numShards, this.gzipLevel, (n) => (this.duplicatesDropped += n)));
    const now = Date.now();
    const lag = this.servedLag;
    for (const scrapeTimeMs of this.unpublished) {
      const secs = (now - scrapeTimeMs) / 1000;
      for (let i = 0; i < LAG_BUCKETS.length; i++) if (secs <= LAG_BUCKETS[i]) lag.buckets[i]++;
      lag.sum += secs;
      lag.count++;
    }
    this.unpublished = [];
  }

  metrics(): PushedMetricFamily[] {
    const s = { source: this.label };
    const out: PushedMetricFamily[] = [];
    const e = {
      family(name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): void {
        out.push({ name, type, help, samples });
      },
    };
    e.family('promfront_stream_messages_received_total', 'counter', 'Messages delivered by the consumer, redeliveries included.', [[s, this.counts.received]]);
    e.family('promfront_stream_messages_applied_total', 'counter', "Scrapes applied as their target's latest.", [[s, this.counts.applied]]);
    e.family('promfront_stream_messages_redelivered_total', 'counter', 'Messages JetStream delivered again.', [[s, this.counts.redelivered]]);
    e.family('promfront_stream_messages_too_old_total', 'counter', 'Scrapes skipped because they were older than max_age on arrival.', [
      [s, this.counts.tooOld],
    ]);
    e.family('promfront_stream_messages_skipped_total', 'counter', 'Scrapes skipped because their target already had the same or a newer one.', [
      [{ ...s, reason: 'duplicate' }, this.counts.duplicate],
      [{ ...s, reason: 'older' }, this.counts.older],
    ]);
    e.family(
      'promfront_stream_messages_rejected_total',
      'counter',
      'Messages terminated without being applied, by reason.',
      (['bad_headers', 'oversized', 'bad_body', 'internal_error'] as const).map((r) => [{ ...s, reason: r }, this.counts.rejected.get(r) ?? 0]),
    );
    e.family('promfront_stream_invalid_expositions_total', 'counter', 'Scrapes whose body did not parse (served as up 0).', [
      [s, this.counts.invalidExposition],
    ]);
    e.family(
      'promfront_stream_messages_templated_total',
      'counter',
      'Scrapes applied from the template of the previous one (only values changed), without a full parse.',
      [[s, this.counts.templated]],
    );
    e.family('promfront_stream_targets_expired_total', 'counter', 'Targets no longer served because nothing arrived for max_age.', [[s, this.counts.expired]]);
    e.family('promfront_stream_targets', 'gauge', 'Targets served from the stream.', [[s, this.targets.size]]);
    e.family(
      'promfront_stream_publisher_lag_seconds',
      'gauge',
      "Time from the edge's scrape to its apply here, latest per publisher (includes the clocks' offset).",
      [...this.lag].map(([publisher, v]) => [{ ...s, publisher }, v]),
    );
    e.family('promfront_stream_consuming', 'gauge', 'Whether the consumer is connected and consuming.', [[s, this.up ? 1 : 0]]);
    e.family(
      'promfront_stream_duplicate_series_dropped_total',
      'counter',
      'Series left out of a served set because an earlier target with the same job and instance had them (counted once per set served).',
      [[s, this.duplicatesDropped]],
    );
    return out;
  }

  status(): unknown {
    const now = Date.now();
    return {
      stream: this.config.nats.stream,
      durable: this.config.nats.durable,
      consuming: this.up,
      error: this.lastError ?? null,
      received: this.counts.received,
      applied: this.counts.applied,
      redelivered: this.counts.redelivered,
      too_old: this.counts.tooOld,
      skipped_duplicate: this.counts.duplicate,
      skipped_older: this.counts.older,
      rejected: Object.fromEntries(this.counts.rejected),
      invalid_expositions: this.counts.invalidExposition,
      applied_from_template: this.counts.templated,
      targets_expired: this.counts.expired,
      publisher_lag_secs: Object.fromEntries(this.lag),
      duplicates_dropped: this.duplicatesDropped,
      // Cumulative counts of applied scrapes by how long after the edge's scrape they were first
      // served (a set holding them published): the clocks' offset is included.
      served_lag_secs: {
        count: this.servedLag.count,
        sum: this.servedLag.sum,
        buckets: LAG_BUCKETS.map((le, i) => ({ le, count: this.servedLag.buckets[i] })),
      },
      targets: [...this.targets.values()].map((t) => ({
        publisher: t.publisher,
        job: t.job,
        instance: t.instance,
        up: t.up,
        error: t.error ?? null,
        samples: t.samples,
        age_secs: (now - t.scrapeTimeMs) / 1000,
      })),
    };
  }
}

/** job, instance, the target's labels and the source's labels, sorted by name; later ones win. */
function servedLabels(h: ScrapeHeaders, sourceLabels: Record<string, string>): [string, string][] {
  const all = new Map<string, string>(Object.entries(h.labels));
  for (const [k, v] of Object.entries(sourceLabels)) all.set(k, v);
  all.set('job', h.job);
  all.set('instance', h.instance);
  // The shard core carries strings as latin1, one char per UTF-8 byte (src/shard/ingest.ts).
  return [...all]
    .filter(([k]) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) && !k.startsWith('__'))
    .map(([k, v]): [string, string] => [k, Buffer.from(v, 'utf8').toString('latin1')])
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/** The series Prometheus adds for every scrape, with the values the edge measured, as text 0.0.4. */
function metaBody(h: ScrapeHeaders, up: boolean, samples: number): string {
  return (
    `# TYPE up gauge\nup ${up ? 1 : 0}\n` +
    `# TYPE scrape_duration_seconds gauge\nscrape_duration_seconds ${h.durationSecs}\n` +
    `# TYPE scrape_samples_scraped gauge\nscrape_samples_scraped ${samples}\n`
  );
}
