// The push capability's factory: what src/server/capabilities.ts lists to run Pushgateway routing
// when the config has a `push:` section (src/push/service.ts does the work, docs/push.md says how).

import type { CapabilityFactory } from '../capability.js';
import type { Config } from '../config/schema.js';
import { PushService } from './service.js';

export const pushCapability: CapabilityFactory = {
  name: 'push',
  enabled: (config: Config) => config.push !== undefined,
  section: (config: Config) => config.push,
  create(config, ctx) {
    const svc = new PushService(config, ctx);
    return {
      name: svc.name,
      start: () => svc.start(),
      reload: (next) => svc.reload(next),
      stop: () => svc.stop(),
      fetch: (req, env) => svc.fetch(req, env),
      metrics: () => svc.metricsText(),
      status: () => svc.status(),
    };
  },
};
