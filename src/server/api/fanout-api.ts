// The endpoints of Prometheus's HTTP API that are answered from the downstream servers' own answers
// rather than by our engine: /rules, /alerts, /targets, /scrape_pools, /targets/metadata, /alertmanagers,
// /status/tsdb and /query_exemplars. Each request is checked here as Prometheus checks it (same
// error texts), sent to every target of every server group (src/query/fanout-get.ts) and the
// answers merged (src/query/api-merge.ts). A Hono sub-app meant to be mounted at /api/v1.

import { Hono, type Context } from 'hono';
import { ApiError, DeadlineExceededError, StorageUnavailableError } from '../../errors.js';
import type { Semantics } from '../../promql/functions/types.js';
import { parseExpr, parseMetricSelector } from '../../promql/parser.js';
import { goQuote } from '../../util/go-quote.js';
import { compareStrings } from '../../model/labels.js';
import type { ApiFanout, FanoutAnswer } from '../../query/fanout-get.js';
import type { ApiGetEndpoint } from '../../query/downstream/metrics.js';
import {
  goJson,
  labelAlerts,
  labelRuleGroupAlerts,
  mergeAlertList,
  mergeAlertmanagers,
  mergeExemplars,
  mergeGroupTargets,
  mergeRuleGroups,
  mergeTargetMetadata,
  mergeTargets,
  mergeTsdbStatus,
} from '../../query/api-merge.js';
import { errorResponse, formOf, goAtoi, invalidParam, MAX_TIME_MS, MIN_TIME_MS, respondSuccess, timeParam } from './http-api.js';
import { runWithDeadline } from './deadline.js';

export interface FanoutApiDeps {
  fanout: ApiFanout;
  semantics?: Semantics;
  /** Deadline of each request (the query timeout); none when undefined. */
  timeoutMs?: number;
}

/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- downstream answers are JSON of any shape; api-merge.ts checks fields where it reads them */

export function createFanoutApi(deps: FanoutApiDeps): Hono {
  const app = new Hono();
  app.onError((e, c) => errorResponse(c, e));
  const semantics = deps.semantics ?? 'prometheus-3';

  /** Asks every target; failures mapped as the other storage-backed endpoints map them. */
  const ask = async (c: Context, endpoint: ApiGetEndpoint, path: string, params: [string, string][]): Promise<FanoutAnswer> => {
    try {
      return await runWithDeadline(c.req.raw.signal, deps.timeoutMs, (signal) => deps.fanout.get(endpoint, path, params, signal));
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof DeadlineExceededError) throw new ApiError('execution', e.message);
      if (e instanceof StorageUnavailableError) throw new ApiError('unavailable', e.message);
      throw new ApiError('execution', e instanceof Error ? e.message : String(e));
    }
  };
  /** The query string's parameters that are passed on as they came (Prometheus reads them from the URL). */
  const urlParams = (c: Context, names: readonly string[]): [string, string][] => {
    const u = new URL(c.req.url);
    return [...u.searchParams].filter(([k]) => names.includes(k));
  };

  app.get('/rules', async (c) => {
    const typ = (new URL(c.req.url).searchParams.get('type') ?? '').toLowerCase();
    if (typ !== '' && typ !== 'alert' && typ !== 'record') throw invalidParam(new Error(`not supported value ${goQuote(typ)}`), 'type');
    // 3.x's filters pass on to the downstreams, which apply them (2.42 ignores them).
    const a = await ask(c, 'rules', '/api/v1/rules', urlParams(c, ['type', 'rule_name[]', 'rule_group[]', 'file[]', 'exclude_alerts', 'match[]']));
    const lists = a.groups.flatMap((g) => g.replicas.map((r) => labelRuleGroupAlerts((r.data as any)?.groups ?? [], g.labels)));
    return respondSuccess(c, goJson({ groups: mergeRuleGroups(lists) }), a.warnings);
  });

  app.get('/alerts', async (c) => {
    const a = await ask(c, 'alerts', '/api/v1/alerts', []);
    const lists = a.groups.flatMap((g) => g.replicas.map((r) => labelAlerts((r.data as any)?.alerts ?? [], g.labels)));
    return respondSuccess(c, goJson({ alerts: mergeAlertList(lists) }), a.warnings);
  });

  app.get('/targets', async (c) => {
    const a = await ask(c, 'targets', '/api/v1/targets', urlParams(c, ['state', 'scrapePool']));
    const merged = a.groups.map((g) => ({ group: g.group, merged: mergeGroupTargets(g.replicas.map((r) => r.data)) }));
    return respondSuccess(c, goJson(mergeTargets(merged)), a.warnings);
  });

  app.get('/scrape_pools', async (c) => {
    const a = await ask(c, 'scrape_pools', '/api/v1/scrape_pools', []);
    const pools = new Set<string>();
    for (const g of a.groups) for (const r of g.replicas) for (const p of (r.data as any)?.scrapePools ?? []) pools.add(String(p));
    return respondSuccess(c, goJson({ scrapePools: [...pools].sort(compareStrings) }), a.warnings);
  });

  app.get('/targets/metadata', async (c) => {
    const form = await formOf(c);
    let limit = -1;
    if (form('limit') !== '') {
      try {
        limit = goAtoi(form('limit'));
      } catch {
        throw new ApiError('bad_data', 'limit must be a number');
      }
    }
    const matchTarget = form('match_target');
    if (matchTarget !== '') {
      try {
        parseMetricSelector(matchTarget, { anchoredRegexErrors: semantics === 'prometheus-2' });
      } catch (e) {
        throw invalidParam(e, 'match_target');
      }
    }
    const params: [string, string][] = [];
    for (const name of ['match_target', 'metric', 'limit']) if (form(name) !== '') params.push([name, form(name)]);
    const a = await ask(c, 'targets_metadata', '/api/v1/targets/metadata', params);
    const lists = a.groups.flatMap((g) => g.replicas.map((r) => (Array.isArray(r.data) ? r.data : [])));
    return respondSuccess(c, goJson(mergeTargetMetadata(lists, limit)), a.warnings);
  });

  app.get('/alertmanagers', async (c) => {
    const a = await ask(c, 'alertmanagers', '/api/v1/alertmanagers', []);
    return respondSuccess(c, goJson(mergeAlertmanagers(a.groups.flatMap((g) => g.replicas.map((r) => r.data)))), a.warnings);
  });

  app.get('/status/tsdb', async (c) => {
    // 3.x takes `limit` (1 to 10000, default 10); 2.42 has no parameter and lists 10.
    let limit = 10;
    const params: [string, string][] = [];
    if (semantics === 'prometheus-3') {
      const s = new URL(c.req.url).searchParams.get('limit') ?? '';
      if (s !== '') {
        let n: number;
        try {
          n = goAtoi(s);
        } catch {
          n = 0;
        }
        if (n <= 0 || n > 10000) throw new ApiError('bad_data', 'limit must be a positive number');
        limit = n;
        params.push(['limit', s]);
      }
    }
    const a = await ask(c, 'tsdb', '/api/v1/status/tsdb', params);
    const groups = a.groups.map((g) => g.replicas.map((r) => r.data));
    return respondSuccess(c, goJson(mergeTsdbStatus(groups, limit)), a.warnings);
  });

  const exemplars = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const start = timeParam(form, 'start', MIN_TIME_MS, semantics);
    const end = timeParam(form, 'end', MAX_TIME_MS, semantics);
    if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start timestamp');
    let hasSelector: boolean;
    try {
      hasSelector = selectorsIn(parseExpr(form('query'), { anchoredRegexErrors: semantics === 'prometheus-2' }));
    } catch (e) {
      throw new ApiError('bad_data', (e as Error).message);
    }
    // Prometheus answers a query without selectors with no data: 204 and no body.
    if (!hasSelector) return c.body(null, 204);
    const params: [string, string][] = [['query', form('query')]];
    for (const name of ['start', 'end']) if (form(name) !== '') params.push([name, form(name)]);
    const a = await ask(c, 'query_exemplars', '/api/v1/query_exemplars', params);
    const groups = a.groups.map((g) => ({ labels: g.labels, replicas: g.replicas.map((r) => (Array.isArray(r.data) ? r.data : [])) }));
    return respondSuccess(c, goJson(mergeExemplars(groups)), a.warnings);
  };
  app.on(['GET', 'POST'], '/query_exemplars', exemplars);
  return app;
}

/** Whether an expression holds a vector or matrix selector (parser.ExtractSelectors is not empty). */
function selectorsIn(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  const n = node as Record<string, unknown>;
  if (n.type === 'VectorSelector') return true;
  return Object.values(n).some((v) => (Array.isArray(v) ? v.some(selectorsIn) : selectorsIn(v)));
}
