// Prometheus's series lookups (web/api/v1/api.go series, labelNames, labelValues): /series,
// /labels and /label/:name/values. A Hono sub-app meant to be mounted at /api/v1.
//
// Parameters, checks, their order and error texts follow api.go of Prometheus 3 (limit and its
// "results truncated due to limit" warning included; in prometheus-2 mode limit is ignored as 2.42 does); the label-name check of /label/:name/values
// is 2.42's (legacy names) in prometheus-2 mode and 3's (any UTF-8, U__ escaping) otherwise.
// Series are found without reading samples where the storage can (Storage.series).

import { Hono, type Context } from 'hono';
import { type LabelMatcher, type Labels } from '../../model/labels.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../../model/time.js';
import { matcherMatchesEmpty, parseMetricSelector } from '../../promql/parser.js';
import type { Semantics } from '../../promql/functions/types.js';
import { type Storage } from '../../storage/interface.js';
import { compareStrings } from '../../model/labels.js';
import { seriesOf, unionLabelSets } from '../../storage/read.js';
import { goQuote } from '../../util/go-quote.js';
import {
  errorResponse,
  formOf,
  invalidParam,
  labelsJson,
  limitParam,
  methodNotAllowed,
  respondSuccess,
  stringListJson,
  timeParam,
  type Form,
} from './http-api.js';
import { scopedStorage, type StorageSource } from '../../storage/view.js';
import { addStorageStats } from './request-stats.js';
import { isLegacyLabelName } from '../../model/label-name.js';
import { StorageUnavailableError, ApiError, DeadlineExceededError } from '../../errors.js';
import { runWithDeadline, tooManyMatchers } from './deadline.js';

export interface SeriesApiDeps {
  /** A fixed storage, or one made per request so its warnings reach that request's response. */
  storage: StorageSource;
  /** Which Prometheus's rules apply where they differ (default prometheus-3). */
  semantics?: Semantics;
  /** Deadline of each request (the query timeout); none when undefined. */
  timeoutMs?: number;
  /** At most this many match[] per request (0 or undefined: no limit). */
  maxMatchSelectors?: number;
  /** Told of each request refused for too many match[]. */
  onRefused?: (type: 'series' | 'labels' | 'label_values', reason: 'too_many_matchers') => void;
}

export const TRUNCATED_WARNING = 'results truncated due to limit';

/**
 * api.go parseMatchersParam: every match[] parsed as a metric selector, then each set must have a
 * matcher that does not match the empty string.
 */
export function parseMatcherSets(list: readonly string[], semantics: Semantics = 'prometheus-3'): LabelMatcher[][] {
  const sets = list.map((s) => parseMetricSelector(s, { anchoredRegexErrors: semantics === 'prometheus-2' }));
  for (const set of sets) {
    if (!set.some((m) => !matcherMatchesEmpty(m))) throw new Error('match[] must contain at least one non-empty matcher');
  }
  return sets;
}

/** api.go returnAPIError for storage failures: a group that is down is "unavailable". */
function storageError(e: unknown, signal: AbortSignal): ApiError {
  if (e instanceof ApiError) return e;
  // api.go answers a Select that failed with its context's error as errorExec.
  if (e instanceof DeadlineExceededError) return new ApiError('execution', e.message);
  if (e instanceof StorageUnavailableError) return new ApiError('unavailable', e.message);
  if (signal.aborted) return new ApiError('canceled', 'context canceled');
  return new ApiError('execution', e instanceof Error ? e.message : String(e));
}

/** A string that is not valid UTF-8 once encoded (Go's utf8.ValidString fails). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** model.UnescapeName with ValueEncodingEscaping: `U__` names carry `_<hex>_` code points and `__` for `_`. */
export function unescapeLabelName(name: string): string {
  if (!name.startsWith('U__')) return name;
  const s = name.slice(3);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '_') {
      out += s[i];
      continue;
    }
    i++;
    if (i >= s.length) return name;
    if (s[i] === '_') {
      out += '_';
      continue;
    }
    let cp = 0;
    let j = 0;
    for (; ; j++, i++) {
      if (i >= s.length || j >= 6) return name;
      if (s[i] === '_') break;
      const d = parseInt(s[i], 16);
      if (Number.isNaN(d)) return name;
      cp = cp * 16 + d;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return name;
    out += String.fromCodePoint(cp);
  }
  return out;
}

export function createSeriesApi(deps: SeriesApiDeps): Hono {
  const app = new Hono();
  // Errors thrown by this app's handlers; Hono runs it for them also once the app is mounted with route().
  app.onError((e, c) => errorResponse(c, e));
  const semantics = deps.semantics ?? 'prometheus-3';

  /** Refuses more match[] than allowed before any is parsed (parsing 20,000 is work already). */
  const checkMatchCount = (count: number, type: 'series' | 'labels' | 'label_values'): void => {
    const refusal = tooManyMatchers(count, deps.maxMatchSelectors);
    if (refusal === undefined) return;
    deps.onRefused?.(type, 'too_many_matchers');
    throw refusal;
  };

  /** 2.42 has no `limit` on these endpoints (any value is ignored); 3.x honours it, warning when it cut. */
  const limitOf = (form: Form): number => (semantics === 'prometheus-2' ? 0 : limitParam(form));

  const timeRange = (form: Form): [number, number] => [timeParam(form, 'start', MIN_TIME_MS, semantics), timeParam(form, 'end', MAX_TIME_MS, semantics)];

  /** Runs `fn` on a fresh storage view; storage warnings and stats are kept for the response. */
  const onView = async <T>(c: Context, fn: (storage: Storage, signal: AbortSignal) => Promise<T>): Promise<{ value: T; warnings: string[] }> => {
    const view = scopedStorage(deps.storage);
    const signal = c.req.raw.signal;
    try {
      const value = await runWithDeadline(signal, deps.timeoutMs, (sig) => fn(view.storage, sig));
      return { value, warnings: view.warnings };
    } catch (e) {
      throw storageError(e, signal);
    } finally {
      addStorageStats(c, view.stats);
    }
  };

  const series = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const match = form.all('match[]');
    if (match.length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
    checkMatchCount(match.length, 'series');
    const limit = limitOf(form);
    const [start, end] = timeRange(form);
    let sets: LabelMatcher[][];
    try {
      sets = parseMatcherSets(match, semantics);
    } catch (e) {
      throw invalidParam(e, 'match[]');
    }
    const { value, warnings } = await onView(c, async (storage, signal) =>
      unionLabelSets(await Promise.all(sets.map((ms) => seriesOf(storage, ms, start, end, signal)))),
    );
    let found: Labels[] = value;
    if (limit > 0 && found.length > limit) {
      found = found.slice(0, limit);
      warnings.push(TRUNCATED_WARNING);
    }
    return respondSuccess(c, `[${found.map(labelsJson).join(',')}]`, warnings);
  };

  /** The matcher sets of /labels and /label/:name/values: a bad one is bad_data with the parser's text alone. */
  const labelMatcherSets = (form: Form, type: 'labels' | 'label_values'): LabelMatcher[][] => {
    const match = form.all('match[]');
    checkMatchCount(match.length, type);
    try {
      return parseMatcherSets(match, semantics);
    } catch (e) {
      throw new ApiError('bad_data', (e as Error).message);
    }
  };

  /** Union over the match[] sets (all series when there is none), sorted, truncated to `limit`. */
  const unionRespond = async (
    c: Context,
    limit: number,
    sets: LabelMatcher[][],
    get: (storage: Storage, ms: LabelMatcher[], signal: AbortSignal) => Promise<string[]>,
  ): Promise<Response> => {
    const { value, warnings } = await onView(c, async (storage, signal) => {
      if (sets.length <= 1) return get(storage, sets[0] ?? [], signal);
      const all = new Set<string>();
      for (const list of await Promise.all(sets.map((ms) => get(storage, ms, signal)))) for (const v of list) all.add(v);
      return [...all];
    });
    let list = [...value].sort(compareStrings);
    if (limit > 0 && list.length > limit) {
      list = list.slice(0, limit);
      warnings.push(TRUNCATED_WARNING);
    }
    return respondSuccess(c, stringListJson(list), warnings);
  };

  const labelNames = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const limit = limitOf(form);
    const [start, end] = timeRange(form);
    const sets = labelMatcherSets(form, 'labels');
    return await unionRespond(c, limit, sets, (storage, ms, signal) => storage.labelNames(ms, start, end, signal));
  };

  const labelValues = async (c: Context): Promise<Response> => {
    let name = c.req.param('name') ?? '';
    if (semantics === 'prometheus-2') {
      if (!isLegacyLabelName(name)) throw new ApiError('bad_data', `invalid label name: ${goQuote(name)}`);
    } else {
      name = unescapeLabelName(name);
      if (name === '' || LONE_SURROGATE.test(name)) throw new ApiError('bad_data', `invalid label name: ${goQuote(name)}`);
    }
    const form = await formOf(c);
    const limit = limitOf(form);
    const [start, end] = timeRange(form);
    const sets = labelMatcherSets(form, 'label_values');
    return await unionRespond(c, limit, sets, (storage, ms, signal) => storage.labelValues(name, ms, start, end, signal));
  };

  app.on(['GET', 'POST'], '/series', series);
  app.on(['GET', 'POST'], '/labels', labelNames);
  app.get('/label/:name/values', labelValues);
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '/label/:name/values', (c) => methodNotAllowed(c, 'GET, OPTIONS'));
  return app;
}
