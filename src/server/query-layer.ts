import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Config, QueryConfig } from '../config/schema.js';
import { JsonApiTarget } from '../query/downstream/json-api.js';
import { QueryMetrics } from '../query/downstream/metrics.js';
import { FanoutStorage, type GroupSpec } from '../query/fanout.js';
import { Engine } from '../query/promql/engine.js';
import { countingStorage, newStorageStats } from '../query/storage/counting.js';
import { createMetadataApi } from './api/metadata-api.js';
import { createQueryApi, type ScopedStorage } from './api/query-api.js';
import { instrumentRequests } from './api/request-log.js';
import { createSeriesApi } from './api/series-api.js';
import { createStatusApi } from './api/status-api.js';
import { configToYaml } from './config-yaml.js';
import { createFederation } from './federate.js';

export interface QueryLayerOptions {
  /** Gets one line per API request (component=query is up to the caller). */
  log?: Logger;
  /** The whole running config, shown (secrets hidden) by /api/v1/status/config. */
  config?: Config;
  /** Clock for /federate and /query's default time (default Date.now). */
  now?: () => number;
}

export interface QueryLayer {
  /** Prometheus's /api/v1, to mount at /api/v1. */
  api: Hono;
  /** /federate, to mount at the root. */
  federate: Hono;
  metrics: QueryMetrics;
  /** The query section of /status: groups, targets, their last errors (no secrets). */
  status(): QueryStatus;
  close(): Promise<void>;
}

export interface QueryStatus {
  groups: {
    name: string;
    labels: Record<string, string>;
    ignore_error: boolean;
    targets: {
      url: string;
      requests: number;
      errors: number;
      last_success_ago_secs: number | null;
      last_error: string | null;
      last_error_ago_secs: number | null;
    }[];
  }[];
}

/**
 * The query layer from its config: one JSON-API target per downstream server, the server groups'
 * fan-out (HA replicas merged, groups merged), the PromQL engine, and Prometheus's HTTP API on top,
 * every request logged and measured.
 */
export function createQueryLayer(q: QueryConfig, opts: QueryLayerOptions = {}): QueryLayer {
  const metrics = new QueryMetrics();
  const targets: JsonApiTarget[] = [];
  const groups: GroupSpec[] = q.server_groups.map((g, i) => {
    const name = g.name ?? `group-${i}`;
    const addrs = g.static_configs.flatMap((sc) => sc.targets);
    const group = addrs.map((addr) => {
      const t = new JsonApiTarget({
        url: `${g.scheme}://${addr}${g.path_prefix}`,
        timeoutMs: g.timeout ?? q.timeout,
        headers: g.http_headers,
        queryParams: g.query_params,
        group: name,
        observer: metrics,
      });
      targets.push(t);
      return t;
    });
    return {
      name,
      targets: group,
      targetNames: group.map((t) => t.target),
      antiAffinityMs: g.anti_affinity,
      ignoreError: g.ignore_error,
      timeoutMs: g.timeout ?? q.timeout,
      labels: g.labels,
      pushdown: g.pushdown,
    };
  });
  const fanout = new FanoutStorage(groups, { maxConcurrency: q.max_concurrency });
  metrics.pushdownOutcomes = () => fanout.pushdownOutcomes;
  const engine = new Engine({ semantics: q.semantics, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples, timeoutMs: q.timeout });

  /** A storage view per request: its warnings go to that response, its counts to the request log. */
  const view = (): ScopedStorage => {
    const v = fanout.forQuery();
    const stats = newStorageStats();
    return { storage: countingStorage(v.storage, stats, (m) => fanout.groupsFor(m)), warnings: v.warnings, stats };
  };
  const instrument = instrumentRequests({ metrics, log: opts.log });
  const configYaml = configToYaml(opts.config ?? ({ query: q } as Config));

  const api = new Hono();
  api.use('*', instrument);
  api.route('/', createQueryApi({ storage: view, engine, defaultTimeoutMs: q.timeout, semantics: q.semantics, now: opts.now }));
  api.route('/', createSeriesApi({ storage: view, semantics: q.semantics }));
  api.route('/', createMetadataApi({ storage: view }));
  api.route('/', createStatusApi({ configYaml: () => configYaml }));

  const federate = new Hono();
  federate.use('/federate', instrument);
  federate.route('/', createFederation({ storage: view, lookbackDeltaMs: q.lookback_delta, now: opts.now, log: opts.log }));

  const status = (): QueryStatus => {
    const now = Date.now();
    const ago = (t: number | undefined) => (t === undefined ? null : (now - t) / 1000);
    const seen = metrics.targets();
    return {
      groups: groups.map((g) => {
        const names = new Set([...g.targetNames, ...seen.filter((s) => s.group === g.name).map((s) => s.target)]);
        return {
          name: g.name,
          labels: g.labels ?? {},
          ignore_error: g.ignoreError,
          targets: [...names].map((url) => {
            const s = seen.find((x) => x.group === g.name && x.target === url);
            return {
              url,
              requests: s?.requests ?? 0,
              errors: s?.errors ?? 0,
              last_success_ago_secs: ago(s?.lastSuccessAt),
              last_error: s?.lastError ?? null,
              last_error_ago_secs: ago(s?.lastErrorAt),
            };
          }),
        };
      }),
    };
  };

  return { api, federate, metrics, status, close: async () => void (await Promise.all(targets.map((t) => t.close()))) };
}
