// Shared types and helpers of the PromQL evaluator (engine.ts and eval-*.ts).
//
// Every node is evaluated once for all steps of the evaluation (Prometheus's rangeEval pattern):
// an instant-vector node yields a list of series, each with one value per step and a presence flag.

import { METRIC_NAME, type Label, type Labels } from '../model/labels.js';
import { type Storage } from '../storage/interface.js';
import { labelsKey } from '../model/labels.js';

export { labelsKey };
import type { Semantics } from './functions/types.js';
import type { Expr } from './ast.js';
import { PromQLError, QUERY_CANCELED_MESSAGE, QUERY_TIMEOUT_MESSAGE } from '../errors.js';

/** One series of an instant-vector node: vals[i] is defined where has[i] is 1. */
export interface VSeries {
  labels: Labels;
  /**
   * With delayed name removal: __name__ is still in `labels` but goes at the end of the query
   * (Prometheus's DropName). Always false otherwise, the name being dropped where it happens.
   */
  dropName?: boolean;
  vals: Float64Array;
  has: Uint8Array;
  /** Sample timestamps (ms) per step, kept by vector selectors for timestamp(). */
  sampleTs?: Float64Array;
}

/** One series of a range-vector node: its samples (staleness markers removed), in time order. */
export interface MSeries {
  labels: Labels;
  ts: Float64Array;
  vs: Float64Array;
}

export type Val =
  | { type: 'vector'; series: VSeries[] }
  | { type: 'scalar'; vals: Float64Array }
  | { type: 'string'; v: string }
  | {
      type: 'matrix';
      series: MSeries[];
      rangeMs: number;
      offsetMs: number;
      /** Fixed evaluation time from `@` (already resolved), or undefined. */
      atMs?: number;
    };

export type VectorVal = Extract<Val, { type: 'vector' }>;
export type ScalarVal = Extract<Val, { type: 'scalar' }>;
export type MatrixVal = Extract<Val, { type: 'matrix' }>;

/** State shared by a query's evaluation, including its subqueries' inner evaluations. */
export interface QueryState {
  readonly storage: Storage;
  readonly semantics: Semantics;
  readonly lookbackMs: number;
  readonly maxSamples: number;
  /** performance.now() past which the query has timed out. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** Start and end of the top-level query, for `@ start()` / `@ end()`. */
  readonly queryStart: number;
  readonly queryEnd: number;
  readonly noStepSubqueryIntervalMs: number;
  readonly enableExperimental: boolean;
  /** --enable-feature=promql-delayed-name-removal: __name__ is dropped at the end, not where it happens. */
  readonly delayedNameRemoval: boolean;
  readonly warnings: Set<string>;
  readonly infos: Set<string>;
  /** Work done since the clock was last read (see checkWork). */
  checkCount: number;
  /** Sample statistics, kept only when the query asked for them (ExecOptions.countSamples). */
  readonly samples?: SampleStats;
}

/**
 * What a query counts for Prometheus's `stats` (its util/stats QuerySamples), when asked: the most
 * points held at once (see notePeak in engine.ts), and the points each evaluated node yielded, for
 * its parent's share of that peak. The samples read per step are the evaluation's `counts`.
 */
export interface SampleStats {
  peak: number;
  readonly points: Map<Expr, number>;
}

/** One evaluation: the steps it runs at. */
export interface EvalCtx {
  readonly q: QueryState;
  readonly start: number;
  readonly end: number;
  readonly interval: number;
  /** Step timestamps, start..end by interval. */
  readonly steps: Float64Array;
  /**
   * Samples read per step, as Prometheus counts its totalQueryableSamples: 1 per point an instant
   * vector selector yields, the window's samples for a range function's step. Only when the query
   * counts samples, and not in a subquery's inner evaluation (Prometheus keeps those apart; see
   * evalSubquery).
   */
  readonly counts?: Float64Array;
}

export function makeSteps(start: number, end: number, interval: number): Float64Array {
  const n = interval > 0 ? Math.floor((end - start) / interval) + 1 : 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i * interval;
  return out;
}

/**
 * Work units (about one per sample or step touched) between two looks at the clock: roughly a
 * millisecond of evaluation, so a query stops within a few ms of its deadline, while reading the
 * clock costs nothing measurable. The clock is read, not a flag a timer sets: a timer cannot fire
 * while synchronous evaluation holds the event loop.
 */
const WORK_PER_CHECK = 1 << 15;

/** Checks cancellation and the timeout at once (`force`) or after a share of work; cheap enough for inner loops. */
export function checkAbort(q: QueryState, force = false): void {
  checkWork(q, force ? WORK_PER_CHECK : 64);
}

/** Counts `units` of work done (samples or steps touched) and checks the deadline when enough has piled up. */
export function checkWork(q: QueryState, units: number): void {
  q.checkCount += units;
  if (q.checkCount < WORK_PER_CHECK) return;
  q.checkCount = 0;
  if (q.signal?.aborted) throw new PromQLError('canceled', QUERY_CANCELED_MESSAGE);
  if (performance.now() > q.deadline) throw new PromQLError('timeout', QUERY_TIMEOUT_MESSAGE);
}

/**
 * What to throw for a failed storage call (select, pushdown): a cancellation when the query's own
 * signal fired, whatever the storage made of the abort; the storage's error otherwise.
 */
export function storageCallError(q: QueryState, err: unknown): unknown {
  return q.signal?.aborted ? new PromQLError('canceled', QUERY_CANCELED_MESSAGE) : err;
}

export function tooManySamples(): PromQLError {
  return new PromQLError('execution', 'query processing would load too many samples into memory in query execution');
}

export function newVSeries(labels: Labels, n: number, dropName = false): VSeries {
  return dropName ? { labels, vals: new Float64Array(n), has: new Uint8Array(n), dropName } : { labels, vals: new Float64Array(n), has: new Uint8Array(n) };
}

/**
 * A series whose result loses its metric name, as a new series: the name goes now, or, with delayed
 * name removal, is only marked to go at the end of the query (so label_replace can still read it and
 * two series differing only by name do not collide midway).
 */
export function withoutName(q: QueryState, labels: Labels, n: number): VSeries {
  return q.delayedNameRemoval ? newVSeries(labels, n, true) : newVSeries(dropMetricName(labels), n);
}

export function dropMetricName(l: Labels): Labels {
  for (let i = 0; i < l.length; i++) {
    if (l[i].name === METRIC_NAME) return [...l.slice(0, i), ...l.slice(i + 1)];
  }
  return l;
}

export function getLabel(l: Labels, name: string): string {
  for (const x of l) if (x.name === name) return x.value;
  return '';
}

/** A copy of `l` with label `name` set to `value` (deleted when value is empty), kept sorted. */
export function setLabel(l: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let done = false;
  for (const x of l) {
    if (x.name === name) {
      if (value !== '') out.push({ name, value });
      done = true;
    } else {
      if (!done && value !== '' && compareNames(name, x.name) < 0) {
        out.push({ name, value });
        done = true;
      }
      out.push(x);
    }
  }
  if (!done && value !== '') out.push({ name, value });
  return out;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Only the labels named in `names` (Prometheus's Builder.Keep). */
export function keepLabels(l: Labels, names: readonly string[]): Labels {
  return l.filter((x) => names.includes(x.name));
}

/** Without the labels named in `names`. */
export function delLabels(l: Labels, names: readonly string[]): Labels {
  return l.filter((x) => !names.includes(x.name));
}

export function sameLabelsetError(): PromQLError {
  return new PromQLError('execution', 'vector cannot contain metrics with the same labelset');
}

/**
 * Merges series of equal label sets into one (as Prometheus's rangeEval does across steps); two of
 * them holding a value at the same step is the "same labelset" error. With `whole`, any two series
 * of equal labels are an error (label_replace/label_join check the whole matrix).
 */
export function mergeSameLabels(series: VSeries[], whole = false): VSeries[] {
  if (series.length < 2) return series;
  const byKey = new Map<string, VSeries>();
  let merged = false;
  const out: VSeries[] = [];
  for (const s of series) {
    const k = labelsKey(s.labels);
    const prev = byKey.get(k);
    if (prev === undefined) {
      byKey.set(k, s);
      out.push(s);
      continue;
    }
    if (whole) throw sameLabelsetError();
    merged = true;
    for (let i = 0; i < s.has.length; i++) {
      if (!s.has[i]) continue;
      if (prev.has[i]) throw sameLabelsetError();
      prev.has[i] = 1;
      prev.vals[i] = s.vals[i];
      if (s.sampleTs !== undefined && prev.sampleTs !== undefined) prev.sampleTs[i] = s.sampleTs[i];
    }
  }
  return merged ? out : series;
}

export function countPoints(series: readonly VSeries[]): number {
  let n = 0;
  for (const s of series) for (let i = 0; i < s.has.length; i++) n += s.has[i];
  return n;
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64). */
export function formatFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s[0] === '-';
  const mant = s.slice(neg ? 1 : 0, e).replace('.', '');
  const intLen = 1; // mantissa is d.ddd
  const exp = Number(s.slice(e + 1));
  let out: string;
  const point = intLen + exp;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${mant}`;
  else if (point >= mant.length) out = mant + '0'.repeat(point - mant.length);
  else out = `${mant.slice(0, point)}.${mant.slice(point)}`;
  return neg ? `-${out}` : out;
}

/** Go's %g for annotation texts (close enough: shortest round-trip digits). */
export function formatFloatG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(s);
  if (m) return `${m[1]}e${m[2]}${m[3].padStart(2, '0')}`;
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return s;
}
