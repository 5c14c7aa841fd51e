// The push capability's factory: what src/server/capabilities.ts lists to run Pushgateway routing
// when the config has a `push:` section (src/push/service.ts does the work, docs/push.md says how).

import { accessSync, constants } from 'node:fs';
import type { CapabilityFactory } from '../capability.js';
import type { Config } from '../config/schema.js';
import { PushService } from './service.js';

export const pushCapability: CapabilityFactory = {
  name: 'push',
  enabled: (config: Config) => config.push !== undefined,
  section: (config: Config) => config.push,
  problems(config) {
    // The files the connection reads at start (connection.ts): check-config names one it cannot read.
    const p = config.push;
    if (!p) return [];
    const files: [string, string | undefined][] = [
      ['push.tls_config.ca_file', p.tls_config?.ca_file],
      ['push.tls_config.cert_file', p.tls_config?.cert_file],
      ['push.tls_config.key_file', p.tls_config?.key_file],
      ['push.basic_auth.password_file', p.basic_auth?.password_file],
      ['push.authorization.credentials_file', p.authorization?.credentials_file],
    ];
    const out: string[] = [];
    for (const [field, file] of files) {
      if (file === undefined) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (err) {
        out.push(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    return out;
  },
  create(config, ctx) {
    const svc = new PushService(config, ctx);
    return {
      name: svc.name,
      start: () => svc.start(),
      reload: (next) => svc.reload(next),
      stop: () => svc.stop(),
      fetch: (req, env) => svc.fetch(req, env),
      serveNode: (req) => svc.serveNode(req),
      metrics: () => svc.metricsText(),
      status: () => svc.status(),
    };
  },
};
