// One log line and one set of metric observations per request of the query layer: what was asked
// (query or match[]), how long it took, how it ended, which server groups it reached, how many
// samples it loaded and how many warnings it returned. Never request headers (they carry secrets).

import type { MiddlewareHandler } from 'hono';
import type { DiscoveryLog } from '../../query/discovery/target.js';
import type { QueryMetrics } from '../../query/downstream/metrics.js';
import { beginRequest, type QueryType } from './request-stats.js';

const TYPE_BY_PATH: [RegExp, QueryType][] = [
  [/\/api\/v1\/query$/, 'instant'],
  [/\/api\/v1\/query_range$/, 'range'],
  [/\/api\/v1\/series$/, 'series'],
  [/\/api\/v1\/labels$/, 'labels'],
  [/\/api\/v1\/label\/[^/]*\/values$/, 'label_values'],
  [/\/api\/v1\/metadata$/, 'metadata'],
  [/\/api\/v1\/read$/, 'read'],
  [/\/federate$/, 'federate'],
];

export function queryTypeOf(path: string): QueryType {
  for (const [re, type] of TYPE_BY_PATH) if (re.test(path)) return type;
  return 'other';
}

export function instrumentRequests(opts: { metrics?: QueryMetrics; log?: DiscoveryLog }): MiddlewareHandler {
  return async (c, next) => {
    const stats = beginRequest(c, queryTypeOf(c.req.path));
    const t0 = performance.now();
    await next();
    const ms = performance.now() - t0;
    const status = c.res.status;
    const outcome = stats.errorType ?? (status >= 400 ? `http_${status}` : 'success');
    opts.metrics?.observeQuery({ type: stats.type, outcome, seconds: ms / 1000, warnings: stats.warnings, samples: stats.samples });
    if (opts.log) {
      const line: Record<string, unknown> = {
        endpoint: c.req.path,
        method: c.req.method,
        type: stats.type,
        status,
        duration_ms: Math.round(ms * 10) / 10,
        groups: [...stats.groups],
        series: stats.series,
        samples: stats.samples,
        warnings: stats.warnings,
      };
      if (stats.query !== undefined) line.query = stats.query;
      if (stats.match !== undefined) line.match = stats.match;
      if (stats.errorType !== undefined) line.error_type = stats.errorType;
      opts.log.info(line, 'query api request');
    }
  };
}
