import type { Hono } from 'hono';
import type { QueryConfig, ServerGroupConfig } from '../config/schema.js';
import { DnsDiscovery } from '../query/discovery/dns-sd.js';
import { FileDiscovery } from '../query/discovery/file-sd.js';
import type { DiscoveredTarget, Discoverer, DiscoveryLog } from '../query/discovery/target.js';
import { TargetPool } from '../query/discovery/target-pool.js';
import { TargetSet } from '../query/discovery/target-set.js';
import { DownstreamClient, HttpClientFilesError } from '../query/downstream/http-client.js';
import { JsonApiTarget, targetName } from '../query/downstream/json-api.js';
import { FanoutStorage, type GroupSpec } from '../query/fanout.js';
import { Engine } from '../query/promql/engine.js';
import { createQueryApi } from './api/query-api.js';
import { Exposition } from './self-metrics.js';

export interface QueryLayerOptions {
  log?: DiscoveryLog;
  /** DNS servers for dns_sd_configs ("ip" or "ip:port"); default: the system's. */
  dnsServers?: string[];
}

export interface QueryLayerGroup {
  name: string;
  targets: TargetSet;
  pool: TargetPool;
}

export interface QueryLayer {
  api: Hono;
  fanout: FanoutStorage;
  groups: QueryLayerGroup[];
  /** Resolves when every group's service discovery has done its first refresh. */
  ready: Promise<void>;
  /** Targets per group and service discovery failures, in the text format (for /metrics). */
  metrics: () => string;
  close(): Promise<void>;
}

/**
 * The query layer from its config: per server group its targets (static and discovered) with one
 * JSON-API client per target address, the fan-out over the groups (HA replicas merged, groups
 * merged), the PromQL engine, and Prometheus's /api/v1 on top.
 *
 * Throws HttpClientFilesError when a group's TLS or credential files cannot be used; its problems
 * name the config path (see queryConfigFileProblems).
 */
export function createQueryLayer(q: QueryConfig, opts: QueryLayerOptions = {}): QueryLayer {
  const { clients, problems } = buildClients(q);
  if (problems.length > 0) throw new HttpClientFilesError(problems);
  const groups: QueryLayerGroup[] = [];
  const specs: GroupSpec[] = q.server_groups.map((g, i) => {
    const name = g.name ?? `group-${i}`;
    const timeoutMs = g.timeout ?? q.timeout;
    const client = clients[i]!;
    const url = (address: string): string => `${g.scheme}://${address}${g.path_prefix}`;
    const pool = new TargetPool(
      (address) => new JsonApiTarget({ url: url(address), timeoutMs, headers: g.http_headers, queryParams: g.query_params, client }),
      (address) => targetName(url(address)),
    );
    const targets = new TargetSet(name, staticTargets(g), discoverers(g, name, opts), opts.log);
    // promxy: where a target's labels and the group's labels share a name, the group's value wins.
    const own = (ts: readonly DiscoveredTarget[]): DiscoveredTarget[] =>
      ts.map((t) => ({ address: t.address, labels: Object.fromEntries(Object.entries(t.labels).filter(([k]) => !Object.hasOwn(g.labels, k))) }));
    pool.update(own(targets.targets()));
    targets.onChange((ts) => pool.update(own(ts)));
    groups.push({ name, targets, pool });
    return {
      name,
      currentTargets: () => pool.current(),
      antiAffinityMs: g.anti_affinity,
      ignoreError: g.ignore_error,
      timeoutMs,
      labels: g.labels,
    };
  });
  const fanout = new FanoutStorage(specs, { maxConcurrency: q.max_concurrency });
  const engine = new Engine({ semantics: q.semantics, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples, timeoutMs: q.timeout });
  const api = createQueryApi({ storage: () => fanout.forQuery(), engine, defaultTimeoutMs: q.timeout });
  const ready = Promise.all(groups.map((g) => g.targets.start())).then(() => undefined);
  return {
    api,
    fanout,
    groups,
    ready,
    metrics: () => renderMetrics(groups),
    close: async () => {
      for (const g of groups) g.targets.stop();
      await Promise.all(groups.map((g) => g.pool.close()));
    },
  };
}

/** Problems with the files the server groups' http_client blocks name, as `config.path: what is wrong`. */
export function queryConfigFileProblems(q: QueryConfig): string[] {
  return buildClients(q).problems;
}

function buildClients(q: QueryConfig): { clients: (DownstreamClient | undefined)[]; problems: string[] } {
  const problems: string[] = [];
  const clients = q.server_groups.map((g, i) => {
    try {
      return new DownstreamClient(g.http_client, { requestTimeoutMs: g.timeout ?? q.timeout });
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
  e.family('promfront_server_group_targets', 'gauge', 'Targets the server group has now, static and discovered.',
    groups.map((g) => [{ group: g.name }, g.targets.targets().length]));
  e.family('promfront_sd_failures_total', 'counter', 'Failed file_sd reads and dns_sd lookups; the last good targets were kept.',
    groups.flatMap((g) => g.targets.discoverers.map((d): [Record<string, string>, number] => [{ group: g.name, sd: d.name }, d.errors])));
  return e.toString();
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
    ...g.file_sd_configs.map((c, j) => new FileDiscovery({
      name: `file_sd_configs[${j}]`,
      files: c.files,
      refreshIntervalMs: c.refresh_interval,
      log,
    })),
    ...g.dns_sd_configs.map((c, j) => new DnsDiscovery({
      name: `dns_sd_configs[${j}]`,
      names: c.names,
      type: c.type,
      port: c.port,
      refreshIntervalMs: c.refresh_interval,
      log,
      servers: opts.dnsServers,
    })),
  ];
}
