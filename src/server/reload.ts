// What a running ./proxy serves, and how a config reload (SIGHUP, POST /-/reload) changes it
// without a restart. A new config is loaded and validated exactly as at start-up; when it is
// refused nothing changes. When it is accepted:
// - the query layer is rebuilt (if its section changed) and swapped in at once; requests already
//   running finish on the old layer, whose downstream pools close when they are done;
// - a changed shard section gets a new ShardService, which takes over from the running one only
//   after its first cycle, so shard endpoints never fall back to 503 in between;
// - log_level applies at once; a new listen address only after a restart (a warning says so);
// - the web config (--web.config.file) is re-read with it: refused as a whole if it is broken.
// With `thread` (what ./proxy uses) the query layer lives in the query thread (query-thread.ts):
// the config is validated here as always, then the thread builds and swaps its layer the same way.

import type { HttpBindings } from '@hono/node-server';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { LogFormat } from './logger.js';
import { loadConfigFile } from '../config/load.js';
import type { Config, ShardConfig } from '../config/schema.js';
import { ShardService } from '../shard/shard-service.js';
import type { AppDeps } from './app.js';
import { ConfigError, HttpClientFilesError } from '../errors.js';
import { createQueryLayer, queryConfigFileProblems, type QueryLayer } from './query-layer.js';
import { QueryLayerSlot } from './query-layer-slot.js';
import { QueryThread } from './query-thread-client.js';
import type { ReloadStatus } from './self-metrics.js';
import { capabilityProblems, CapabilitySet } from './capabilities.js';
import { natsSourceFactory } from '../stream/capability.js';

/** How long a replaced query layer may keep running requests beyond the longest query it allows. */
const DRAIN_GRACE_MS = 60_000;

export interface RuntimeOptions {
  /** The config file, re-read at every reload. */
  file: string;
  /** Its content as loaded at start-up. */
  config: Config;
  log: Logger;
  /** --log.level: when given it wins over the file's log_level, also after a reload. */
  levelFlag?: string;
  /**
   * Loads and checks what a reload re-reads besides the config file (the web config); throws to
   * refuse the reload. The function it returns applies it once the reload succeeds and says
   * whether anything changed.
   */
  prepareReload?: (next: Config) => () => boolean;
  /** Run the query layer in a worker thread (query-thread.ts) instead of on this thread. */
  thread?: { writeTimeoutMs?: number; heapLimitMb?: number; logFormat?: LogFormat };
}

interface ShardSlot {
  svc: ShardService;
  config: ShardConfig;
}

export class Runtime {
  /** The config in service; `listen` is the address bound at start-up even if the file changed it. */
  config: Config;
  readonly queries: QueryLayerSlot<QueryLayer>;
  /** With opts.thread: the query thread, started by the first config with a query section. */
  private thread: QueryThread | undefined;
  readonly startedAt = Date.now();
  private status: ReloadStatus;
  /** The shard service answering requests. */
  private serving: ShardSlot | undefined;
  /** A replacement still running its first cycle. */
  private pending: ShardSlot | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;
  /** Push routing, publishing, the fleet, rules: whatever sections the config has (capabilities.ts). */
  readonly capabilities: CapabilitySet;

  constructor(private readonly opts: RuntimeOptions) {
    this.config = opts.config;
    this.log = opts.log;
    this.status = { successful: true, lastSuccessAt: this.startedAt };
    this.queries = new QueryLayerSlot<QueryLayer>(this.log.child({ component: 'query' }));
    if (opts.config.query) {
      if (opts.thread) this.thread = this.newThread(opts.config);
      else this.queries.swap(this.newQueryLayer(opts.config), 0);
    }
    if (opts.config.shard) this.serving = { svc: this.newShardService(opts.config.shard), config: opts.config.shard };
    this.capabilities = new CapabilitySet(opts.config, {
      log: this.log,
      configFile: opts.file,
      listen: opts.config.listen,
      queryApi: (req) => this.queryApi(req, {} as HttpBindings),
      evaluateRules: (round) =>
        this.opts.thread ? (this.thread?.evaluateRules(round) ?? Promise.resolve(undefined)) : this.queries.use((l) => l.evaluateRules(round)),
    });
  }

  private queryApi(req: Request, env: HttpBindings): Promise<Response | undefined> {
    return this.opts.thread ? (this.thread?.fetch(req, env) ?? Promise.resolve(undefined)) : this.queries.fetch(req, env);
  }

  /** Resolves once the query layer's service discovery has had its first look. */
  async ready(): Promise<void> {
    await this.queries.current?.ready;
    await this.thread?.ready();
  }

  /** The query thread in service when queries run on one (the listener's fast path sends queries there). */
  get queryThread(): QueryThread | undefined {
    return this.opts.thread ? this.thread : undefined;
  }

  get shard(): ShardService | undefined {
    return this.serving?.svc;
  }

  get reloadStatus(): ReloadStatus {
    return this.status;
  }

  /** What the HTTP app reads on every request. */
  appDeps(): AppDeps {
    // The getters below have their own `this` (the returned object): they read the runtime's fields.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const rt = this;
    return {
      get shard() {
        return rt.shard;
      },
      queryApi: (req: Request, env: HttpBindings) => rt.queryApi(req, env),
      capabilities: () => rt.capabilities.current,
      queryMetrics: () => (rt.opts.thread ? (rt.thread?.metrics() ?? '') : (rt.queries.current?.metrics() ?? '')),
      queryStatus: () => (rt.opts.thread ? rt.thread?.status() : rt.queries.current?.status()),
      reload: () => rt.reload(),
      reloadStatus: () => rt.reloadStatus,
      startedAt: this.startedAt,
      configFile: this.opts.file,
    };
  }

  async start(): Promise<void> {
    await Promise.all([this.serving?.svc.start(), this.capabilities.start()]);
  }

  /**
   * Re-reads the config file and applies it; rejects with the reason when it is refused (the
   * config in service stays). Reloads run one after the other, each reading the file anew.
   */
  reload(): Promise<void> {
    const run = this.queue.then(() => this.apply());
    this.queue = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.serving?.svc.stop(), this.pending?.svc.stop(), this.queries.close(), this.thread?.close(), this.capabilities.stop()]);
  }

  private newThread(config: Config): QueryThread {
    const level = this.opts.levelFlag ?? config.log_level;
    return new QueryThread({ config, log: this.log, level, ...this.opts.thread });
  }

  private newQueryLayer(config: Config): QueryLayer {
    return createQueryLayer(config.query!, { log: this.log.child({ component: 'query' }), config });
  }

  private async apply(): Promise<void> {
    if (this.stopped) throw new Error('shutting down');
    const { file } = this.opts;
    this.log.info({ file }, 'loading configuration file');
    let next: Config;
    let layer: QueryLayer | undefined;
    let shard: ShardSlot | undefined;
    let queryChanged: boolean;
    let commitOther: (() => boolean) | undefined;
    try {
      next = loadConfigFile(file);
      queryChanged = !isDeepStrictEqual(next.query, this.config.query);
      commitOther = this.opts.prepareReload?.(next);
      // Everything new is built before anything is swapped: a failure leaves the running config whole.
      if (queryChanged && next.query && !this.opts.thread) {
        layer = this.newQueryLayer(next);
        // Service discovery's first look, so the new layer does not start with empty groups.
        await layer.ready;
      }
      if (queryChanged && next.query && this.opts.thread) {
        // Checked here as createQueryLayer would, so a bad file is refused with the same message.
        const problems = queryConfigFileProblems(next.query);
        if (problems.length > 0) throw new HttpClientFilesError(problems);
      }
      // What a capability would refuse at start (rule files that do not parse) refuses the reload here, before anything is swapped.
      const capProblems = capabilityProblems(next, file);
      if (capProblems.length > 0) throw new ConfigError(file, capProblems);
      if (this.needsNewShardService(next.shard)) shard = { svc: this.newShardService(next.shard!), config: next.shard! };
      // Last, as nothing after it may fail: the thread swaps its layer as soon as the new one is ready.
      if (queryChanged && this.opts.thread) {
        if (this.thread) await this.thread.configure(next);
        else if (next.query) {
          const thread = this.newThread(next);
          try {
            await thread.ready();
          } catch (err) {
            void thread.close();
            throw err;
          }
          this.thread = thread;
        }
      }
    } catch (err) {
      layer?.close().catch(() => undefined);
      this.status = { ...this.status, successful: false };
      const e = err as Error & { problems?: string[] };
      this.log.error({ file, problems: e.problems ?? [e.message] }, 'config reload failed: the running config stays in service');
      throw err;
    }

    const changed: string[] = [];
    try {
      changed.push(...(await this.capabilities.apply(next)));
    } catch (err) {
      // Checked above, so this is a failure while applying (a port taken, a peer refusing): the
      // rest of the new config is in service, the failing capability keeps what it had.
      this.status = { ...this.status, successful: false };
      this.log.error({ file, problems: [(err as Error).message] }, 'config reload: a capability could not apply its new section');
      throw err;
    }
    if (queryChanged) {
      // In-flight queries may run up to the old layer's timeout; give them that and a grace period.
      // (The query thread swapped its own layer above.)
      if (!this.opts.thread) this.queries.swap(layer, (this.config.query?.timeout ?? 0) + DRAIN_GRACE_MS);
      changed.push('query');
    }
    if (this.replaceShard(next.shard, shard)) changed.push('shard');
    if (commitOther?.()) changed.push('web_config');
    if (next.log_level !== this.config.log_level) {
      changed.push('log_level');
      if (this.opts.levelFlag === undefined) {
        this.log.level = next.log_level;
        this.thread?.setLevel(next.log_level);
      }
    }
    const listen = this.config.listen;
    if (next.listen !== listen) {
      this.log.warn({ listen, new_listen: next.listen }, 'listen changed: the listen address cannot move while running; restart promfront to apply it');
    }
    this.config = { ...next, listen };
    this.status = { successful: true, lastSuccessAt: Date.now() };
    this.log.info({ file, changed }, 'completed loading of configuration file');
  }

  /** The shard section the proxy is heading for: the waiting replacement's, else the running one's. */
  private get shardTarget(): ShardConfig | undefined {
    return (this.pending ?? this.serving)?.config;
  }

  private needsNewShardService(next: ShardConfig | undefined): boolean {
    return next !== undefined && !isDeepStrictEqual(this.shardTarget, next) && !isDeepStrictEqual(this.serving?.config, next);
  }

  /**
   * Moves towards the shard section `next`, with `fresh` built for it when needsNewShardService
   * said so; true if the section changed.
   */
  private replaceShard(next: ShardConfig | undefined, fresh: ShardSlot | undefined): boolean {
    if (isDeepStrictEqual(this.shardTarget, next)) return false;
    if (this.pending) {
      // Superseded before it took over: the running service stays until the newest one is ready.
      this.stopShard(this.pending.svc);
      this.pending = undefined;
    }
    if (!next) {
      const old = this.serving;
      this.serving = undefined;
      if (old) this.stopShard(old.svc);
      this.log.info('shard section removed: shard endpoints are gone');
      return true;
    }
    if (!fresh) return true; // back to the section already running
    if (this.serving) fresh.svc.inheritFrom(this.serving.svc);
    this.pending = fresh;
    fresh.svc.start().catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'starting the new shard service failed'));
    void fresh.svc.whenReady().then((ready) => {
      if (ready && this.pending === fresh) this.takeOver(fresh);
    });
    return true;
  }

  private takeOver(slot: ShardSlot): void {
    const old = this.serving;
    this.pending = undefined;
    this.serving = slot;
    this.log.info(
      { shards: slot.config.num_shards, sources: slot.config.sources.length },
      'new shard configuration completed its first cycle and is now served',
    );
    if (!old) return;
    // Series are split by shard as they are scraped: with a new num_shards, a source whose first
    // scrape failed cannot keep serving what it had before.
    slot.config.sources.forEach((src, i) => {
      const j = old.config.sources.findIndex((p) => isDeepStrictEqual(p, src));
      if (j >= 0 && old.svc.sources[j].data && !slot.svc.sources[i].data) {
        this.log.warn(
          { source: slot.svc.sources[i].url, reason: slot.svc.sources[i].lastError },
          'source failed its first scrape after num_shards changed: its earlier series are no longer served',
        );
      }
    });
    this.stopShard(old.svc);
  }

  private stopShard(svc: ShardService): void {
    svc.stop().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'stopping a replaced shard service failed'));
  }

  private newShardService(config: ShardConfig): ShardService {
    return new ShardService(config, this.log.child({ component: 'shard' }), natsSourceFactory);
  }
}
