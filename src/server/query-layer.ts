import type { Hono } from 'hono';
import type { QueryConfig } from '../config/schema.js';
import { JsonApiTarget } from '../query/downstream/json-api.js';
import { RemoteReadTarget } from '../query/downstream/remote-read.js';
import { FanoutStorage, type GroupSpec } from '../query/fanout.js';
import { Engine } from '../query/promql/engine.js';
import { createQueryApi } from './api/query-api.js';

/**
 * The query layer from its config: one JSON-API target per downstream server, the server groups'
 * fan-out (HA replicas merged, groups merged), the PromQL engine, and Prometheus's /api/v1 on top.
 */
export function createQueryLayer(q: QueryConfig): { api: Hono; close(): Promise<void> } {
  const targets: (JsonApiTarget | RemoteReadTarget)[] = [];
  const groups: GroupSpec[] = q.server_groups.map((g, i) => {
    const addrs = g.static_configs.flatMap((sc) => sc.targets);
    const group = addrs.map((addr) => {
      const opts = {
        url: `${g.scheme}://${addr}${g.path_prefix}`,
        timeoutMs: g.timeout ?? q.timeout,
        headers: g.http_headers,
        queryParams: g.query_params,
      };
      const t = g.remote_read ? new RemoteReadTarget({ ...opts, remoteReadPath: g.remote_read_path }) : new JsonApiTarget(opts);
      targets.push(t);
      return t;
    });
    return {
      name: g.name ?? `group-${i}`,
      targets: group,
      targetNames: group.map((t) => t.target),
      antiAffinityMs: g.anti_affinity,
      ignoreError: g.ignore_error,
      timeoutMs: g.timeout ?? q.timeout,
      labels: g.labels,
    };
  });
  const fanout = new FanoutStorage(groups, { maxConcurrency: q.max_concurrency });
  const engine = new Engine({ semantics: q.semantics, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples, timeoutMs: q.timeout });
  const api = createQueryApi({ storage: () => fanout.forQuery(), engine, defaultTimeoutMs: q.timeout });
  return { api, close: async () => void (await Promise.all(targets.map((t) => t.close()))) };
}
