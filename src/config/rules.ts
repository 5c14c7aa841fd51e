// The config sections of recording and alerting rules (src/rules): rule_files, evaluation_interval,
// external_labels, remote_write and alerting, named and defaulted as Prometheus names them in its
// own config file, so a Prometheus rules setup moves over unchanged. Kept apart from schema.ts
// (which imports it) so that this capability's section is one file; shared field types (auth, TLS,
// URLs) come from fields.ts. Its durations stay the strings the user wrote
// (checked here, parsed where used) so /api/v1/status/config writes them back as written.

import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { isLegacyLabelName } from '../model/label-name.js';
import { authorizationSchema, basicAuthSchema, httpUrl as httpUrlOf, secretString, tlsConfigSchema } from './fields.js';

const durationText = z.string().refine((v) => {
  try {
    parseDuration(v);
    return true;
  } catch {
    return false;
  }
}, 'not a valid duration string (e.g. "1m", "30s")');

const httpUrl = httpUrlOf('must be an absolute http:// or https:// URL');

/**
 * The auth and TLS fields prometheus/common's HTTP client offers, as remote_write and alertmanagers
 * take them: the same schemas as the query downstreams' http_client (fields.ts), so the same
 * mistakes are refused everywhere (cert_file without key_file, password with password_file,
 * authorization without credentials or with type Basic).
 */
const authFields = {
  basic_auth: basicAuthSchema.optional(),
  authorization: authorizationSchema.optional(),
  bearer_token: secretString.optional(),
  bearer_token_file: z.string().optional(),
  tls_config: tlsConfigSchema.optional(),
};

function oneAuth(c: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const set = ['basic_auth', 'authorization', 'bearer_token', 'bearer_token_file'].filter((k) => c[k] !== undefined);
  if (set.length > 1)
    ctx.addIssue({
      code: 'custom',
      message: `at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set (found ${set.join(', ')})`,
    });
}

/** Prometheus's queue_config, with its 2.42 defaults. */
const queueConfig = z.strictObject({
  capacity: z.number().int().min(1).default(2500),
  max_shards: z.number().int().min(1).default(200),
  min_shards: z.number().int().min(1).default(1),
  max_samples_per_send: z.number().int().min(1).default(500),
  batch_send_deadline: durationText.default('5s'),
  min_backoff: durationText.default('30ms'),
  max_backoff: durationText.default('5s'),
  retry_on_http_429: z.boolean().default(true),
  /** Ours: the most samples held in memory per endpoint; beyond it the oldest are dropped (counted). */
  max_pending_samples: z.number().int().min(1).default(500_000),
});

export const remoteWriteSchema = z
  .strictObject({
    url: httpUrl,
    name: z.string().min(1).optional(),
    remote_timeout: durationText.default('30s'),
    headers: z.record(z.string(), z.string()).default({}),
    queue_config: queueConfig.default(queueConfig.parse({})),
    ...authFields,
  })
  .superRefine(oneAuth);

export const alertmanagerSchema = z
  .strictObject({
    static_configs: z
      .array(z.strictObject({ targets: z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/, 'must be host:port')).min(1) }))
      .min(1),
    scheme: z.enum(['http', 'https']).default('http'),
    path_prefix: z.string().default('/'),
    timeout: durationText.default('10s'),
    api_version: z.literal('v2').default('v2'),
    ...authFields,
  })
  .superRefine(oneAuth);

export const externalLabelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const name of Object.keys(labels)) {
    if (!isLegacyLabelName(name)) ctx.addIssue({ code: 'custom', path: [name], message: `invalid label name "${name}"` });
  }
});

/** The top-level keys this capability reads (spread into configSchema). */
export const rulesConfigFields = {
  rule_files: z.array(z.string().min(1)).optional(),
  evaluation_interval: durationText.refine((v) => parseDuration(v) > 0, 'must be greater than 0').optional(),
  external_labels: externalLabelsSchema.optional(),
  remote_write: z.array(remoteWriteSchema).optional(),
  alerting: z
    .strictObject({
      alertmanagers: z.array(alertmanagerSchema).default([]),
      /** Prometheus's --rules.alert.resend-delay. */
      resend_delay: durationText.default('1m'),
      /** Prometheus's --rules.alert.for-grace-period. */
      for_grace_period: durationText.default('10m'),
      /** Prometheus's --rules.alert.for-outage-tolerance. */
      for_outage_tolerance: durationText.default('1h'),
    })
    .optional(),
};

export type RemoteWriteConfig = z.infer<typeof remoteWriteSchema>;
export type AlertmanagerConfig = z.infer<typeof alertmanagerSchema>;
