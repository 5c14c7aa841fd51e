// Prometheus's /api/v1/metadata (web/api/v1/api.go metricMetadata) over the server groups: every
// downstream's metadata, unioned with identical entries per metric merged.
//
// Prometheus walks its targets and a Go map, so which metrics a `limit` keeps is arbitrary there;
// here it keeps the first ones in name order, and the entries of a metric in the order the groups
// (in config order) and their targets gave them.

import { Hono, type Context } from 'hono';
import { type MetricMetadata, type MetricMetadataMap } from '../../storage/interface.js';
import { compareStrings } from '../../model/labels.js';
import { errorResponse, formOf, goJsonString, methodNotAllowed, respondSuccess, goAtoi } from './http-api.js';
import { scopedStorage, type StorageSource } from '../../storage/view.js';
import { addStorageStats } from './request-stats.js';
import { StorageUnavailableError, ApiError, DeadlineExceededError } from '../../errors.js';
import { runWithDeadline } from './deadline.js';

export interface MetadataApiDeps {
  storage: StorageSource;
  /** Deadline of each request (the query timeout); none when undefined. */
  timeoutMs?: number;
}

/** A number parameter of /metadata: -1 when absent, Prometheus's own text when not an integer. */
function intParam(value: string, name: string): number {
  if (value === '') return -1;
  try {
    return goAtoi(value);
  } catch {
    throw new ApiError('bad_data', `${name} must be a number`);
  }
}

export function metadataJson(m: MetricMetadataMap, limit: number): string {
  let names = [...m.keys()].sort(compareStrings);
  if (limit >= 0) names = names.slice(0, limit);
  const parts = names.map((name) => {
    const entries = m.get(name)!.map((e) => `{"type":${goJsonString(e.type)},"help":${goJsonString(e.help)},"unit":${goJsonString(e.unit)}}`);
    return `${goJsonString(name)}:[${entries.join(',')}]`;
  });
  return `{${parts.join(',')}}`;
}

export function createMetadataApi(deps: MetadataApiDeps): Hono {
  const app = new Hono();
  // Errors thrown by this app's handlers; Hono runs it for them also once the app is mounted with route().
  app.onError((e, c) => errorResponse(c, e));

  const metadata = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const limit = intParam(form('limit'), 'limit');
    const limitPerMetric = intParam(form('limit_per_metric'), 'limit_per_metric');
    const metric = form('metric');
    const view = scopedStorage(deps.storage);
    let found: MetricMetadataMap;
    const get = view.storage.metadata?.bind(view.storage);
    try {
      found = get
        ? await runWithDeadline(c.req.raw.signal, deps.timeoutMs, (signal) => get(metric === '' ? undefined : metric, Math.max(0, limitPerMetric), signal))
        : new Map<string, MetricMetadata[]>();
    } catch (e) {
      if (e instanceof DeadlineExceededError) throw new ApiError('execution', e.message);
      if (e instanceof StorageUnavailableError) throw new ApiError('unavailable', e.message);
      throw new ApiError('execution', e instanceof Error ? e.message : String(e));
    } finally {
      addStorageStats(c, view.stats);
    }
    return respondSuccess(c, metadataJson(found, limit), view.warnings);
  };

  app.get('/metadata', metadata);
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '/metadata', (c) => methodNotAllowed(c, 'GET, OPTIONS'));
  return app;
}
