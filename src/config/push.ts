// The `push:` section: the Pushgateways that promfront routes pushes to (src/push, docs/push.md).
// Its own file so the shared schema gains one line; it defines its small field types itself
// because importing schema.ts back would be an import cycle. The discovery blocks mean what they
// mean for server groups (Prometheus's file_sd_config and dns_sd_config).

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import { isLegacyLabelName } from '../model/label-name.js';

const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const positiveDuration = duration.refine((ms) => ms > 0, 'must be greater than 0');

const byteSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseByteSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;
const FILE_SD_PATTERN = /^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$/;

const labels = z.record(z.string(), z.string()).superRefine((l, ctx) => {
  for (const name of Object.keys(l)) {
    if (!isLegacyLabelName(name)) ctx.addIssue({ code: 'custom', path: [name], message: `invalid label name "${name}"` });
    else if (name.startsWith('__')) ctx.addIssue({ code: 'custom', path: [name], message: `label names starting with "__" are reserved` });
  }
});

export const pushSchema = z.strictObject({
  pushgateways: z
    .strictObject({
      static_configs: z
        .array(z.strictObject({ targets: z.array(z.string().regex(ADDRESS, 'must be host:port')).min(1), labels: labels.default({}) }))
        .default([]),
      file_sd_configs: z
        .array(
          z.strictObject({
            files: z.array(z.string().regex(FILE_SD_PATTERN, 'must name .json, .yml or .yaml files, with "*" only in the file name')).min(1),
            refresh_interval: positiveDuration.default(parseDuration('5m')),
          }),
        )
        .default([]),
      dns_sd_configs: z
        .array(
          z
            .strictObject({
              names: z.array(z.string().min(1)).min(1),
              type: z
                .string()
                .transform((t) => t.toUpperCase())
                .pipe(z.enum(['SRV', 'A', 'AAAA']))
                .default('SRV'),
              port: z.number().int().min(1).max(65535).optional(),
              refresh_interval: positiveDuration.default(parseDuration('30s')),
            })
            .refine((d) => d.type === 'SRV' || d.port !== undefined, { path: ['port'], message: 'is required for A and AAAA records' }),
        )
        .default([]),
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
});

export type PushConfig = z.infer<typeof pushSchema>;
