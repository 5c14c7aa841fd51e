// The `push:` section: the Pushgateways that promfront routes pushes to (src/push, docs/push.md).
// Its own file so the shared schema gains one line; the discovery blocks are the server groups'
// (Prometheus's file_sd_config and dns_sd_config, from fields.ts); the connection to the
// Pushgateways takes scheme, tls_config, basic_auth and authorization as a Prometheus scrape config
// names them (one set for all members: pushes, health checks and rebalance moves alike).

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import {
  authorizationSchema,
  basicAuthSchema,
  byteSize,
  dnsSdConfigSchema,
  fileSdConfigSchema,
  labelSet,
  positiveDuration,
  target,
  tlsConfigSchema,
} from './fields.js';

export const pushSchema = z
  .strictObject({
    pushgateways: z
      .strictObject({
        static_configs: z.array(z.strictObject({ targets: z.array(target).min(1), labels: labelSet.default({}) })).default([]),
        file_sd_configs: z.array(fileSdConfigSchema).default([]),
        dns_sd_configs: z.array(dnsSdConfigSchema).default([]),
      })
      .refine((p) => p.static_configs.length + p.file_sd_configs.length + p.dns_sd_configs.length > 0, {
        message: 'at least one of static_configs, file_sd_configs and dns_sd_configs is needed',
      }),
    /** How often each Pushgateway's /-/healthy and /-/ready are asked. */
    health_check_interval: positiveDuration.default(parseDuration('5s')),
    /** Move groups whose owner changed to the new owner, then delete the old copy. */
    rebalance: z.boolean().default(true),
    /** Largest push body forwarded; a larger one is refused with 413 before the owner sees a byte past it. */
    max_body_size: byteSize.default(parseByteSize('16MiB')),
    /** Bound on one forwarded request, from connecting to the last byte of the answer. */
    forward_timeout: positiveDuration.default(parseDuration('30s')),
    /** The job name `./proxy scrape-config` prints for the Pushgateways. */
    job_name: z.string().min(1).default('pushgateway'),
    /** http, or https to talk TLS to every Pushgateway. */
    scheme: z.enum(['http', 'https']).default('http'),
    tls_config: tlsConfigSchema.optional(),
    basic_auth: basicAuthSchema.optional(),
    authorization: authorizationSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.basic_auth !== undefined && p.authorization !== undefined)
      ctx.addIssue({ code: 'custom', message: 'at most one of basic_auth and authorization may be set' });
  });

export type PushConfig = z.infer<typeof pushSchema>;
