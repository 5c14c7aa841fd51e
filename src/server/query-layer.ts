// Builds the query layer from the `query:` section: targets and discovery per server group, their
// downstream clients, the fan-out storage, the engine and the HTTP API on top. Reload builds a new
// one and swaps it in (reload.ts, query-layer-slot.ts).

import { Hono } from 'hono';
import type { Config, QueryConfig, ServerGroupConfig } from '../config/schema.js';
import { DnsDiscovery } from '../query/discovery/dns-sd.js';
import { FileDiscovery } from '../query/discovery/file-sd.js';
import { HttpDiscovery } from '../query/discovery/http-sd.js';
import type { DiscoveredTarget, Discoverer, DiscoveryLog } from '../query/discovery/target.js';
import { TargetPool } from '../query/discovery/target-pool.js';
import { TargetSet } from '../query/discovery/target-set.js';
import type { DownstreamClient } from '../client/http-client.js';
import { HttpClientFilesError } from '../errors.js';
import { groupClient, groupTargets, groupTimeoutMs } from '../query/downstream/group-targets.js';
import { QueryMetrics, type GroupConflict } from '../query/downstream/metrics.js';
import { labelsToString } from '../model/labels.js';
import { FanoutStorage, type GroupSpec } from '../query/fanout.js';
import { Engine } from '../promql/engine.js';
import { PARTIALS_OUTCOMES, PartialPool, partialWorkers } from '../query/partials/pool.js';
import { PushedPartials } from '../query/partials/pushed.js';
import type { AggregateRequest, AggregateResult, Storage } from '../storage/interface.js';
import { countingStorage, newStorageStats } from '../storage/counting.js';
import { createMetadataApi } from './api/metadata-api.js';
import { createQueryApi } from './api/query-api.js';
import { Admission } from './api/admission.js';
import { type ScopedStorage } from '../storage/view.js';
import { instrumentRequests } from './api/request-log.js';
import { createSeriesApi } from './api/series-api.js';
import { createStatusApi } from './api/status-api.js';
import { createFanoutApi } from './api/fanout-api.js';
import { addMethodAnswers } from './api/methods.js';
import { ApiFanout, type ApiGetGroup } from '../query/fanout-get.js';
import { configToYaml } from './config-yaml.js';
import { createFederation } from './federate.js';
import { Exposition } from './self-metrics.js';
import { ResultsCache } from '../query/results-cache/results-cache.js';
import { MemoryBackend, RedisBackend, type CacheBackend } from '../query/results-cache/backend.js';
import { createHash } from 'node:crypto';
import type { RuleAnswer, RuleRound } from '../capability.js';
import { evaluateRound } from '../rules/round.js';

/** A group's deadline (see group-targets.ts); exported here too for the tests that read it. */
export { groupTimeoutMs };

export interface QueryLayerOptions {
  /** Gets one line per API request and service discovery's news (component=query is up to the caller). */
  log?: DiscoveryLog;
  /** The whole running config, shown (secrets hidden) by /api/v1/status/config. */
  config?: Config;
  /** Clock for /federate and /query's default time (default Date.now). */
  now?: () => number;
  /** DNS servers for dns_sd_configs ("ip" or "ip:port"); default: the system's. */
  dnsServers?: string[];
}

export interface QueryLayerGroup {
  name: string;
  targets: TargetSet;
  pool: TargetPool;
}

export interface QueryLayer {
  /** Prometheus's /api/v1, to mount at /api/v1. */
  api: Hono;
  /** /federate, to mount at the root. */
  federate: Hono;
  fanout: FanoutStorage;
  groups: QueryLayerGroup[];
  /** Resolves when every group's service discovery has done its first refresh. */
  ready: Promise<void>;
  /** The query layer's metrics in the text format (for /metrics). */
  metrics: () => string;
  /** Requests, errors and latencies per target and query type. */
  queryMetrics: QueryMetrics;
  /** The query section of /status: groups, targets, their last errors (no secrets). */
  status(): QueryStatus;
  /** One round of a rule group on this layer's engine and fan-out, its identical reads shared (rules/round.ts). */
  evaluateRules(round: RuleRound): Promise<RuleAnswer[]>;
  close(): Promise<void>;
}

export interface QueryStatus {
  results_cache: unknown;
  groups: {
    name: string;
    labels: Record<string, string>;
    ignore_error: boolean;
    /** Series reads this group shared with another group that had different samples (docs/shard-identity.md). */
    conflicting_series: number;
    last_conflict: { series: string; with: string[]; ago_secs: number } | null;
    targets: {
      url: string;
      requests: number;
      errors: number;
      last_success_ago_secs: number | null;
      last_error: string | null;
      last_error_ago_secs: number | null;
      last_duration_ms: number | null;
      transport: { configured: 'auto' | 'remote_read' | 'json'; in_use: 'remote_read' | 'json' | null };
    }[];
  }[];
}

/**
 * The query layer from its config: per server group its targets (static and discovered) with one
 * JSON-API client per target address, the fan-out over the groups (HA replicas merged, groups
 * merged), the PromQL engine, and Prometheus's HTTP API on top, every request logged and measured.
 *
 * Throws HttpClientFilesError when a group's TLS or credential files cannot be used; its problems
 * name the config path (see queryConfigFileProblems).
 */
export function createQueryLayer(q: QueryConfig, opts: QueryLayerOptions = {}): QueryLayer {
  const { clients, problems } = buildClients(q);
  if (problems.length > 0) throw new HttpClientFilesError(problems);
  const metrics = new QueryMetrics(opts.log);
  const groups: QueryLayerGroup[] = [];
  /** Per group, its targets as its pool gets them (for the partial-aggregation workers). */
  const targetsOf: (() => DiscoveredTarget[])[] = [];
  const apiGroups: ApiGetGroup[] = [];
  const specs: GroupSpec[] = q.server_groups.map((g, i) => {
    const name = g.name ?? `group-${i}`;
    const timeoutMs = groupTimeoutMs(g, q);
    const build = groupTargets(q, g, name, clients[i], metrics);
    const pool = new TargetPool(build.create, build.nameOf);
    const targets = new TargetSet(name, staticTargets(g), discoverers(g, name, opts), opts.log);
    // promxy: where a target's labels and the group's labels share a name, the group's value wins.
    const own = (ts: readonly DiscoveredTarget[]): DiscoveredTarget[] =>
      ts.map((t) => ({ address: t.address, labels: Object.fromEntries(Object.entries(t.labels).filter(([k]) => !Object.hasOwn(g.labels, k))) }));
    targetsOf.push(() => own(targets.targets()));
    pool.update(own(targets.targets()));
    targets.onChange((ts) => pool.update(own(ts)));
    groups.push({ name, targets, pool });
    apiGroups.push({
      name,
      ignoreError: g.ignore_error,
      labels: g.labels,
      addresses: () => targets.targets().map((t) => t.address),
      client: build.jsonApi,
      nameOf: build.nameOf,
    });
    return {
      name,
      currentTargets: () => pool.current(),
      antiAffinityMs: g.anti_affinity,
      replicaLabels: g.replica_labels ?? q.replica_labels,
      ignoreError: g.ignore_error,
      timeoutMs,
      labels: g.labels,
      pushdown: g.pushdown,
      autoPushdown: autoPushdown(g, q),
      hedge: g.hedge ? { minWaitMs: g.hedge_min_wait, latencyFactor: g.hedge_latency_factor } : undefined,
    };
  });
  const fanout = new FanoutStorage(specs, {
    maxConcurrency: q.max_concurrency,
    onHedged: (group, target) => metrics.observeHedged(group, target),
    onConflict: (groups, labels) => metrics.observeConflict(groups, labelsToString(labels)),
  });
  metrics.pushdownOutcomes = () => fanout.pushdownOutcomes;
  metrics.sharedReads = () => fanout.sharedReads.joined;
  const workers = q.server_groups.length > 1 ? partialWorkers(q.partial_workers) : 0;
  const partials =
    workers > 0
      ? new PartialPool({
          size: workers,
          query: q,
          groupNames: specs.map((s) => s.name),
          pushdown: specs.map((s) => s.pushdown === true),
          targetsOf: (i) => targetsOf[i](),
          groupsFor: (m) => fanout.groupsFor(m),
          observer: metrics,
          onHedged: (group, target) => metrics.observeHedged(group, target),
          onWorkerError: (err) => opts.log?.error({ err: err.message }, 'partial-aggregation worker failed; aggregations read raw data until it is restarted'),
        })
      : undefined;
  const pushed =
    q.server_groups.length > 1 && q.partial_pushdown
      ? new PushedPartials({
          evaluatePartials: (req, signal) => fanout.evaluatePartials(req, signal),
          groupsFor: (m) => fanout.groupsFor(m),
          count: (o) => fanout.pushdownOutcomes.set(o, (fanout.pushdownOutcomes.get(o) ?? 0) + 1),
          maxSamples: q.max_samples,
          lookbackDeltaMs: q.lookback_delta,
        })
      : undefined;
  const engine = new Engine({ semantics: q.semantics, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples, timeoutMs: q.timeout });

  /** A storage view per request: its warnings go to that response, its counts to the request log. */
  const view = (): ScopedStorage => {
    const v = fanout.forQuery();
    const stats = newStorageStats();
    // Pushed to the servers first (no raw samples read), else computed by the workers from raw samples.
    const aggregate = async (req: AggregateRequest, signal?: AbortSignal): Promise<AggregateResult | undefined> => {
      const answer = await pushed?.aggregate(req, v.warnings, signal);
      if (answer === 'raw') return undefined;
      return answer ?? partials?.aggregate(req, v.warnings, signal);
    };
    const storage: Storage = partials || pushed ? { ...v.storage, aggregate } : v.storage;
    return { storage: countingStorage(storage, stats, (m) => fanout.groupsFor(m)), warnings: v.warnings, stats };
  };
  const instrument = instrumentRequests({ metrics, log: opts.log });
  const configYaml = configToYaml(opts.config ?? ({ query: q } as Config));

  const api = new Hono();
  api.use('*', instrument);
  const admission = new Admission({
    maxConcurrent: q.max_concurrent_queries,
    maxQueued: q.max_queued_queries,
    onRefused: (type) => metrics.observeRefused(type, 'queue_full'),
  });
  const resultsCache = buildResultsCache(q, opts);
  api.route(
    '/',
    createQueryApi({
      storage: view,
      engine,
      defaultTimeoutMs: q.timeout,
      semantics: q.semantics,
      now: opts.now,
      admission,
      resultsCache,
      perStepStats: q.per_step_stats,
    }),
  );
  const limits = {
    timeoutMs: q.timeout,
    maxMatchSelectors: q.max_match_selectors,
  };
  api.route('/', createSeriesApi({ storage: view, semantics: q.semantics, ...limits, onRefused: (type, reason) => metrics.observeRefused(type, reason) }));
  api.route('/', createMetadataApi({ storage: view, timeoutMs: q.timeout }));
  api.route('/', createStatusApi({ configYaml: () => configYaml }));
  const apiFanout = new ApiFanout(apiGroups);
  api.route('/', createFanoutApi({ fanout: apiFanout, semantics: q.semantics, timeoutMs: q.timeout }));
  addMethodAnswers(api);

  const federate = new Hono();
  federate.use('/federate', instrument);
  federate.route(
    '/',
    createFederation({
      storage: view,
      lookbackDeltaMs: q.lookback_delta,
      now: opts.now,
      log: opts.log,
      ...limits,
      onRefused: (reason) => metrics.observeRefused('federate', reason),
    }),
  );

  const status = (): QueryStatus => {
    const now = Date.now();
    const ago = (t: number | undefined) => (t === undefined ? null : (now - t) / 1000);
    const seen = metrics.targets();
    return {
      results_cache: resultsCache
        ? {
            backend: resultsCache.backend.kind,
            ...resultsCache.counts,
            backend_errors: resultsCache.backend.errors,
            usage: resultsCache.backend.usage() ?? null,
          }
        : null,
      groups: groups.map((g, i) => {
        const names = new Set([...g.pool.current().map((t) => t.name), ...seen.filter((s) => s.group === g.name).map((s) => s.target)]);
        return {
          name: g.name,
          labels: q.server_groups[i].labels,
          ignore_error: q.server_groups[i].ignore_error,
          ...conflictStatus(metrics.conflictsOf(g.name), now),
          targets: [...names].map((url) => {
            const s = seen.find((x) => x.group === g.name && x.target === url);
            return {
              url,
              requests: s?.requests ?? 0,
              errors: s?.errors ?? 0,
              last_success_ago_secs: ago(s?.lastSuccessAt),
              last_error: s?.lastError ?? null,
              last_error_ago_secs: ago(s?.lastErrorAt),
              last_duration_ms: s?.lastDurationMs === undefined ? null : Math.round(s.lastDurationMs * 10) / 10,
              // What the config asks for (auto: remote read where the server serves it) and what
              // the target's last successful read of samples used.
              transport: { configured: transportSetting(q.server_groups[i]), in_use: s?.transport ?? null },
            };
          }),
        };
      }),
    };
  };

  const ready = Promise.all(groups.map((g) => g.targets.start())).then(() => undefined);
  return {
    api,
    federate,
    fanout,
    groups,
    ready,
    metrics: () =>
      metrics.render() +
      admission.render() +
      renderMetrics(groups) +
      (resultsCache ? renderCacheMetrics(resultsCache) : '') +
      (partials ? renderPartialsMetrics(partials, workers) : ''),
    queryMetrics: metrics,
    status,
    evaluateRules: (round) => evaluateRound(round, { engine, view: () => fanout.forQuery(), timeoutMs: q.timeout }),
    close: async () => {
      for (const g of groups) g.targets.stop();
      await Promise.all([...groups.map((g) => g.pool.close()), resultsCache?.backend.close(), apiFanout.close(), partials?.close()]);
    },
  };
}

/**
 * The results cache the section asks for, or undefined when it is off. Its keys carry a hash of
 * the whole query section, so a reload that changes anything (a group, the semantics, the lookback)
 * never reads what the old config stored, in Redis either.
 */
function buildResultsCache(q: QueryConfig, opts: QueryLayerOptions): ResultsCache | undefined {
  const c = q.results_cache;
  if (!c.enabled) return undefined;
  let backend: CacheBackend;
  if (c.redis) {
    const log = opts.log;
    const address = c.redis.address;
    backend = new RedisBackend({
      address,
      username: c.redis.username,
      password: c.redis.password,
      db: c.redis.db,
      timeoutMs: c.redis.timeout,
      ttlMs: c.ttl,
      onState: (up, reason) =>
        up
          ? log?.info({ address }, 'results cache: Redis reachable again')
          : log?.warn({ address, reason }, 'results cache: Redis unreachable; range queries are evaluated without it until it is back'),
    });
  } else backend = new MemoryBackend(c.max_size, c.ttl);
  const generation = createHash('sha256').update(JSON.stringify(q)).digest('base64url').slice(0, 16);
  return new ResultsCache({ backend, freshnessMs: c.freshness, splitMs: c.split_interval, maxItemBytes: c.max_item_size, generation, now: opts.now });
}

function renderPartialsMetrics(p: PartialPool, workers: number): string {
  const e = new Exposition();
  e.family('promfront_query_partial_workers', 'gauge', 'Worker threads computing per-group partial aggregates (query.partial_workers).', [[{}, workers]]);
  e.family(
    'promfront_query_partials_total',
    'counter',
    'Aggregations offered to the partial-aggregation workers, by outcome: partials, or why raw data was read instead (docs/parallel.md).',
    PARTIALS_OUTCOMES.map((o) => [{ outcome: o }, p.outcomes.get(o) ?? 0]),
  );
  return e.toString();
}

function renderCacheMetrics(rc: ResultsCache): string {
  const e = new Exposition();
  const n = rc.counts;
  e.family('promfront_results_cache_queries_total', 'counter', 'Range queries by how the results cache answered them (hit, partial, miss, uncacheable).', [
    [{ outcome: 'hit' }, n.hit],
    [{ outcome: 'partial' }, n.partial],
    [{ outcome: 'miss' }, n.miss],
    [{ outcome: 'uncacheable' }, n.uncacheable],
  ]);
  e.family('promfront_results_cache_coalesced_total', 'counter', 'Range queries answered by an identical query running at the same time.', [[{}, n.coalesced]]);
  e.family('promfront_results_cache_too_large_total', 'counter', 'Cache entries not stored because they were larger than max_item_size.', [[{}, n.tooLarge]]);
  e.family('promfront_results_cache_steps_total', 'counter', 'Evaluation steps of range queries, by whether they came from the cache or were evaluated.', [
    [{ source: 'cache' }, n.cachedSteps],
    [{ source: 'evaluated' }, n.evaluatedSteps],
  ]);
  e.family('promfront_results_cache_backend_errors_total', 'counter', 'Cache reads and writes that failed or timed out; the answer was evaluated instead.', [
    [{ backend: rc.backend.kind, op: 'get' }, rc.backend.errors.get],
    [{ backend: rc.backend.kind, op: 'set' }, rc.backend.errors.set],
  ]);
  const usage = rc.backend.usage();
  if (usage) {
    e.family('promfront_results_cache_entries', 'gauge', 'Entries (query x step x bucket) in the in-process results cache.', [[{}, usage.entries]]);
    e.family('promfront_results_cache_bytes', 'gauge', 'Estimated bytes held by the in-process results cache.', [[{}, usage.bytes]]);
  }
  return e.toString();
}

/** Problems with the files the server groups' http_client blocks name, as `config.path: what is wrong`. */
export function queryConfigFileProblems(q: QueryConfig): string[] {
  return buildClients(q).problems;
}

function buildClients(q: QueryConfig): { clients: (DownstreamClient | undefined)[]; problems: string[] } {
  const problems: string[] = [];
  const clients = q.server_groups.map((g, i) => {
    try {
      return groupClient(g, q);
    } catch (err) {
      if (!(err instanceof HttpClientFilesError)) throw err;
      problems.push(...err.problems.map((p) => `query.server_groups.${i}.http_client.${p}`));
      return undefined;
    }
  });
  return { clients, problems };
}

function renderMetrics(groups: QueryLayerGroup[]): string {
  const e = new Exposition();
  e.family(
    'promfront_server_group_targets',
    'gauge',
    'Targets the server group has now, static and discovered.',
    groups.map((g) => [{ group: g.name }, g.targets.targets().length]),
  );
  e.family(
    'promfront_sd_failures_total',
    'counter',
    'Failed file_sd reads and dns_sd lookups; the last good targets were kept.',
    groups.flatMap((g) => g.targets.discoverers.map((d): [Record<string, string>, number] => [{ group: g.name, sd: d.name }, d.errors])),
  );
  return e.toString();
}

function transportSetting(g: ServerGroupConfig): 'auto' | 'remote_read' | 'json' {
  return g.remote_read === undefined ? 'auto' : g.remote_read ? 'remote_read' : 'json';
}

function staticTargets(g: ServerGroupConfig): DiscoveredTarget[] {
  return g.static_configs.flatMap((sc) => sc.targets.map((address) => ({ address, labels: sc.labels })));
}

function discoverers(g: ServerGroupConfig, group: string, opts: QueryLayerOptions): Discoverer[] {
  const base = opts.log;
  const log: DiscoveryLog | undefined = base && {
    info: (obj, msg) => base.info({ group, ...obj }, msg),
    warn: (obj, msg) => base.warn({ group, ...obj }, msg),
    error: (obj, msg) => base.error({ group, ...obj }, msg),
  };
  return [
    ...g.file_sd_configs.map(
      (c, j) =>
        new FileDiscovery({
          name: `file_sd_configs[${j}]`,
          files: c.files,
          refreshIntervalMs: c.refresh_interval,
          log,
        }),
    ),
    ...g.dns_sd_configs.map(
      (c, j) =>
        new DnsDiscovery({
          name: `dns_sd_configs[${j}]`,
          names: c.names,
          type: c.type,
          port: c.port,
          refreshIntervalMs: c.refresh_interval,
          log,
          servers: opts.dnsServers,
        }),
    ),
    ...g.http_sd_configs.map((c, j) => new HttpDiscovery({ name: `http_sd_configs[${j}]`, url: c.url, refreshIntervalMs: c.refresh_interval, log, auth: c })),
  ];
}

function conflictStatus(
  c: { count: number; last: GroupConflict | undefined },
  now: number,
): Pick<QueryStatus['groups'][number], 'conflicting_series' | 'last_conflict'> {
  return {
    conflicting_series: c.count,
    last_conflict: c.last === undefined ? null : { series: c.last.series, with: c.last.with, ago_secs: (now - c.last.at) / 1000 },
  };
}

/**
 * What a group with `pushdown` unset needs to hear from its one server before whole queries run
 * there (docs/pushdown.md, "Whole queries"): Prometheus of the major version `query.semantics`
 * names, with our lookback delta. None for a group whose raw answers differ from a Prometheus query
 * answer by construction: kept external labels, NaN read as staleness markers (VictoriaMetrics).
 */
function autoPushdown(g: ServerGroupConfig, q: QueryConfig): GroupSpec['autoPushdown'] {
  if (g.pushdown !== undefined || g.stale_nan || (g.keep_external_labels ?? q.keep_external_labels)) return undefined;
  return { major: q.semantics === 'prometheus-2' ? 2 : 3, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples };
}
