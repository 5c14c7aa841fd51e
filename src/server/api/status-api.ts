// Prometheus's /api/v1/status/config: the running config as YAML, secrets hidden (config-yaml.ts).

import { Hono } from 'hono';
import { goJsonString, respondSuccess } from './http-api.js';

export interface StatusApiDeps {
  /** The running config as YAML with its secrets already replaced. */
  configYaml: () => string;
}

export function createStatusApi(deps: StatusApiDeps): Hono {
  const app = new Hono();
  app.get('/status/config', (c) => respondSuccess(c, `{"yaml":${goJsonString(deps.configYaml())}}`));
  return app;
}
