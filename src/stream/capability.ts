// How NATS federation plugs into the process: the `publish:` section as a capability (the edge),
// and the factory the server layer hands the shard service for `nats` sources (the centre).

import { accessSync, constants } from 'node:fs';
import type { CapabilityFactory } from '../capability.js';
import type { NatsConnectionConfig } from '../config/stream.js';
import type { PushedSourceFactory } from '../shard/pushed-source.js';
import { NatsSource } from './nats-source.js';
import { Publisher } from './publisher.js';

function fileProblems(path: string, c: NatsConnectionConfig): string[] {
  const files: [string, string | undefined][] = [
    ['creds_file', c.creds_file],
    ['nkey_seed_file', c.nkey_seed_file],
    ['tls_config.ca_file', c.tls_config?.ca_file],
    ['tls_config.cert_file', c.tls_config?.cert_file],
    ['tls_config.key_file', c.tls_config?.key_file],
  ];
  const out: string[] = [];
  for (const [field, file] of files) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      out.push(`${path}.${field}: cannot read ${file}`);
    }
  }
  return out;
}

export const publishFactory: CapabilityFactory = {
  name: 'publish',
  enabled: (config) => config.publish !== undefined,
  section: (config) => config.publish,
  create: (config, ctx) => new Publisher(config, ctx.log.child({ component: 'publish' })),
  problems: (config) => fileProblems('publish.nats', config.publish!.nats),
};

export const natsSourceFactory: PushedSourceFactory = (config, ctx) => new NatsSource(config, ctx.numShards, ctx.log);
