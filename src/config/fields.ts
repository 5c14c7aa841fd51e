// The field schemas the config's sections share (durations, sizes, label sets, TLS, auth, SigV4,
// file and DNS discovery), apart from schema.ts so that a capability's own section schema
// (src/config/<section>.ts) can use them while schema.ts imports that section: no import cycle.

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import { isLegacyLabelName } from '../model/label-name.js';

export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
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

export const byteSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseByteSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const labelSet = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const name of Object.keys(labels)) {
    if (!isLegacyLabelName(name)) ctx.addIssue({ code: 'custom', path: [name], message: `invalid label name "${name}"` });
    else if (name.startsWith('__')) ctx.addIssue({ code: 'custom', path: [name], message: `label names starting with "__" are reserved` });
  }
});

export const secretString = z.string().min(1);

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

export const TARGET_ADDRESS = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;
export const target = z.string().regex(TARGET_ADDRESS, 'must be host:port');

export const positiveDuration = duration.refine((ms) => ms > 0, 'must be greater than 0');

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

/** An absolute http:// or https:// URL; `message` says what the field is when it is not. */
export function httpUrl(message: string) {
  return z.string().refine((u) => {
    try {
      const p = new URL(u);
      return p.protocol === 'http:' || p.protocol === 'https:';
    } catch {
      return false;
    }
  }, message);
}

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
 * Prometheus's http_sd_config: url, refresh_interval and the HTTP client's auth and TLS fields
 * (basic_auth, authorization, bearer_token(_file), tls_config; oauth2 and proxies are not supported).
 */
export const httpSdConfigSchema = z
  .strictObject({
    url: httpUrl('URL scheme must be http or https'),
    refresh_interval: positiveDuration.default(parseDuration('60s')),
    tls_config: tlsConfigSchema.optional(),
    basic_auth: basicAuthSchema.optional(),
    authorization: authorizationSchema.optional(),
    bearer_token: secretString.optional(),
    bearer_token_file: z.string().optional(),
  })
  .superRefine((h, ctx) => {
    const set = (['basic_auth', 'authorization', 'bearer_token', 'bearer_token_file'] as const).filter((k) => h[k] !== undefined);
    if (set.length > 1)
      ctx.addIssue({
        code: 'custom',
        message: `at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set (found ${set.join(', ')})`,
      });
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
