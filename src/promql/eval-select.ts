// Selection: what instant vector selectors, range (matrix) selectors and subqueries read, step by
// step, and the sliding window over a range's samples that every range function uses. Apart from the
// engine so that function evaluation (eval-call.ts) can select without importing the engine.
//
// Each series is read from storage once for the whole query range; per step, indexes into its
// samples only move forward.

import type { Series } from '../storage/interface.js';
import type { Expr, MatrixSelector, SubqueryExpr, VectorSelector } from './ast.js';
import {
  checkWork,
  makeSteps,
  storageCallError,
  newVSeries,
  tooManySamples,
  type EvalCtx,
  type MatrixVal,
  type MSeries,
  type Val,
  type VSeries,
} from './eval-types.js';
import { PromQLError } from '../errors.js';

type Evaluate = (ctx: EvalCtx, e: Expr) => Promise<Val>;

/** The fixed evaluation time of an `@` modifier, or undefined. */
export function atTime(ctx: EvalCtx, e: VectorSelector | SubqueryExpr): number | undefined {
  if (e.timestampMs !== undefined) return e.timestampMs;
  if (e.startOrEnd === 'start') return ctx.q.queryStart;
  if (e.startOrEnd === 'end') return ctx.q.queryEnd;
  return undefined;
}

async function select(ctx: EvalCtx, vs: VectorSelector, mint: number, maxt: number, rangeMs?: number): Promise<Series[]> {
  try {
    return await ctx.q.storage.select(vs.matchers, mint, maxt, { startMs: mint, endMs: maxt, stepMs: ctx.interval, rangeMs }, ctx.q.signal);
  } catch (err) {
    throw storageCallError(ctx.q, err);
  }
}

/** Instant vector selection at every step: the latest sample in the lookback window, unless it is a staleness marker. */
/** `keepSampleTs`: also record each step's sample time (only timestamp() needs it; it costs 8 bytes a point). */
export async function evalVectorSelector(ctx: EvalCtx, vs: VectorSelector, keepSampleTs = false): Promise<VSeries[]> {
  const q = ctx.q;
  const at = atTime(ctx, vs);
  const off = vs.offsetMs;
  const steps = ctx.steps;
  const n = steps.length;
  const lo = (at ?? ctx.start) - off - q.lookbackMs;
  const hi = (at ?? ctx.end) - off;
  const raw = await select(ctx, vs, lo, hi);
  const p3 = q.semantics === 'prometheus-3';
  const out: VSeries[] = [];
  let total = 0;
  for (const s of raw) {
    checkWork(q, 1024 + s.timestamps.length);
    const r = newVSeries(s.labels, n);
    const sampleTs = keepSampleTs ? new Float64Array(n) : undefined;
    const ts = s.timestamps;
    const len = ts.length;
    let j = 0;
    let any = false;
    for (let i = 0; i < n; i++) {
      if ((i & 1023) === 1023) checkWork(q, 1024);
      const ref = (at ?? steps[i]) - off;
      while (j < len && ts[j] <= ref) j++;
      if (j === 0) continue;
      const k = j - 1;
      const minT = ref - q.lookbackMs;
      if (p3 ? ts[k] <= minT : ts[k] < minT) continue;
      if (s.stale !== undefined && s.stale[k]) continue;
      r.has[i] = 1;
      r.vals[i] = s.values[k];
      if (sampleTs !== undefined) sampleTs[i] = ts[k];
      any = true;
      total++;
    }
    if (total > q.maxSamples) throw tooManySamples();
    if (any) {
      if (sampleTs !== undefined) r.sampleTs = sampleTs;
      out.push(r);
      const counts = ctx.counts;
      if (counts !== undefined) for (let i = 0; i < n; i++) counts[i] += r.has[i];
    }
  }
  return out;
}

function toMSeries(s: Series): MSeries {
  if (s.stale === undefined) return { labels: s.labels, ts: s.timestamps, vs: s.values };
  const ts: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < s.timestamps.length; i++) {
    if (s.stale[i]) continue;
    ts.push(s.timestamps[i]);
    vs.push(s.values[i]);
  }
  return { labels: s.labels, ts: Float64Array.from(ts), vs: Float64Array.from(vs) };
}

export async function evalMatrixSelector(ctx: EvalCtx, ms: MatrixSelector): Promise<MatrixVal> {
  const vs = ms.vectorSelector;
  const at = atTime(ctx, vs);
  const off = vs.offsetMs;
  const lo = (at ?? ctx.start) - off - ms.rangeMs;
  const hi = (at ?? ctx.end) - off;
  const raw = await select(ctx, vs, lo, hi, ms.rangeMs);
  const series: MSeries[] = [];
  let total = 0;
  for (const s of raw) {
    checkWork(ctx.q, s.timestamps.length + 1);
    const m = toMSeries(s);
    if (m.ts.length === 0) continue;
    total += m.ts.length;
    if (total > ctx.q.maxSamples) throw tooManySamples();
    series.push(m);
  }
  return { type: 'matrix', series, rangeMs: ms.rangeMs, offsetMs: off, atMs: at };
}

/**
 * Subquery: the inner expression at steps aligned to absolute multiples of the subquery step.
 *
 * Samples (ctx.counts): a range function over a subquery counts the subquery's points in its
 * windows, as over a range selector, and Prometheus leaves out what the inner evaluation read. A
 * subquery that is the whole query (`countInner`, an instant query) counts what its inner evaluation
 * read instead, all at the query's one step.
 */
export async function evalSubquery(ctx: EvalCtx, sq: SubqueryExpr, evaluate: Evaluate, countInner = false): Promise<MatrixVal> {
  const q = ctx.q;
  const at = atTime(ctx, sq);
  const off = sq.offsetMs;
  const interval = sq.stepMs > 0 ? sq.stepMs : q.noStepSubqueryIntervalMs;
  const lowest = (at ?? ctx.start) - off - sq.rangeMs;
  let innerStart = interval * Math.trunc(lowest / interval);
  if (q.semantics === 'prometheus-3' ? innerStart <= lowest : innerStart < lowest) innerStart += interval;
  const innerEnd = (at ?? ctx.end) - off;
  const result: MatrixVal = { type: 'matrix', series: [], rangeMs: sq.rangeMs, offsetMs: off, atMs: at };
  if (innerStart > innerEnd) return result;
  // Every inner node holds a value per inner step, and a series present at every step is that many
  // samples: more steps than max_samples are refused before anything of that length is allocated
  // (a 1 ms step over a day is 86.4 M steps).
  if (Math.floor((innerEnd - innerStart) / interval) + 1 > q.maxSamples) throw tooManySamples();
  const steps = makeSteps(innerStart, innerEnd, interval);
  const counts = countInner && ctx.counts !== undefined ? new Float64Array(steps.length) : undefined;
  const inner: EvalCtx = { q, start: innerStart, end: innerEnd, interval, steps, counts };
  const v = await evaluate(inner, sq.expr);
  if (counts !== undefined) ctx.counts![0] += counts.reduce((a, b) => a + b, 0);
  let vseries: VSeries[];
  if (v.type === 'vector') vseries = v.series;
  else if (v.type === 'scalar') vseries = [{ labels: [], vals: v.vals, has: new Uint8Array(v.vals.length).fill(1) }];
  else throw new PromQLError('execution', `subquery is only allowed on instant vector, got ${v.type}`);
  let total = 0;
  for (const s of vseries) {
    checkWork(q, s.has.length);
    let count = 0;
    for (let i = 0; i < s.has.length; i++) count += s.has[i];
    if (count === 0) continue;
    total += count;
    // Charged before the copy is made.
    if (total > q.maxSamples) throw tooManySamples();
    if (count === s.has.length) {
      // Present at every step: the inner steps and values are the samples as they are (neither is
      // written to again), so nothing is copied.
      result.series.push({ labels: s.labels, ts: inner.steps, vs: s.vals });
      continue;
    }
    const ts = new Float64Array(count);
    const vs = new Float64Array(count);
    let k = 0;
    for (let i = 0; i < s.has.length; i++) {
      if (!s.has[i]) continue;
      ts[k] = inner.steps[i];
      vs[k++] = s.vals[i];
    }
    result.series.push({ labels: s.labels, ts, vs });
  }
  return result;
}

/**
 * Calls `f(step, from, to)` for every step of `ctx` with the window [from, to) of `s`'s samples in
 * (ref - range, ref] (prometheus-3) or [ref - range, ref] (prometheus-2), ref = (@ or step) - offset.
 * Both indexes only move forward. Each window's samples count as read at its step (ctx.counts).
 */
export function forEachWindow(ctx: EvalCtx, m: MatrixVal, s: MSeries, f: (step: number, from: number, to: number) => void): void {
  const p3 = ctx.q.semantics === 'prometheus-3';
  const ts = s.ts;
  const len = ts.length;
  let from = 0;
  let to = 0;
  const steps = ctx.steps;
  const counts = ctx.counts;
  for (let i = 0; i < steps.length; i++) {
    const ref = (m.atMs ?? steps[i]) - m.offsetMs;
    const lower = ref - m.rangeMs;
    if (p3) while (from < len && ts[from] <= lower) from++;
    else while (from < len && ts[from] < lower) from++;
    if (to < from) to = from;
    while (to < len && ts[to] <= ref) to++;
    checkWork(ctx.q, to - from + 1);
    if (counts !== undefined) counts[i] += to - from;
    f(i, from, to);
  }
}
