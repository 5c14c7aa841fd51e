// Prometheus's /federate (web/federate.go) over the server groups: for every match[] selector, the
// latest sample of each matching series in the lookback window ending now, as text format 0.0.4.
//
// As in Prometheus: only GET; no match[] gives an empty answer; a selector that does not parse is
// a plain-text 400; a series whose latest sample is a staleness marker is left out (the exposition
// format cannot carry one); series from several selectors are merged. A storage failure is a
// plain-text 500, or 503 when a server group could not answer (Prometheus's "not ready" status).

import { Hono, type Context } from 'hono';
import type { DiscoveryLog } from '../query/discovery/target.js';
import type { LabelMatcher } from '../model/labels.js';
import { parseMetricSelector } from '../promql/parser.js';
import { type Series } from '../storage/interface.js';
import { compareLabels, labelsToString } from '../model/labels.js';
import { methodNotAllowed } from './api/http-api.js';
import { scopedStorage, type StorageSource } from '../storage/view.js';
import { addStorageStats, addWarnings, requestStats } from './api/request-stats.js';
import { federationText, type FederatedSample } from './federate-text.js';
import { StorageUnavailableError } from '../errors.js';
import { runWithDeadline, tooManyMatchers } from './api/deadline.js';

export const CONTENT_TYPE_TEXT_004 = 'text/plain; version=0.0.4; charset=utf-8';

export interface FederationDeps {
  storage: StorageSource;
  lookbackDeltaMs: number;
  /** Clock in ms since the epoch (default Date.now): federation evaluates at "now". */
  now?: () => number;
  log?: DiscoveryLog;
  /** Deadline of each request (the query timeout); none when undefined. */
  timeoutMs?: number;
  /** At most this many match[] per request (0 or undefined: no limit). */
  maxMatchSelectors?: number;
  /** Told of each request refused for too many match[]. */
  onRefused?: (reason: 'too_many_matchers') => void;
}

/** Go's http.Error: a plain-text body ending in a newline. */
function httpError(c: Context, message: string, status: number, errorType: string): Response {
  const stats = requestStats(c);
  if (stats) stats.errorType = errorType;
  return c.body(`${message}\n`, status as 400, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
}

/** The latest sample at or before `maxT` of each series, skipping series whose latest is stale. */
export function latestSamples(series: readonly Series[], maxT: number): FederatedSample[] {
  const out: FederatedSample[] = [];
  for (const s of series) {
    let i = s.timestamps.length - 1;
    while (i >= 0 && s.timestamps[i] > maxT) i--;
    if (i < 0) continue;
    if (s.stale !== undefined && s.stale[i] === 1) continue;
    out.push({ labels: s.labels, t: s.timestamps[i], v: s.values[i] });
  }
  return out;
}

/** Series of several selects merged: sorted by labels, one copy of a series found more than once. */
function mergeSelected(lists: Series[][]): Series[] {
  if (lists.length === 1) return lists[0];
  const all = lists.flat().sort((a, b) => compareLabels(a.labels, b.labels));
  return all.filter((s, i) => i === 0 || compareLabels(all[i - 1].labels, s.labels) !== 0);
}

export function createFederation(deps: FederationDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;

  app.get('/federate', async (c) => {
    const url = new URL(c.req.url);
    const match = url.searchParams.getAll('match[]');
    const stats = requestStats(c);
    if (stats && match.length > 0) stats.match = match;
    const refusal = tooManyMatchers(match.length, deps.maxMatchSelectors);
    if (refusal !== undefined) {
      deps.onRefused?.('too_many_matchers');
      return httpError(c, refusal.message, 400, 'bad_data');
    }
    let sets: LabelMatcher[][];
    try {
      sets = match.map((m) => parseMetricSelector(m));
    } catch (e) {
      return httpError(c, (e as Error).message, 400, 'bad_data');
    }

    const maxT = now();
    const minT = maxT - deps.lookbackDeltaMs;
    const view = scopedStorage(deps.storage);
    let found: Series[];
    try {
      const lists = await runWithDeadline(c.req.raw.signal, deps.timeoutMs, (signal) =>
        Promise.all(sets.map((ms) => view.storage.select(ms, minT, maxT, { startMs: minT, endMs: maxT }, signal))),
      );
      found = mergeSelected(lists);
    } catch (e) {
      // federate.go answers any select error, its context's deadline included, with a plain 500.
      const msg = e instanceof Error ? e.message : String(e);
      return e instanceof StorageUnavailableError ? httpError(c, msg, 503, 'unavailable') : httpError(c, msg, 500, 'internal');
    } finally {
      addStorageStats(c, view.stats);
    }
    addWarnings(stats, view.warnings);
    if (view.warnings.length > 0) deps.log?.info({ warnings: view.warnings }, 'federation select returned warnings');

    const body = federationText(latestSamples(found, maxT), {}, (labels) =>
      deps.log?.warn({ metric: labelsToString(labels) }, 'ignoring nameless metric during federation'),
    );
    return c.body(body, 200, { 'Content-Type': CONTENT_TYPE_TEXT_004 });
  });
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '/federate', (c) => methodNotAllowed(c, 'GET, OPTIONS'));
  return app;
}
