// The fleet capability's factory: the one entry src/server/capabilities.ts lists.

import { existsSync } from 'node:fs';
import type { CapabilityFactory } from '../capability.js';
import { Fleet } from './fleet.js';

export const fleetFactory: CapabilityFactory = {
  name: 'fleet',
  enabled: (config) => config.fleet !== undefined,
  // The shard section too: targets.shards hands out its endpoints.
  section: (config) => [config.fleet, config.fleet?.targets.shards ? config.shard : undefined],
  create: (config, ctx) => new Fleet(config, ctx),
  problems(config) {
    const f = config.fleet!;
    const out: string[] = [];
    if (f.targets.shards && config.shard === undefined) out.push('fleet.targets.shards: there is no shard section to hand out');
    if (f.targets.shards && f.targets.etcd_prefix === undefined)
      out.push('fleet.targets.shards: needs fleet.targets.etcd_prefix (shard endpoints are registered there)');
    for (const field of ['ca_file', 'cert_file', 'key_file'] as const) {
      const p = f.etcd.tls_config?.[field];
      if (p !== undefined && !existsSync(p)) out.push(`fleet.etcd.tls_config.${field}: ${p} does not exist`);
    }
    return out;
  },
};
