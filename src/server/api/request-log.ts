// One log line and one set of metric observations per request of the query layer: what was asked
// (query or match[]), how long it took, how it ended, which server groups it reached, how many
// series and samples it loaded and the warnings it returned. Never request headers (they carry secrets).

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

/**
 * Bounds of what one log line repeats of a request: a query of 300 KB or 20,000 match[] would
 * otherwise make each line as large (Prometheus's query log has the same problem). What is cut is
 * said: `query_length` and `match_count` give the full sizes.
 */
export const LOG_QUERY_MAX_CHARS = 4096;
export const LOG_MATCH_MAX_ENTRIES = 10;
export const LOG_MATCH_MAX_CHARS = 1024;
/** Warnings a line repeats, and the length of each: a group down on every query says the same. */
export const LOG_WARNINGS_MAX_ENTRIES = 5;
export const LOG_WARNING_MAX_CHARS = 512;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/** The answer's warnings as the log line shows them: the first few, each cut; `warnings_count` when any was cut. */
export function loggedWarnings(warnings: readonly string[]): Record<string, unknown> {
  if (warnings.length === 0) return {};
  const out: Record<string, unknown> = { warnings: warnings.slice(0, LOG_WARNINGS_MAX_ENTRIES).map((w) => clip(w, LOG_WARNING_MAX_CHARS)) };
  if (warnings.length > LOG_WARNINGS_MAX_ENTRIES || warnings.some((w) => w.length > LOG_WARNING_MAX_CHARS)) out.warnings_count = warnings.length;
  return out;
}

/** The request's query and match[] as the log line shows them, cut to the bounds above. */
export function loggedRequest(query: string | undefined, match: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (query !== undefined) {
    out.query = clip(query, LOG_QUERY_MAX_CHARS);
    if (query.length > LOG_QUERY_MAX_CHARS) out.query_length = query.length;
  }
  if (match !== undefined) {
    out.match = match.slice(0, LOG_MATCH_MAX_ENTRIES).map((m) => clip(m, LOG_MATCH_MAX_CHARS));
    if (match.length > LOG_MATCH_MAX_ENTRIES || match.some((m) => m.length > LOG_MATCH_MAX_CHARS)) out.match_count = match.length;
  }
  return out;
}

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
      };
      Object.assign(line, loggedRequest(stats.query, stats.match), loggedWarnings(stats.warningTexts));
      if (stats.errorType !== undefined) line.error_type = stats.errorType;
      opts.log.info(line, 'query api request');
    }
  };
}
