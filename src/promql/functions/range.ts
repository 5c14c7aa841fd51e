// Functions over range vectors (float samples), after Prometheus's promql/functions.go in v2.42
// ('prometheus-2') and v3.5 ('prometheus-3').
//
// Calling convention (see types.ts): one call per series and step with the window's samples.
// Prometheus never calls these for an empty window (the evaluator skips such steps); called with
// one anyway, every function here returns undefined (no point) — absent_over_time included, whose
// output series the evaluator builds itself.
//
// Time: `ctx.evalTs` is the step's evaluation time. The selector's (or subquery's) offset — including
// the offset Prometheus derives from an `@` modifier — may be passed as `offsetMs` (see
// RangeFnContextWithOffset); the window then ends at evalTs − offsetMs. rate/increase/delta
// extrapolate to that window, while predict_linear, as in Prometheus, predicts relative to evalTs
// itself. Without `offsetMs`, evalTs is taken as the window end for both.

import { kahanSumInc, kahanSumIncFor } from './kahan.js';
import { quantile } from './quantile.js';
import type { RangeFn, RangeFnContext, Semantics, Window } from './types.js';

/** The contract's context plus the selector's offset (ms), which rate/increase/delta need. */
export interface RangeFnContextWithOffset extends RangeFnContext {
  readonly offsetMs?: number;
}

function offsetOf(ctx: RangeFnContext): number {
  return (ctx as RangeFnContextWithOffset).offsetMs ?? 0;
}

/** Go's time.Duration(ms).Seconds(): whole seconds plus the nanosecond remainder / 1e9. */
export function durationSeconds(ms: number): number {
  const sec = Math.trunc(ms / 1000);
  const nsec = (ms - sec * 1000) * 1e6;
  return sec + nsec / 1e9;
}

/** Go's fmt "%f" (6 decimals) for a float64. */
export function goFormatF(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let s: string;
  if (a < 1e21) {
    s = a.toFixed(6);
  } else {
    s = BigInt(a).toString() + '.000000';
  }
  return neg ? '-' + s : s;
}

/** Go's fmt "%g" for a float64: shortest digits, exponent form when the exponent is < -4 or >= 6. */
export function goFormatG(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const neg = x < 0;
  const e = Math.abs(x).toExponential(); // shortest round-trip digits, e.g. "1.2345e+6"
  const [mant, expStr] = e.split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  const eprec = 6; // strconv's choice for the shortest %g
  let out: string;
  if (exp < -4 || exp >= eprec) {
    const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const ae = Math.abs(exp);
    out = m + 'e' + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' + ae : String(ae));
  } else if (exp < 0) {
    out = '0.' + '0'.repeat(-exp - 1) + digits;
  } else if (digits.length <= exp + 1) {
    out = digits + '0'.repeat(exp + 1 - digits.length);
  } else {
    out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  }
  return neg ? '-' + out : out;
}

/** PromQL warning text for an out-of-range quantile (without the position suffix). */
export function invalidQuantileWarning(q: number): string {
  return `PromQL warning: quantile value should be between 0 and 1, got ${goFormatG(q)}`;
}

/**
 * The info Prometheus 3.5 adds (once per series, with the argument's position) when rate() or
 * increase() is applied to a float series whose name does not look like a counter; undefined when
 * none applies. Not emitted by 2.42.
 */
export function possibleNonCounterInfo(metricName: string | undefined): string | undefined {
  if (!metricName) return undefined;
  if (metricName.endsWith('_total') || metricName.endsWith('_sum') || metricName.endsWith('_count') || metricName.endsWith('_bucket')) {
    return undefined;
  }
  return `PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${goQuote(metricName)}`;
}

function goQuote(s: string): string {
  // Metric names are plain printable text in practice; JSON quoting matches Go's %q for those.
  return JSON.stringify(s);
}

function extrapolatedRate(w: Window, ctx: RangeFnContext, isCounter: boolean, isRate: boolean): number | undefined {
  const { ts, vs, from, to } = w;
  const n = to - from;
  if (n < 2) return undefined;
  const rangeEnd = ctx.evalTs - offsetOf(ctx);
  const rangeStart = rangeEnd - ctx.rangeMs;
  const firstT = ts[from];
  const lastT = ts[to - 1];
  const firstV = vs[from];
  let result = vs[to - 1] - firstV;
  if (isCounter) {
    let prev = firstV;
    for (let i = from + 1; i < to; i++) {
      const cur = vs[i];
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  let durationToStart = (firstT - rangeStart) / 1000;
  let durationToEnd = (rangeEnd - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (n - 1);
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
  let extrapolateToInterval = sampledInterval;

  if (ctx.semantics === 'prometheus-3') {
    if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
    if (isCounter && result > 0 && firstV >= 0) {
      const durationToZero = sampledInterval * (firstV / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    extrapolateToInterval += durationToStart;
    if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
    extrapolateToInterval += durationToEnd;
  } else {
    if (isCounter && result > 0 && firstV >= 0) {
      const durationToZero = sampledInterval * (firstV / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    if (durationToStart < extrapolationThreshold) extrapolateToInterval += durationToStart;
    else extrapolateToInterval += averageDurationBetweenSamples / 2;
    if (durationToEnd < extrapolationThreshold) extrapolateToInterval += durationToEnd;
    else extrapolateToInterval += averageDurationBetweenSamples / 2;
  }

  let factor = extrapolateToInterval / sampledInterval;
  if (isRate) factor /= durationSeconds(ctx.rangeMs);
  return result * factor;
}

function instantValue(w: Window, isRate: boolean): number | undefined {
  const { ts, vs, from, to } = w;
  if (to - from < 2) return undefined;
  const t1 = ts[to - 1];
  const t0 = ts[to - 2];
  const v1 = vs[to - 1];
  const v0 = vs[to - 2];
  const sampledInterval = t1 - t0;
  if (sampledInterval === 0) return undefined;
  let result = isRate && v1 < v0 ? v1 : v1 - v0;
  if (isRate) result /= sampledInterval / 1000;
  return result;
}

/** Least-squares regression (Neumaier-compensated sums); slope per second and the value at interceptTime. */
export function linearRegression(w: Window, interceptTime: number, semantics: Semantics): [slope: number, intercept: number] {
  const add = kahanSumIncFor(semantics);
  const { ts, vs, from, to } = w;
  let n = 0;
  let sumX = 0,
    cX = 0,
    sumY = 0,
    cY = 0,
    sumXY = 0,
    cXY = 0,
    sumX2 = 0,
    cX2 = 0;
  const initY = vs[from];
  let constY = true;
  for (let i = from; i < to; i++) {
    const y = vs[i];
    if (constY && i > from && y !== initY) constY = false;
    n += 1;
    const x = (ts[i] - interceptTime) / 1e3;
    [sumX, cX] = add(x, sumX, cX);
    [sumY, cY] = add(y, sumY, cY);
    [sumXY, cXY] = add(x * y, sumXY, cXY);
    [sumX2, cX2] = add(x * x, sumX2, cX2);
  }
  if (constY) {
    if (initY === Infinity || initY === -Infinity) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

function smoothing(w: Window, ctx: RangeFnContext): number | undefined {
  const { vs, from, to } = w;
  const l = to - from;
  if (l === 0) return undefined;
  const sf = ctx.scalarArgs[0] ?? NaN;
  const tf = ctx.scalarArgs[1] ?? NaN;
  if (sf <= 0 || sf >= 1) throw new Error(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goFormatF(sf)}`);
  if (tf <= 0 || tf >= 1) throw new Error(`invalid trend factor. Expected: 0 < tf < 1, got: ${goFormatF(tf)}`);
  if (l < 2) return undefined;
  let s0 = 0;
  let s1 = vs[from];
  let b = vs[from + 1] - vs[from];
  for (let i = 1; i < l; i++) {
    const x = sf * vs[from + i];
    // Trend at i-1: the initial trend for the first step, then tf·(s1−s0) + (1−tf)·b.
    if (i - 1 !== 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

function avgOverTime(w: Window, ctx: RangeFnContext): number | undefined {
  const { vs, from, to } = w;
  if (to === from) return undefined;
  if (ctx.semantics === 'prometheus-3') {
    let sum = vs[from];
    let count = 1;
    let mean = 0;
    let c = 0;
    let incremental = false;
    for (let i = from + 1; i < to; i++) {
      const f = vs[i];
      count = i - from + 1;
      if (!incremental) {
        const [ns, nc] = kahanSumInc(f, sum, c);
        if (ns !== Infinity && ns !== -Infinity) {
          sum = ns;
          c = nc;
          continue;
        }
        incremental = true;
        mean = sum / (count - 1);
        c /= count - 1;
      }
      const q = (count - 1) / count;
      [mean, c] = kahanSumInc(f / count, q * mean, q * c);
    }
    if (incremental) return mean + c;
    return sum / count + c / count;
  }
  // prometheus-2: compensated incremental mean with 2.42's infinity handling.
  const add = kahanSumIncFor('prometheus-2');
  let mean = 0;
  let count = 0;
  let c = 0;
  for (let i = from; i < to; i++) {
    const v = vs[i];
    count++;
    if (mean === Infinity || mean === -Infinity) {
      if ((v === Infinity || v === -Infinity) && mean > 0 === v > 0) continue;
      if (v !== Infinity && v !== -Infinity && !Number.isNaN(v)) continue;
    }
    [mean, c] = add(v / count - mean / count, mean, c);
  }
  if (mean === Infinity || mean === -Infinity) return mean;
  return mean + c;
}

function sumOverTime(w: Window, ctx: RangeFnContext): number | undefined {
  const { vs, from, to } = w;
  if (to === from) return undefined;
  const add = kahanSumIncFor(ctx.semantics);
  let sum = 0;
  let c = 0;
  for (let i = from; i < to; i++) [sum, c] = add(vs[i], sum, c);
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
}

function variance(w: Window, ctx: RangeFnContext): number | undefined {
  const { vs, from, to } = w;
  if (to === from) return undefined;
  const add = kahanSumIncFor(ctx.semantics);
  let count = 0;
  let mean = 0,
    cMean = 0,
    aux = 0,
    cAux = 0;
  for (let i = from; i < to; i++) {
    const f = vs[i];
    count++;
    const delta = f - (mean + cMean);
    [mean, cMean] = add(delta / count, mean, cMean);
    [aux, cAux] = add(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

/** min/max/ts_of_min/ts_of_max: `better(cur, best)` decides replacement; NaN is always replaced. */
function compareOverTime(w: Window, better: (cur: number, best: number) => boolean, returnTimestamp: boolean): number | undefined {
  const { ts, vs, from, to } = w;
  if (to === from) return undefined;
  let best = vs[from];
  let bestT = ts[from];
  for (let i = from; i < to; i++) {
    const f = vs[i];
    if (better(f, best) || Number.isNaN(best)) {
      best = f;
      bestT = ts[i]!;
    }
  }
  return returnTimestamp ? bestT / 1000 : best;
}

function windowValues(w: Window): number[] {
  const out = new Array<number>(w.to - w.from);
  for (let i = w.from; i < w.to; i++) out[i - w.from] = w.vs[i]!;
  return out;
}

export const RANGE_FUNCTIONS: Record<string, RangeFn> = {
  rate: (w, ctx) => extrapolatedRate(w, ctx, true, true),
  increase: (w, ctx) => extrapolatedRate(w, ctx, true, false),
  delta: (w, ctx) => extrapolatedRate(w, ctx, false, false),
  irate: (w) => instantValue(w, true),
  idelta: (w) => instantValue(w, false),

  deriv: (w, ctx) => {
    if (w.to - w.from < 2) return undefined;
    // Intercept time near the samples (the first one) to limit floating point error.
    return linearRegression(w, w.ts[w.from], ctx.semantics)[0];
  },
  predict_linear: (w, ctx) => {
    if (w.to - w.from < 2) return undefined;
    const duration = ctx.scalarArgs[0] ?? NaN;
    const [slope, intercept] = linearRegression(w, ctx.evalTs, ctx.semantics);
    return slope * duration + intercept;
  },

  changes: (w) => {
    const { vs, from, to } = w;
    if (to === from) return undefined;
    let changes = 0;
    let prev = vs[from];
    for (let i = from + 1; i < to; i++) {
      const cur = vs[i];
      if (cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev))) changes++;
      prev = cur;
    }
    return changes;
  },
  resets: (w) => {
    const { vs, from, to } = w;
    if (to === from) return undefined;
    let resets = 0;
    let prev = vs[from];
    for (let i = from + 1; i < to; i++) {
      const cur = vs[i];
      if (cur < prev) resets++;
      prev = cur;
    }
    return resets;
  },

  avg_over_time: avgOverTime,
  sum_over_time: sumOverTime,
  count_over_time: (w) => (w.to === w.from ? undefined : w.to - w.from),
  min_over_time: (w) => compareOverTime(w, (cur, best) => cur < best, false),
  max_over_time: (w) => compareOverTime(w, (cur, best) => cur > best, false),
  ts_of_min_over_time: (w) => compareOverTime(w, (cur, best) => cur <= best, true),
  ts_of_max_over_time: (w) => compareOverTime(w, (cur, best) => cur >= best, true),
  last_over_time: (w) => (w.to === w.from ? undefined : w.vs[w.to - 1]),
  ts_of_last_over_time: (w) => (w.to === w.from ? undefined : w.ts[w.to - 1] / 1000),
  present_over_time: (w) => (w.to === w.from ? undefined : 1),
  // Called only for non-empty windows in Prometheus; the evaluator turns "no series had a point"
  // into absent_over_time's 1 with the selector's equality-matcher labels.
  absent_over_time: (w) => (w.to === w.from ? undefined : 1),

  quantile_over_time: (w, ctx) => {
    if (w.to === w.from) return undefined;
    const q = ctx.scalarArgs[0] ?? NaN;
    if (ctx.semantics === 'prometheus-3' && (Number.isNaN(q) || q < 0 || q > 1)) {
      ctx.annotate('warning', invalidQuantileWarning(q));
    }
    return quantile(q, windowValues(w));
  },
  stddev_over_time: (w, ctx) => {
    const v = variance(w, ctx);
    return v === undefined ? undefined : Math.sqrt(v);
  },
  stdvar_over_time: variance,
  mad_over_time: (w) => {
    if (w.to === w.from) return undefined;
    const values = windowValues(w);
    const median = quantile(0.5, values.slice());
    return quantile(
      0.5,
      values.map((v) => Math.abs(v - median)),
    );
  },

  holt_winters: smoothing,
  double_exponential_smoothing: smoothing,
};
