// Label matchers for tests, and the selections the downstream suites (JSON API, remote read) all
// compare against an in-memory copy of the backfilled data set, so each asks the same questions.

import { BACKFILL_END_MS, BACKFILL_START_MS } from '../../dev/backfill.js';
import type { LabelMatcher } from '../../src/model/labels.js';

export const eq = (name: string, value: string): LabelMatcher => ({ type: '=', name, value });
export const ne = (name: string, value: string): LabelMatcher => ({ type: '!=', name, value });
export const re = (name: string, value: string): LabelMatcher => ({ type: '=~', name, value });
export const nre = (name: string, value: string): LabelMatcher => ({ type: '!~', name, value });

/** Matcher sets over the backfilled data set: each matcher type, empty matches, every series, none. */
export const DOWNSTREAM_MATCHER_SETS: readonly LabelMatcher[][] = [
  [eq('__name__', 'http_requests_total')],
  [eq('__name__', 'http_requests_total'), re('code', '5..'), ne('method', 'GET')],
  [eq('job', 'sensors')],
  [re('__name__', 'queue_length|up'), eq('job', 'web')],
  [eq('__name__', 'cpu_seconds_total'), nre('instance', '10.0.0.[12]:9100')],
  [eq('__name__', 'batch_processed_total')],
  [re('__name__', 'request_duration_seconds_bucket'), eq('le', '+Inf')],
  [eq('__name__', 'up'), re('job', '.*')], // a matcher that matches "" next to one that does not
  [re('job', '.+')], // every series
  [eq('__name__', 'no_such_metric')],
];

const T0 = BACKFILL_START_MS;
const T_END = BACKFILL_END_MS;
const MIN = 60_000;

/** Time ranges around the backfilled data set: all of it, wider, cut through, tiny, outside. */
export const DOWNSTREAM_TIME_RANGES: readonly [number, number][] = [
  [T0, T_END], // exactly the data set
  [T0 - 60 * MIN, T_END + 60 * MIN], // wider than the data
  [T0 + 10 * MIN + 7_000, T0 + 40 * MIN], // cuts through, start between samples
  [T0 + 3_599_999, T0 + 3_600_000], // 2 ms
  [T0 + 30 * MIN, T0 + 30 * MIN], // a single instant
  [T0 - 60 * MIN, T0 - 1], // before the data
  [T_END + 1, T_END + 30 * MIN], // after the data
];
