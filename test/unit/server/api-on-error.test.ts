// The API sub-apps answer their handlers' errors through app.onError: the check that Hono runs a
// sub-app's onError once it is mounted with route() (twice, as query-layer.ts mounts them), that the
// answer keeps Prometheus's envelope and status, and that the request's stats get the errorType.

import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { GroupError } from '../../../src/errors.js';
import type { Storage } from '../../../src/storage/interface.js';
import { createQueryApi } from '../../../src/server/api/query-api.js';
import { createSeriesApi } from '../../../src/server/api/series-api.js';
import { createMetadataApi } from '../../../src/server/api/metadata-api.js';
import { beginRequest, type RequestStats } from '../../../src/server/api/request-stats.js';

function mounted(storage: Storage): { app: Hono; stats: RequestStats[] } {
  const stats: RequestStats[] = [];
  const api = new Hono();
  api.route('/', createQueryApi({ storage, engine: new Engine(), now: () => 1_000_000 }));
  api.route('/', createSeriesApi({ storage }));
  api.route('/', createMetadataApi({ storage }));
  const app = new Hono();
  app.use('*', async (c, next) => {
    stats.push(beginRequest(c, 'other'));
    await next();
  });
  app.route('/api/v1', api);
  return { app, stats };
}

describe('onError of the mounted API apps', () => {
  it('answers a bad query 400 bad_data in the JSON envelope and records the errorType', async () => {
    const { app, stats } = mounted(new MemoryStorage());
    const res = await app.request('/api/v1/query?query=sum(');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as Record<string, string>;
    expect(body.status).toBe('error');
    expect(body.errorType).toBe('bad_data');
    expect(body.error).toMatch(/^invalid parameter "query": 1:5: parse error: /);
    expect(stats[0].errorType).toBe('bad_data');
  });

  it('answers a failed server group 503 unavailable from every endpoint kind', async () => {
    const failing: Storage = {
      select: async () => {
        throw new GroupError('g', undefined, 'down');
      },
      labelNames: async () => {
        throw new GroupError('g', undefined, 'down');
      },
      labelValues: async () => {
        throw new GroupError('g', undefined, 'down');
      },
      metadata: async () => {
        throw new GroupError('g', undefined, 'down');
      },
    };
    const { app, stats } = mounted(failing);
    for (const path of [
      '/api/v1/query?query=up',
      '/api/v1/query_range?query=up&start=0&end=60&step=15',
      '/api/v1/series?match[]=up',
      '/api/v1/labels',
      '/api/v1/label/job/values',
      '/api/v1/metadata',
    ]) {
      const res = await app.request(path);
      expect([path, res.status]).toEqual([path, 503]);
      expect(await res.json()).toEqual({ status: 'error', errorType: 'unavailable', error: 'server group "g" failed: down' });
    }
    expect(stats.map((s) => s.errorType)).toEqual(Array(6).fill('unavailable'));
  });
});
