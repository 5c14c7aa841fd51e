// The config file's schema (zod): every field, default and check of the sections in one place, with
// Prometheus's conventions (durations like 30s, label-name rules, file_sd paths).

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import { isLegacyLabelName } from '../model/label-name.js';

// Durations and sizes are written the Prometheus way in YAML and carried as milliseconds / bytes.
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === 'number') {
    ctx.addIssue({ code: 'custom', message: `durations are written with a unit, e.g. "${v}s"` });
    return z.NEVER;
  }
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

// A timeout or interval of zero would fire at once (or never end a wait): refused at load.
const positiveDuration = duration.refine((ms) => ms > 0, 'must be greater than 0');

const byteSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseByteSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const labelSet = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const name of Object.keys(labels)) {
    if (!isLegacyLabelName(name)) ctx.addIssue({ code: 'custom', path: [name], message: `invalid label name "${name}"` });
    else if (name.startsWith('__')) ctx.addIssue({ code: 'custom', path: [name], message: `label names starting with "__" are reserved` });
  }
});

const secretString = z.string().min(1);

/** The duration and byte-size field schemas, so a config can be written back with their units. */
export { duration as durationSchema, positiveDuration as positiveDurationSchema, byteSize as byteSizeSchema };

export const tlsConfigSchema = z
  .strictObject({
    ca_file: z.string().optional(),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    server_name: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .superRefine((t, ctx) => {
    if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'cert_file and key_file must be given together' });
    }
  });

export const basicAuthSchema = z
  .strictObject({
    username: z.string().min(1),
    password: secretString.optional(),
    password_file: z.string().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.password !== undefined && b.password_file !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'at most one of password and password_file may be set' });
    }
  });

/**
 * Prometheus's sigv4 block (prometheus/common sigv4.SigV4Config): AWS Signature Version 4 for
 * Amazon Managed Service for Prometheus; empty fields come from the AWS credential chain. `service`
 * is ours: the signing name, `aps` (AMP) unless said.
 */
export const sigv4Schema = z
  .strictObject({
    region: z.string().optional(),
    access_key: z.string().optional(),
    secret_key: z.string().optional(),
    profile: z.string().optional(),
    role_arn: z.string().optional(),
    service: z.string().min(1).default('aps'),
  })
  .superRefine((c, ctx) => {
    if (!c.access_key !== !c.secret_key) {
      ctx.addIssue({ code: 'custom', message: 'must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config' });
    }
  });

export const sourceSchema = z
  .strictObject({
    url: z.string().refine((u) => {
      try {
        const p = new URL(u);
        return p.protocol === 'http:' || p.protocol === 'https:';
      } catch {
        return false;
      }
    }, 'must be an absolute http:// or https:// URL'),
    /** Defaults to the shard section's scrape_timeout. */
    timeout: positiveDuration.optional(),
    headers: z.record(z.string(), z.string()).default({}),
    labels: labelSet.default({}),
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
    scrape_interval: duration.default(parseDuration('15s')),
    scrape_timeout: positiveDuration.optional(),
    /** How long a failed source's last good series are still served; default 5 scrape intervals. */
    max_stale: positiveDuration.optional(),
    max_body_size: byteSize.default(parseByteSize('512MiB')),
    /** Level for the prebuilt gzip bodies: 1 is fastest; scrapers decompress any level equally fast. */
    gzip_level: z.number().int().min(1).max(9).default(1),
    sources: z.array(sourceSchema).min(1, 'at least one source is needed'),
  })
  .superRefine((s, ctx) => {
    if (s.scrape_interval <= 0) ctx.addIssue({ code: 'custom', path: ['scrape_interval'], message: 'must be greater than 0' });
    const timeout = s.scrape_timeout ?? s.scrape_interval;
    if (timeout > s.scrape_interval) ctx.addIssue({ code: 'custom', path: ['scrape_timeout'], message: 'must not be longer than scrape_interval' });
    s.sources.forEach((src, i) => {
      if (src.timeout !== undefined && src.timeout > s.scrape_interval) {
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'timeout'], message: 'must not be longer than scrape_interval' });
      }
    });
    const seen = new Map<string, number>();
    s.sources.forEach((src, i) => {
      const key = `${src.url} ${JSON.stringify(src.labels)}`;
      const prev = seen.get(key);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['sources', i, 'url'], message: `same url and labels as sources.${prev}` });
      else seen.set(key, i);
    });
  });

export const TARGET_ADDRESS = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;
const target = z.string().regex(TARGET_ADDRESS, 'must be host:port');

/**
 * Prometheus's rule for file_sd_configs paths: a JSON or YAML file name, with at most one "*" and
 * only in the last path element.
 */
export const FILE_SD_PATTERN = /^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$/;

/** Prometheus's file_sd_config. */
export const fileSdConfigSchema = z.strictObject({
  files: z
    .array(z.string().regex(FILE_SD_PATTERN, 'must name .json, .yml or .yaml files, with "*" only in the file name'))
    .min(1, 'at least one file pattern is needed'),
  refresh_interval: positiveDuration.default(parseDuration('5m')),
});

/** Prometheus's dns_sd_config (A, AAAA and SRV records; the type is case-insensitive as in Prometheus). */
export const dnsSdConfigSchema = z
  .strictObject({
    names: z.array(z.string().min(1)).min(1, 'at least one name is needed'),
    type: z
      .string()
      .transform((t) => t.toUpperCase())
      .pipe(z.enum(['SRV', 'A', 'AAAA']))
      .default('SRV'),
    port: z.number().int().min(1).max(65535).optional(),
    refresh_interval: positiveDuration.default(parseDuration('30s')),
  })
  .superRefine((d, ctx) => {
    if (d.type !== 'SRV' && d.port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: `is required for type ${d.type} (only SRV records carry a port)` });
    }
  });

/** prometheus/common's authorization block: an Authorization header of the given type. */
export const authorizationSchema = z
  .strictObject({
    type: z.string().trim().min(1).default('Bearer'),
    credentials: secretString.optional(),
    credentials_file: z.string().optional(),
  })
  .superRefine((a, ctx) => {
    if (a.credentials !== undefined && a.credentials_file !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'at most one of credentials and credentials_file may be set' });
    }
    if (a.credentials === undefined && a.credentials_file === undefined) {
      ctx.addIssue({ code: 'custom', message: 'credentials or credentials_file is needed' });
    }
    if (a.type.toLowerCase() === 'basic') ctx.addIssue({ code: 'custom', path: ['type'], message: 'use basic_auth for Basic authorization' });
  });

/**
 * promxy's http_client: its dial_timeout plus the prometheus/common HTTP client fields promfront
 * supports (other fields of that block are rejected as unknown, not ignored).
 */
export const httpClientSchema = z
  .strictObject({
    /** Bound on resolving the name and opening the TCP connection (TLS handshake not included), as Go's Dialer.Timeout. */
    dial_timeout: positiveDuration.default(parseDuration('200ms')),
    tls_config: tlsConfigSchema.optional(),
    basic_auth: basicAuthSchema.optional(),
    authorization: authorizationSchema.optional(),
    bearer_token: secretString.optional(),
    bearer_token_file: z.string().optional(),
    sigv4: sigv4Schema.optional(),
  })
  .superRefine((h, ctx) => {
    const set = (['basic_auth', 'authorization', 'bearer_token', 'bearer_token_file'] as const).filter((k) => h[k] !== undefined);
    // sigv4 writes the Authorization header itself.
    if (h.sigv4 !== undefined && set.length > 0)
      ctx.addIssue({ code: 'custom', path: ['sigv4'], message: `sigv4 cannot be combined with ${set.join(', ')}: it sets the Authorization header` });
    if (set.length > 1)
      ctx.addIssue({
        code: 'custom',
        message: `at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set (found ${set.join(', ')})`,
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
     * The group's servers evaluate PromQL as `query.semantics` says (e.g. Prometheus 3.x for
     * prometheus-3): per-series sub-expressions may be evaluated there (docs/pushdown.md).
     */
    pushdown: z.boolean().default(false),
  })
  .superRefine((g, ctx) => {
    if (g.static_configs.length + g.file_sd_configs.length + g.dns_sd_configs.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one of static_configs, file_sd_configs and dns_sd_configs is needed' });
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
    semantics: z.enum(['prometheus-3', 'prometheus-2']).default('prometheus-3'),
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
});

export type Config = z.infer<typeof configSchema>;
export type ShardConfig = z.infer<typeof shardSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
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
