// Prometheus's /api/v1/status/* about the process itself: /status/config (the running config as
// YAML, secrets hidden, config-yaml.ts), /status/runtimeinfo and /status/flags (promfront's own,
// in Prometheus's shapes, so Grafana and the Prometheus UI's status pages can read them).

import { Hono } from 'hono';
import { availableParallelism } from 'node:os';
import { goJson } from '../../query/api-merge.js';
import { goJsonString, methodNotAllowed, respondSuccess } from './http-api.js';

export interface StatusApiDeps {
  /** The running config as YAML with its secrets already replaced. */
  configYaml: () => string;
  /** When the running config was loaded (ms since the epoch). */
  configLoadedAt?: number;
}

/** The flags promfront was started with, as Prometheus's flag map: every flag of `run`, its value or default. */
export function flagsMap(argv: readonly string[] = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {
    config: '',
    'log.level': 'info',
    'query.thread-heap-limit': '',
    'web.config.file': '',
    'web.enable-lifecycle': 'false',
    'web.write-timeout': '',
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in out)) continue;
    if (m[2] !== undefined) out[m[1]] = m[2];
    else if (m[1] === 'web.enable-lifecycle') out[m[1]] = 'true';
    else if (i + 1 < argv.length) out[m[1]] = argv[++i];
  }
  return out;
}

/** A time as Go's time.Time marshals it (RFC 3339 with the fraction's trailing zeros cut). */
function goTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

export function createStatusApi(deps: StatusApiDeps): Hono {
  const app = new Hono();
  const loadedAt = deps.configLoadedAt ?? Date.now();
  app.get('/status/config', (c) => respondSuccess(c, `{"yaml":${goJsonString(deps.configYaml())}}`));
  app.get('/status/flags', (c) => respondSuccess(c, goJson(flagsMap())));
  app.get('/status/runtimeinfo', (c) => {
    // promfront keeps no TSDB: no retention and no corruptions; its "goroutines" are the event
    // loop's active handles and requests, its GOMAXPROCS the cores Node may use.
    const info = {
      startTime: goTime(Date.now() - process.uptime() * 1000),
      CWD: process.cwd(),
      reloadConfigSuccess: true,
      lastConfigTime: goTime(loadedAt),
      corruptionCount: 0,
      goroutineCount: process.getActiveResourcesInfo().length,
      GOMAXPROCS: availableParallelism(),
      GOGC: '',
      GODEBUG: '',
      storageRetention: '',
    };
    return respondSuccess(c, goJson(info));
  });
  for (const path of ['/status/config', '/status/flags', '/status/runtimeinfo']) {
    app.on(['POST', 'PUT', 'PATCH', 'DELETE'], path, (c) => methodNotAllowed(c, 'GET, OPTIONS'));
  }
  return app;
}
