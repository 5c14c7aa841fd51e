// The config file's schema (zod): every field, default and check of the sections in one place, with
// Prometheus's conventions (durations like 30s, label-name rules, file_sd paths). The field schemas
// sections share are in fields.ts; a capability's section in its own file beside this one.

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import {
  basicAuthSchema,
  byteSize,
  dnsSdConfigSchema,
  duration,
  fileSdConfigSchema,
  httpClientSchema,
  httpSdConfigSchema,
  httpUrl,
  labelSet,
  positiveDuration,
  secretString,
  sigv4Schema,
  target,
  tlsConfigSchema,
} from './fields.js';

export {
  authorizationSchema,
  basicAuthSchema,
  byteSizeSchema,
  dnsSdConfigSchema,
  durationSchema,
  FILE_SD_PATTERN,
  fileSdConfigSchema,
  httpClientSchema,
  positiveDurationSchema,
  sigv4Schema,
  TARGET_ADDRESS,
  tlsConfigSchema,
} from './fields.js';
import { resultsCacheSchema } from './results-cache.js';
import { pushSchema } from './push.js';
import { natsSourceSchema, publishSchema } from './stream.js';
import { fleetSchema } from './fleet.js';
import { rulesConfigFields } from './rules.js';

export const sourceSchema = z
  .strictObject({
    url: httpUrl('must be an absolute http:// or https:// URL'),
    /** Defaults to the shard section's scrape_timeout. */
    timeout: positiveDuration.optional(),
    headers: z.record(z.string(), z.string()).default({}),
    labels: labelSet.default({}),
    /** The job label of this source's series (docs/shard-identity.md); unset: the shard section's job_name. */
    job_name: z.string().min(1).optional(),
    basic_auth: basicAuthSchema.optional(),
    bearer_token: secretString.optional(),
    bearer_token_file: z.string().optional(),
    tls_config: tlsConfigSchema.optional(),
    max_body_size: byteSize.optional(),
    sigv4: sigv4Schema.optional(),
  })
  .superRefine((s, ctx) => {
    const auth = [s.basic_auth, s.bearer_token, s.bearer_token_file, s.sigv4].filter((x) => x !== undefined).length;
    if (auth > 1) ctx.addIssue({ code: 'custom', message: 'at most one of basic_auth, bearer_token, bearer_token_file and sigv4 may be set' });
    for (const h of Object.keys(s.headers)) {
      if (h.toLowerCase() === 'authorization' && auth > 0) {
        ctx.addIssue({ code: 'custom', path: ['headers', h], message: 'Authorization header conflicts with basic_auth/bearer_token' });
      }
    }
  });

export const shardSchema = z
  .strictObject({
    num_shards: z.number().int().min(1).max(4096),
    /** The job name used in the generated Prometheus scrape_configs. */
    job_name: z.string().min(1).default('promfront-shards'),
    /** Series get their source's job and instance unless they carry their own (docs/shard-identity.md). */
    source_identity: z.boolean().default(true),
    scrape_interval: duration.default(parseDuration('15s')),
    scrape_timeout: positiveDuration.optional(),
    /** How long a failed source's last good series are still served; default 5 scrape intervals. */
    max_stale: positiveDuration.optional(),
    max_body_size: byteSize.default(parseByteSize('512MiB')),
    /** Level for the prebuilt gzip bodies: 1 is fastest; scrapers decompress any level equally fast. */
    gzip_level: z.number().int().min(1).max(9).default(1),
    // A `nats` entry (src/config/stream.ts) is served from JetStream instead of scraped.
    sources: z.array(z.union([sourceSchema, natsSourceSchema])).min(1, 'at least one source is needed'),
  })
  .superRefine((s, ctx) => {
    if (s.scrape_interval <= 0) ctx.addIssue({ code: 'custom', path: ['scrape_interval'], message: 'must be greater than 0' });
    const timeout = s.scrape_timeout ?? s.scrape_interval;
    if (timeout > s.scrape_interval) ctx.addIssue({ code: 'custom', path: ['scrape_timeout'], message: 'must not be longer than scrape_interval' });
    s.sources.forEach((src, i) => {
      if (!('url' in src)) return;
      if (src.timeout !== undefined && src.timeout > s.scrape_interval) {
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'timeout'], message: 'must not be longer than scrape_interval' });
      }
    });
    const seen = new Map<string, number>();
    s.sources.forEach((src, i) => {
      const key = 'url' in src ? `url ${src.url} ${JSON.stringify(src.labels)}` : `nats ${src.nats.stream} ${src.nats.durable}`;
      const prev = seen.get(key);
      if (prev === undefined) seen.set(key, i);
      else if ('url' in src) ctx.addIssue({ code: 'custom', path: ['sources', i, 'url'], message: `same url and labels as sources.${prev}` });
      else ctx.addIssue({ code: 'custom', path: ['sources', i, 'nats'], message: `same stream and durable as sources.${prev}` });
    });
  });

/** One server group: the HA replicas of one shard. Field names are promxy's where they mean the same. */
export const serverGroupSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    static_configs: z
      .array(
        z.strictObject({
          targets: z.array(target).min(1),
          /** As file SD labels: added to the series of these targets (see README). */
          labels: labelSet.default({}),
        }),
      )
      .default([]),
    file_sd_configs: z.array(fileSdConfigSchema).default([]),
    dns_sd_configs: z.array(dnsSdConfigSchema).default([]),
    http_sd_configs: z.array(httpSdConfigSchema).default([]),
    /** A fleet's /sd/fleet/members: this group becomes one group per fleet group (docs/fleet.md). */
    fleet_sd_configs: z.array(httpSdConfigSchema).default([]),
    http_client: httpClientSchema.default({ dial_timeout: parseDuration('200ms') }),
    scheme: z.enum(['http', 'https']).default('http'),
    path_prefix: z
      .string()
      .regex(/^(\/[^?#]*)?$/, 'must start with "/"')
      .default(''),
    /** Added to every series of the group; matchers on them are answered locally. */
    labels: labelSet.default({}),
    query_params: z.record(z.string(), z.string()).default({}),
    http_headers: z.record(z.string(), z.string()).default({}),
    /** Samples of two replicas closer than this are the same scrape. */
    anti_affinity: duration.default(parseDuration('10s')),
    ignore_error: z.boolean().default(false),
    /** Default: the query timeout; half of it for an ignore_error group (docs/reliability.md#a-hung-ignore_error-group). */
    timeout: positiveDuration.optional(),
    /**
     * Hedging (docs/merge-rules.md): once one replica answered, the others get
     * max(hedge_min_wait, hedge_latency_factor x its latency) more, then are left out with a warning.
     */
    hedge: z.boolean().default(true),
    hedge_min_wait: duration.default(parseDuration('1s')),
    hedge_latency_factor: z.number().min(0).max(1000).default(3),
    /**
     * Read samples through Prometheus's remote-read protocol (true) or the JSON query API (false).
     * Unset: remote read where the server serves it, the JSON API where it does not.
     */
    remote_read: z.boolean().optional(),
    /** Path of the remote-read endpoint below path_prefix. */
    remote_read_path: z
      .string()
      .regex(/^\/[^?#]*$/, 'must start with "/"')
      .default('/api/v1/read'),
    /**
     * The group's servers write their stored staleness markers as "NaN" samples and keep no real NaN
     * (VictoriaMetrics): NaN samples read through the JSON API are taken as staleness markers.
     */
    stale_nan: z.boolean().default(false),
    /**
     * Largest answer body read from one of the group's servers, JSON or remote read alike; a larger
     * one fails that request, naming the limit, instead of being held whole.
     */
    max_body_size: byteSize.default(parseByteSize('512MiB')),
    /**
     * true: the group's servers evaluate PromQL as `query.semantics` says (e.g. Prometheus 3.x for
     * prometheus-3): per-series sub-expressions may be evaluated there (docs/pushdown.md). Unset:
     * only whole queries, on a group of one server that says it is such a Prometheus. false: never.
     */
    pushdown: z.boolean().optional(),
    /** Keep the servers' external labels on series (docs/merge-rules.md#external-labels); unset: the query section's. */
    keep_external_labels: z.boolean().optional(),
    /** Label names removed from series before the HA merge (Thanos's --query.replica-label); unset: the query section's. */
    replica_labels: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name')).optional(),
  })
  .superRefine((g, ctx) => {
    if (g.static_configs.length + g.file_sd_configs.length + g.dns_sd_configs.length + g.http_sd_configs.length + g.fleet_sd_configs.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'at least one of static_configs, file_sd_configs, dns_sd_configs, http_sd_configs and fleet_sd_configs is needed',
      });
    }
    const h = g.http_client;
    const auth = h.basic_auth ?? h.authorization ?? h.bearer_token ?? h.bearer_token_file ?? h.sigv4;
    for (const name of Object.keys(g.http_headers)) {
      if (name.toLowerCase() === 'authorization' && auth !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['http_headers', name], message: 'conflicts with the authentication set in http_client' });
      }
    }
  });

export const querySchema = z
  .strictObject({
    server_groups: z.array(serverGroupSchema).min(1, 'at least one server group is needed'),
    lookback_delta: positiveDuration.default(parseDuration('5m')),
    timeout: positiveDuration.default(parseDuration('2m')),
    max_samples: z.number().int().min(1).default(50_000_000),
    max_concurrency: z.number().int().min(1).max(10_000).default(64),
    /** match[] per /series, /labels, /label/../values or /federate request; 0: no limit. */
    max_match_selectors: z.number().int().min(0).default(1000),
    /** /query and /query_range evaluated at once (Prometheus's --query.max-concurrency). */
    max_concurrent_queries: z.number().int().min(1).max(10_000).default(20),
    /** Queries waiting for a turn; more are refused with 503. */
    max_queued_queries: z.number().int().min(0).max(1_000_000).default(200),
    /** stats=all lists the samples read per step (Prometheus's --enable-feature=promql-per-step-stats). */
    per_step_stats: z.boolean().default(false),
    semantics: z.enum(['prometheus-3', 'prometheus-2']).default('prometheus-3'),
    results_cache: resultsCacheSchema.prefault({}),
    /** Default of every server group's keep_external_labels. */
    keep_external_labels: z.boolean().default(false),
    /**
     * Worker threads computing per-group partial aggregates (docs/parallel.md); 0 turns them off.
     * Default: one per core when the host has two or more.
     */
    partial_workers: z.number().int().min(0).max(256).optional(),
    /**
     * Nice value the query thread and the partial-aggregation workers give themselves (Linux,
     * per thread), so the main thread's scrapes, shard and health answers get the CPU first; 0: off.
     */
    thread_nice: z.number().int().min(0).max(19).default(5),
    /**
     * Per-group partial aggregates evaluated by the groups' servers where each is one Prometheus
     * evaluating as we do (docs/parallel.md, "Pushed to the servers").
     */
    partial_pushdown: z.boolean().default(true),
    /** Default of every server group's replica_labels. */
    replica_labels: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name')).default([]),
  })
  .superRefine((q, ctx) => {
    const names = new Map<string, number>();
    q.server_groups.forEach((g, i) => {
      const name = g.name ?? `group-${i}`;
      const prev = names.get(name);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['server_groups', i, 'name'], message: `same name as server_groups.${prev}` });
      names.set(name, i);
    });
  });

const LISTEN = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]*):(\d{1,5})$/;

export const configSchema = z.strictObject({
  listen: z
    .string()
    .regex(LISTEN, 'must be host:port, e.g. "127.0.0.1:9099" or ":9099"')
    .refine((l) => !LISTEN.test(l) || Number(LISTEN.exec(l)![2]) <= 65535, 'port must be from 0 to 65535')
    .default('127.0.0.1:9099'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  shard: shardSchema.optional(),
  query: querySchema.optional(),
  push: pushSchema.optional(),
  publish: publishSchema.optional(),
  fleet: fleetSchema.optional(),
  ...rulesConfigFields,
});

export type Config = z.infer<typeof configSchema>;
export type ShardConfig = z.infer<typeof shardSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type ShardSourceConfig = ShardConfig['sources'][number];
export type TlsConfig = z.infer<typeof tlsConfigSchema>;
export type QueryConfig = z.infer<typeof querySchema>;
export type ServerGroupConfig = z.infer<typeof serverGroupSchema>;
export type HttpClientConfig = z.infer<typeof httpClientSchema>;
export type SigV4Config = z.infer<typeof sigv4Schema>;
export type FileSdConfig = z.infer<typeof fileSdConfigSchema>;
export type DnsSdConfig = z.infer<typeof dnsSdConfigSchema>;

/** Derived shard settings with every default resolved. */
export function resolvedTimings(s: ShardConfig): { intervalMs: number; timeoutMs: number; maxStaleMs: number } {
  return {
    intervalMs: s.scrape_interval,
    timeoutMs: s.scrape_timeout ?? s.scrape_interval,
    maxStaleMs: s.max_stale ?? 5 * s.scrape_interval,
  };
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = LISTEN.exec(listen)!;
  let host = m[1];
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(m[2]) };
}
