// The `fleet:` section: etcd membership of Prometheus servers and the spread of registered targets
// over their groups (src/fleet, docs/fleet.md). Its own file so the shared schema gains one line; the
// field types it shares with other sections come from fields.ts.

import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { duration, fileSdConfigSchema, httpUrl, labelSet as labels, TARGET_ADDRESS as ADDRESS, tlsConfigSchema } from './fields.js';

/** A group name becomes an etcd key element and a query parameter: no slashes, nothing exotic. */
export const FLEET_GROUP = /^[A-Za-z0-9_.-]+$/;

/** A federate entry's job name: its own, else the last element of the lower fleet's prefix. */
export function federateJobName(l: { fleet_prefix: string; job_name?: string }): string {
  return l.job_name ?? l.fleet_prefix.slice(l.fleet_prefix.lastIndexOf('/') + 1);
}

export const fleetSchema = z
  .strictObject({
    etcd: z
      .strictObject({
        endpoints: z.array(httpUrl('must be an http:// or https:// URL of an etcd client endpoint')).min(1, 'at least one etcd endpoint is needed'),
        prefix: z
          .string()
          .regex(/^\/[^\0]*[^/]$/, 'must start with "/" and not end with "/"')
          .default('/promfront'),
        lease_ttl: duration.refine((ms) => ms >= 2000 && ms % 1000 === 0, 'must be whole seconds, at least 2s').default(parseDuration('10s')),
        /** Bound on one etcd request (watches excepted). */
        request_timeout: duration.refine((ms) => ms > 0, 'must be greater than 0').default(parseDuration('3s')),
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        tls_config: tlsConfigSchema.optional(),
      })
      .superRefine((e, ctx) => {
        if ((e.username === undefined) !== (e.password === undefined))
          ctx.addIssue({ code: 'custom', message: 'username and password must be given together' });
      }),
    register: z
      .strictObject({
        /** The Prometheus server this promfront runs beside, as the query layer and other members reach it. */
        address: z.string().regex(ADDRESS, 'must be host:port'),
        group: z.string().regex(FLEET_GROUP, 'must be letters, digits, "_", "." or "-"'),
      })
      .optional(),
    targets: z
      .strictObject({
        /** Services register <etcd_prefix>/<service>/<host:port> (promster's registry layout). */
        etcd_prefix: z
          .string()
          .regex(/^\/[^\0]*[^/]$/, 'must start with "/" and not end with "/"')
          .optional(),
        static_configs: z
          .array(z.strictObject({ targets: z.array(z.string().regex(ADDRESS, 'must be host:port')).min(1), labels: labels.default({}) }))
          .default([]),
        /**
         * Prometheus file_sd files of targets, read by every promfront of the fleet (the same files
         * everywhere, as static_configs); a target's service is its `service` label, else "file".
         */
        file_sd_configs: z.array(fileSdConfigSchema).default([]),
        /** Also hand out this process's /metrics/shard/K endpoints (registered in etcd with its lease). */
        shards: z.boolean().default(false),
        /**
         * Levels: the members of a lower fleet (registered under its own prefix) become targets of
         * this one, federated with match[] (docs/fleet.md, "Levels").
         */
        federate: z
          .array(
            z.strictObject({
              /** The lower fleet's etcd.prefix; its members are <fleet_prefix>/members/<group>/<host:port>. */
              fleet_prefix: z.string().regex(/^\/[^\0]*[^/]$/, 'must start with "/" and not end with "/"'),
              /** The scrape job's name and the targets' service label; default: the prefix's last element. */
              job_name: z.string().regex(FLEET_GROUP, 'must be letters, digits, "_", "." or "-"').optional(),
              /** The match[] selectors sent to each member's /federate. */
              match: z.array(z.string().min(1)).min(1, 'at least one match[] selector is needed'),
            }),
          )
          .default([]),
      })
      .default({ static_configs: [], file_sd_configs: [], shards: false, federate: [] }),
    /**
     * How long a group keeps a target after it moved away, so the new group scrapes it before the
     * old one stops (docs/fleet.md); at least one scrape interval of the members.
     */
    handover_overlap: duration.default(parseDuration('1m')),
  })
  .superRefine((f, ctx) => {
    const jobs = new Set<string>();
    f.targets.federate.forEach((l, i) => {
      if (l.fleet_prefix === f.etcd.prefix) ctx.addIssue({ code: 'custom', path: ['targets', 'federate', i, 'fleet_prefix'], message: 'is this fleet itself' });
      const job = federateJobName(l);
      if (!FLEET_GROUP.test(job))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', 'federate', i, 'job_name'],
          message: `"${job}" (from fleet_prefix) is not a valid name; set job_name`,
        });
      if (job === 'fleet')
        ctx.addIssue({ code: 'custom', path: ['targets', 'federate', i, 'job_name'], message: '"fleet" is the name of the plain targets\' job' });
      if (jobs.has(job)) ctx.addIssue({ code: 'custom', path: ['targets', 'federate', i, 'job_name'], message: `"${job}" is used twice` });
      jobs.add(job);
    });
    if (f.etcd.prefix === f.targets.etcd_prefix || (f.targets.etcd_prefix?.startsWith(`${f.etcd.prefix}/`) ?? false)) {
      ctx.addIssue({ code: 'custom', path: ['targets', 'etcd_prefix'], message: 'must not be the fleet prefix or inside it' });
    }
  });

export type FleetConfig = z.infer<typeof fleetSchema>;
