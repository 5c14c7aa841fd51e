// The edge side of NATS federation (the `publish:` section): scrapes local targets on an interval
// and publishes every scrape, failed ones too, to JetStream, where HTTP from the centre cannot
// reach. Scrapes wait in a bounded backlog until JetStream has acknowledged them, so a NATS outage
// costs only what the backlog cannot hold (oldest dropped first, counted).

import { hostname } from 'node:os';
import { headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Capability } from '../capability.js';
import type { Config } from '../config/schema.js';
import { sourceSchema } from '../config/schema.js';
import type { PublishConfig, PublishJobConfig } from '../config/stream.js';
import { createSourceClient, type SourceClient } from '../shard/source-client.js';
import { ScrapeError } from '../errors.js';
import { connectNats, natsError } from './connection.js';
import { compress, HEADER, headerValue, scrapeSubject } from './message.js';
import { MetricsText } from './text-metrics.js';
import { WakeableSleep } from '../util/wakeable-sleep.js';
import { FileDiscovery } from '../query/discovery/file-sd.js';
import { TargetSet } from '../query/discovery/target-set.js';
import { targetKey, type DiscoveredTarget, type DiscoveryLog } from '../query/discovery/target.js';

interface Target {
  /** The job and its discovered target (instance and labels): a target found again keeps its counters and client. */
  key: string;
  job: string;
  instance: string;
  labels: Record<string, string>;
  client: SourceClient;
  lastResult: 'success' | 'failure' | undefined;
  lastError: string | undefined;
  scrapes: number;
  failures: number;
  /** Its next scrape, while scheduled. */
  timer: NodeJS.Timeout | undefined;
}

interface Pending {
  subject: string;
  msgId: string;
  headers: [string, string][];
  data: Buffer;
  job: string;
  /**
   * Dropped from the backlog while its publish was in flight: counted when that publish ends,
   * as published if JetStream took it, else as dropped. Counted at the drop, a scrape that then
   * reached the stream was counted twice (seen in the e2e accounting check after NATS came back).
   */
  droppedInFlight?: boolean;
}

const PUBLISH_TIMEOUT_MS = 3000;
const RETRY_MS = 500;

export class Publisher implements Capability {
  readonly name = 'publish';
  private config: PublishConfig;
  private readonly publisher: string;
  private targets: Target[] = [];
  /** Per job: its static targets and what its file_sd_configs find now. */
  private sets: { job: PublishJobConfig; set: TargetSet }[] = [];
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private streamReady = false;
  private stopped = false;
  /** Scrapes in progress (stop() waits for them). */
  private readonly inFlight = new Set<Promise<void>>();
  private pump: Promise<void> | undefined;
  private readonly pause = new WakeableSleep();
  private readonly limit = pLimit(16);
  private readonly backlog: Pending[] = [];
  private backlogBytes = 0;
  /** The backlog entry whose publish is awaiting JetStream (runPump), if any. */
  private publishing: Pending | undefined;
  private lastError: string | undefined;
  private readonly counts = {
    scrapes: new Map<string, number>(),
    published: 0,
    publishedBytes: 0,
    rawBytes: 0,
    publishErrors: 0,
    duplicates: 0,
    droppedMessages: 0,
    droppedBytes: 0,
  };
  /** Discovered targets left out now because their job has a target with the same instance. */
  private sameInstance = 0;
  private connecting = false;
  /** Set once started: targets found from then on are scheduled as they come. */
  private scheduling = false;

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    this.config = config.publish!;
    this.publisher = this.config.publisher ?? hostname().replace(/[^A-Za-z0-9_-]/g, '_');
    this.sets = this.buildSets(this.config);
    this.syncTargets();
  }

  private buildSets(cfg: PublishConfig): { job: PublishJobConfig; set: TargetSet }[] {
    const base = this.log;
    const log: DiscoveryLog = {
      info: (obj, msg) => base.info(obj, msg),
      warn: (obj, msg) => base.warn(obj, msg),
      error: (obj, msg) => base.error(obj, msg),
    };
    return cfg.jobs.map((job, i) => {
      const statics: DiscoveredTarget[] = job.static_configs.flatMap((sc) => sc.targets.map((address) => ({ address, labels: sc.labels })));
      const discoverers = job.file_sd_configs.map(
        (c, j) =>
          // Paths as written (relative to the working directory), as for server groups and push.
          new FileDiscovery({ name: `publish.jobs[${i}].file_sd_configs[${j}]`, files: c.files, refreshIntervalMs: c.refresh_interval, log }),
      );
      return { job, set: new TargetSet(`publish job ${job.job_name}`, statics, discoverers, log) };
    });
  }

  /**
   * The targets to scrape from now on, from every job's current set: a target found again keeps its
   * client and counters, a new one gets its own, a vanished one's client is closed. One target per
   * instance and job: two would share a subject and a Nats-Msg-Id (the first one found is kept).
   */
  private syncTargets(): void {
    const had = new Map(this.targets.map((t) => [t.key, t]));
    const next: Target[] = [];
    let skipped = 0;
    for (const { job, set } of this.sets) {
      const instances = new Set<string>();
      for (const d of set.targets()) {
        if (instances.has(d.address)) {
          skipped++;
          this.log.warn({ job: job.job_name, instance: d.address }, 'a second target with the same instance in one job is not scraped');
          continue;
        }
        instances.add(d.address);
        const key = `${job.job_name}\u0000${targetKey(d)}`;
        const old = had.get(key);
        if (old) {
          had.delete(key);
          next.push(old);
          continue;
        }
        next.push({
          key,
          job: job.job_name,
          instance: d.address,
          labels: d.labels,
          client: createSourceClient(sourceFor(job, d.address), {
            timeoutMs: job.scrape_timeout ?? this.config.scrape_interval,
            maxBodySize: job.max_body_size,
          }),
          lastResult: undefined,
          lastError: undefined,
          scrapes: 0,
          failures: 0,
          timer: undefined,
        });
      }
    }
    this.targets = next;
    this.sameInstance = skipped;
    // A scrape of a removed target still running finishes with its client closed: counted as a failed scrape.
    for (const t of had.values()) {
      clearTimeout(t.timer);
      t.timer = undefined;
      void t.client.close();
    }
    if (this.scheduling) for (const t of next) if (t.timer === undefined) this.schedule(t);
  }

  private async startSets(): Promise<void> {
    const sets = this.sets;
    for (const { set } of sets) set.onChange(() => this.sets === sets && this.syncTargets());
    await Promise.all(sets.map(({ set }) => set.start()));
    if (this.sets === sets) this.syncTargets();
  }

  async start(): Promise<void> {
    await this.startSets();
    this.scheduling = true;
    for (const t of this.targets) this.schedule(t);
    this.pump = this.runPump();
  }

  async reload(next: Config): Promise<void> {
    const old = this.targets;
    for (const { set } of this.sets) set.stop();
    for (const t of old) clearTimeout(t.timer);
    this.config = next.publish!;
    // Every client anew: the job's auth, TLS or limits may have changed.
    this.targets = [];
    this.sets = this.buildSets(this.config);
    this.syncTargets();
    await Promise.all(old.map((t) => t.client.close()));
    await this.startSets();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { set } of this.sets) set.stop();
    for (const t of this.targets) clearTimeout(t.timer);
    this.pause.wake();
    await Promise.all(this.inFlight);
    // A first connect to an unreachable NATS waits for it indefinitely; a connection made after
    // the stop is closed by connect() itself.
    if (!this.connecting) await this.pump;
    await Promise.all(this.targets.map((t) => t.client.close()));
    await this.nc?.close();
  }

  /**
   * Scrapes the target every scrape_interval at its own offset within the interval, as Prometheus
   * spreads its targets: all targets scraped at one instant would reach NATS and the centre as one
   * burst, and a scrape at the end of the burst would wait for all the others to be applied.
   */
  private schedule(t: Target, after = Date.now()): void {
    const interval = this.config.scrape_interval;
    const offset = spreadOffset(t.key, interval);
    const next = after + ((((offset - (after % interval)) % interval) + interval) % interval);
    t.timer = setTimeout(() => this.tick(t), Math.max(0, next - Date.now()));
  }

  private tick(t: Target): void {
    if (this.stopped || !this.targets.includes(t)) return;
    const started = Date.now();
    const run = this.limit(() => this.scrapeAndQueue(t))
      .catch((err: unknown) => this.log.error({ err: natsError(err), job: t.job, instance: t.instance }, 'scrape failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(run);
        // The next slot at least half an interval on (a timer firing a little early must not scrape
        // twice); a scrape longer than the interval skips the slots it overran, as Prometheus does.
        if (!this.stopped && this.targets.includes(t)) this.schedule(t, Math.max(Date.now(), started + this.config.scrape_interval / 2));
      });
    this.inFlight.add(run);
  }

  private async scrapeAndQueue(t: Target): Promise<void> {
    const scrapeTime = Date.now();
    const started = performance.now();
    let body: Buffer = Buffer.alloc(0);
    let contentType: string | undefined;
    let error: string | undefined;
    try {
      const res = await t.client.scrape();
      body = res.body;
      contentType = res.contentType;
    } catch (err) {
      error = err instanceof ScrapeError ? err.message : `internal error: ${natsError(err)}`;
    }
    const duration = (performance.now() - started) / 1000;
    t.scrapes++;
    t.lastResult = error === undefined ? 'success' : 'failure';
    t.lastError = error;
    if (error !== undefined) t.failures++;
    const key = `${t.job}\u0000${t.lastResult}`;
    this.counts.scrapes.set(key, (this.counts.scrapes.get(key) ?? 0) + 1);
    if (this.stopped) return;
    const data = body.length > 0 ? await compress(body, this.config.gzip_level) : body;
    this.counts.rawBytes += body.length;
    const headers: [string, string][] = [
      [HEADER.publisher, this.publisher],
      [HEADER.job, headerValue(t.job)],
      [HEADER.instance, headerValue(t.instance)],
      [HEADER.scrapeTime, String(scrapeTime)],
      [HEADER.duration, String(duration)],
      [HEADER.result, t.lastResult],
    ];
    if (Object.keys(t.labels).length > 0) headers.push([HEADER.labels, JSON.stringify(t.labels)]);
    if (contentType !== undefined) headers.push([HEADER.contentType, headerValue(contentType)]);
    if (data.length > 0) headers.push([HEADER.contentEncoding, 'gzip']);
    if (error !== undefined) headers.push([HEADER.error, headerValue(error)]);
    this.enqueue({
      subject: scrapeSubject(this.config.nats.subject_prefix, this.publisher, t.job, t.instance),
      msgId: `${this.publisher}/${t.job}/${t.instance}/${scrapeTime}`,
      headers,
      data,
      job: t.job,
    });
  }

  /** Adds a scrape to the backlog, dropping the oldest while either limit is exceeded. */
  private enqueue(p: Pending): void {
    const publishing = this.publishing;
    this.backlog.push(p);
    this.backlogBytes += p.data.length;
    let dropped = 0;
    // The newest scrape is what the centre serves, so it is the one kept.
    while (this.backlog.length > 1 && (this.backlog.length > this.config.backlog_max_messages || this.backlogBytes > this.config.backlog_max_bytes)) {
      const old = this.backlog.shift()!;
      this.backlogBytes -= old.data.length;
      dropped++;
      if (old === publishing) old.droppedInFlight = true;
      else this.countDropped(old);
    }
    if (dropped > 0) this.log.warn({ dropped, backlog: this.backlog.length }, 'publish backlog full: oldest scrapes dropped');
    this.pause.wake();
  }

  private countDropped(p: Pending): void {
    this.counts.droppedMessages++;
    this.counts.droppedBytes += p.data.length;
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    const nc = await connectNats(this.config.nats).finally(() => (this.connecting = false));
    if (this.stopped) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.log.info({ server: nc.getServer() }, 'connected to NATS');
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.log.warn('disconnected from NATS: scrapes are kept in the backlog');
        else if (s.type === 'reconnect') {
          this.log.info('reconnected to NATS: draining the backlog');
          this.pause.wake();
        }
      }
    })();
    this.js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
  }

  /** Creates the stream when it does not exist; checks an existing one covers our subjects. */
  private async ensureStream(): Promise<void> {
    const jsm = await jetstreamManager(this.nc!, { timeout: PUBLISH_TIMEOUT_MS });
    const name = this.config.nats.stream;
    const subject = `${this.config.nats.subject_prefix}.>`;
    try {
      const info = await jsm.streams.info(name);
      if (!info.config.subjects?.some((s) => s === subject || s === '>' || (s.endsWith('.>') && subject.startsWith(s.slice(0, -1))))) {
        this.lastError = `stream ${name} exists without subject ${subject}: publishes will fail`;
        this.log.error(this.lastError);
      }
    } catch (err) {
      if (!/stream not found/i.test(natsError(err))) throw err;
      await jsm.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: nanos(this.config.stream_max_age),
        max_bytes: this.config.stream_max_bytes,
        duplicate_window: nanos(Math.min(this.config.duplicate_window, this.config.stream_max_age)),
      });
      this.log.info({ stream: name, subject }, 'created the JetStream stream');
    }
    this.streamReady = true;
  }

  /** Publishes the backlog in order, one at a time, retrying the head until JetStream takes it. */
  private async runPump(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.nc) await this.connect();
        if (!this.streamReady && this.nc) await this.ensureStream();
      } catch (err) {
        this.lastError = `NATS: ${natsError(err)}`;
        this.log.warn({ err: this.lastError }, 'cannot set up publishing yet');
        await this.pause.sleep(RETRY_MS * 4);
        continue;
      }
      const head = this.backlog[0];
      if (!head || !this.js) {
        await this.pause.sleep(1000);
        continue;
      }
      this.publishing = head;
      try {
        const h = natsHeaders();
        for (const [k, v] of head.headers) h.set(k, v);
        const ack = await this.js.publish(head.subject, head.data, { msgID: head.msgId, headers: h, timeout: PUBLISH_TIMEOUT_MS }).finally(() => {
          this.publishing = undefined;
        });
        if (ack.duplicate) this.counts.duplicates++;
        this.log.debug({ msg_id: head.msgId, seq: ack.seq, duplicate: ack.duplicate }, 'scrape published');
        this.counts.published++;
        this.counts.publishedBytes += head.data.length;
        this.lastError = undefined;
        // The head may have been dropped by enqueue() meanwhile: remove this very entry.
        const at = this.backlog.indexOf(head);
        if (at >= 0) {
          this.backlog.splice(at, 1);
          this.backlogBytes -= head.data.length;
        }
      } catch (err) {
        if (head.droppedInFlight === true) this.countDropped(head);
        this.counts.publishErrors++;
        this.lastError = `publish: ${natsError(err)}`;
        this.log.debug({ err: this.lastError }, 'publish failed, retrying');
        await this.pause.sleep(RETRY_MS);
      }
    }
  }

  metrics(): string {
    const e = new MetricsText();
    e.family(
      'promfront_publish_scrapes_total',
      'counter',
      'Scrapes made by the publisher, by job and result.',
      [...this.counts.scrapes].map(([k, v]) => {
        const [job, result] = k.split('\u0000');
        return [{ job, result }, v];
      }),
    );
    e.family('promfront_publish_messages_published_total', 'counter', 'Scrapes JetStream acknowledged.', [[{}, this.counts.published]]);
    e.family('promfront_publish_published_bytes_total', 'counter', 'Compressed body bytes JetStream acknowledged.', [[{}, this.counts.publishedBytes]]);
    e.family('promfront_publish_scraped_bytes_total', 'counter', 'Uncompressed exposition bytes scraped.', [[{}, this.counts.rawBytes]]);
    e.family('promfront_publish_duplicates_total', 'counter', 'Publishes JetStream recognised as retries of a stored message.', [[{}, this.counts.duplicates]]);
    e.family('promfront_publish_errors_total', 'counter', 'Publish attempts that failed (retried while in the backlog).', [[{}, this.counts.publishErrors]]);
    e.family('promfront_publish_backlog_messages', 'gauge', 'Scrapes waiting for JetStream.', [[{}, this.backlog.length]]);
    e.family('promfront_publish_backlog_bytes', 'gauge', 'Compressed bytes waiting for JetStream.', [[{}, this.backlogBytes]]);
    e.family('promfront_publish_backlog_dropped_total', 'counter', 'Scrapes dropped, oldest first, because the backlog was full.', [
      [{}, this.counts.droppedMessages],
    ]);
    e.family('promfront_publish_backlog_dropped_bytes_total', 'counter', 'Compressed bytes of the scrapes dropped from a full backlog.', [
      [{}, this.counts.droppedBytes],
    ]);
    e.family(
      'promfront_publish_discovery_errors_total',
      'counter',
      'file_sd_configs files that could not be read or parsed (their last good targets are kept).',
      [[{}, this.sets.reduce((a, { set }) => a + set.discoverers.reduce((b, d) => b + d.errors, 0), 0)]],
    );
    e.family('promfront_publish_targets_skipped', 'gauge', 'Discovered targets not scraped because their job already has a target with that instance.', [
      [{}, this.sameInstance],
    ]);
    e.family('promfront_publish_connected', 'gauge', 'Whether the publisher is connected to NATS.', [[{}, this.nc && !this.nc.isClosed() ? 1 : 0]]);
    return e.toString();
  }

  status(): unknown {
    return {
      publisher: this.publisher,
      stream: this.config.nats.stream,
      subject_prefix: this.config.nats.subject_prefix,
      connected: this.nc !== undefined && !this.nc.isClosed(),
      stream_ready: this.streamReady,
      error: this.lastError ?? null,
      published: this.counts.published,
      publish_errors: this.counts.publishErrors,
      duplicates: this.counts.duplicates,
      discovery_errors: Object.fromEntries(this.sets.flatMap(({ set }) => set.discoverers.map((d) => [d.name, d.errors]))),
      backlog: { messages: this.backlog.length, bytes: this.backlogBytes, dropped: this.counts.droppedMessages, dropped_bytes: this.counts.droppedBytes },
      targets: this.targets.map((t) => ({
        job: t.job,
        instance: t.instance,
        labels: t.labels,
        last_result: t.lastResult ?? null,
        error: t.lastError ?? null,
        scrapes: t.scrapes,
        failures: t.failures,
      })),
    };
  }
}

/** A target as the shard source client takes it: its auth, TLS and limits are the same fields. */
function sourceFor(job: PublishJobConfig, instance: string) {
  return sourceSchema.parse({
    url: `${job.scheme}://${instance}${job.metrics_path}`,
    headers: job.headers,
    basic_auth: job.basic_auth,
    bearer_token: job.bearer_token,
    bearer_token_file: job.bearer_token_file,
    tls_config: job.tls_config,
    max_body_size: job.max_body_size,
  });
}

/** Where in the interval a target is scraped: a hash of its key (FNV-1a), so it stays put across restarts. */
export function spreadOffset(key: string, intervalMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % Math.max(1, Math.floor(intervalMs));
}
