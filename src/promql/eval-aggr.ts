// Aggregation operators (sum, avg, min, max, count, group, stddev, stdvar, quantile, topk, bottomk,
// count_values), as Prometheus's aggregation / aggregationK / aggregationCountValues.

import { METRIC_NAME, type Labels } from '../model/labels.js';
import type { AggregateExpr, Expr } from './ast.js';
import { AvgAccumulator, SumAccumulator, VarianceAccumulator } from './functions/kahan.js';
import { quantile } from './functions/quantile.js';
import { invalidQuantileWarning } from './functions/range.js';
import {
  checkWork,
  delLabels,
  formatFloatF,
  formatFloatG,
  keepLabels,
  labelsKey,
  newVSeries,
  setLabel,
  tooManySamples,
  type EvalCtx,
  type Val,
  type VectorVal,
  type VSeries,
} from './eval-types.js';
import { goQuote } from '../util/go-quote.js';
import { heapFix, heapPop, heapPush, sortReverse } from './go-heap.js';
import { isLegacyLabelName } from '../model/label-name.js';
import { PromQLError } from '../errors.js';

type Evaluate = (ctx: EvalCtx, e: Expr) => Promise<Val>;

function groupLabels(l: Labels, e: AggregateExpr): Labels {
  return e.without ? delLabels(l, [...e.grouping, METRIC_NAME]) : keepLabels(l, e.grouping);
}

export async function evalAggregate(ctx: EvalCtx, e: AggregateExpr, evaluate: Evaluate): Promise<VectorVal> {
  const n = ctx.steps.length;
  let param: Val | undefined;
  if (e.param !== undefined) param = await evaluate(ctx, e.param);
  const inner = await evaluate(ctx, e.expr);
  if (inner.type !== 'vector') throw new PromQLError('execution', 'aggregation expression must be an instant vector');
  const input = inner.series;

  if (e.op === 'count_values') {
    if (param?.type !== 'string') throw new PromQLError('execution', 'count_values parameter must be a string');
    return countValues(ctx, e, input, param.v);
  }
  const scalarParam = param?.type === 'scalar' ? param.vals : undefined;

  // Groups are fixed per series: compute them once.
  const groupOf = new Int32Array(input.length);
  const groups: Labels[] = [];
  const groupDropName: boolean[] = [];
  const byKey = new Map<string, number>();
  for (let j = 0; j < input.length; j++) {
    const gl = groupLabels(input[j].labels, e);
    const k = labelsKey(gl);
    let g = byKey.get(k);
    if (g === undefined) {
      g = groups.length;
      groups.push(gl);
      // A group that keeps __name__ (by (__name__)) inherits whether it is to go (delayed name removal).
      groupDropName.push(input[j].dropName === true && gl.some((l) => l.name === METRIC_NAME));
      byKey.set(k, g);
    }
    groupOf[j] = g;
  }

  if (e.op === 'topk' || e.op === 'bottomk') return topK(ctx, e, input, groupOf, groups.length, scalarParam!);

  if (e.op === 'quantile') {
    for (let i = 0; i < n; i++) {
      const qv = scalarParam![i];
      if (qv < 0 || qv > 1 || Number.isNaN(qv)) {
        ctx.q.warnings.add(invalidQuantileWarning(qv));
        break;
      }
    }
  }

  const out = groups.map((g, x) => newVSeries(g, n, groupDropName[x]));
  const sem = ctx.q.semantics;
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, input.length + 1);
    // Per-step accumulators, created on a group's first sample.
    const acc: unknown[] = new Array(groups.length);
    const counts = new Float64Array(groups.length);
    const vals = new Float64Array(groups.length);
    for (let j = 0; j < input.length; j++) {
      const s = input[j];
      if (!s.has[i]) continue;
      const g = groupOf[j];
      const v = s.vals[i];
      const first = counts[g] === 0;
      counts[g]++;
      switch (e.op) {
        case 'sum':
          if (first) acc[g] = new SumAccumulator(sem);
          (acc[g] as SumAccumulator).add(v);
          break;
        case 'avg':
          if (first) acc[g] = new AvgAccumulator(sem);
          (acc[g] as AvgAccumulator).add(v);
          break;
        case 'stddev':
        case 'stdvar':
          if (first) acc[g] = new VarianceAccumulator(sem);
          (acc[g] as VarianceAccumulator).add(v);
          break;
        case 'max':
          if (first || vals[g] < v || Number.isNaN(vals[g])) vals[g] = v;
          break;
        case 'min':
          if (first || vals[g] > v || Number.isNaN(vals[g])) vals[g] = v;
          break;
        case 'quantile':
          if (first) acc[g] = [];
          (acc[g] as number[]).push(v);
          break;
        case 'count':
        case 'group':
          break;
        default:
          throw new PromQLError('execution', `unsupported aggregation ${e.op}`);
      }
    }
    for (let g = 0; g < groups.length; g++) {
      if (counts[g] === 0) continue;
      let v: number;
      switch (e.op) {
        case 'sum':
          v = (acc[g] as SumAccumulator).result();
          break;
        case 'avg':
          v = (acc[g] as AvgAccumulator).result();
          break;
        case 'stddev':
          v = (acc[g] as VarianceAccumulator).stddev();
          break;
        case 'stdvar':
          v = (acc[g] as VarianceAccumulator).variance();
          break;
        case 'quantile':
          v = quantile(scalarParam![i], acc[g] as number[]);
          break;
        case 'count':
          v = counts[g];
          break;
        case 'group':
          v = 1;
          break;
        default:
          v = vals[g];
      }
      out[g].has[i] = 1;
      out[g].vals[i] = v;
    }
  }
  return { type: 'vector', series: out.filter((s) => s.has.includes(1)) };
}

/** topk / bottomk per group and step, as Prometheus's aggregationK (see go-heap.ts for why its heap). */
function topK(ctx: EvalCtx, e: AggregateExpr, input: VSeries[], groupOf: Int32Array, ngroups: number, kParam: Float64Array): VectorVal {
  const n = ctx.steps.length;
  const top = e.op === 'topk';
  const out = new Array<VSeries | undefined>(input.length);
  const order: number[] = []; // output order of the first step (what an instant query shows)
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, input.length + 1);
    const kf = kParam[i];
    if (ctx.q.semantics === 'prometheus-3') {
      if (Number.isNaN(kf)) throw new PromQLError('execution', 'Parameter value is NaN');
      if (kf <= -(2 ** 63)) throw new PromQLError('execution', `Scalar value ${formatFloatG(kf)} underflows int64`);
      if (kf >= 2 ** 63) throw new PromQLError('execution', `Scalar value ${formatFloatG(kf)} overflows int64`);
    }
    const k = Math.trunc(kf);
    if (!(k >= 1)) continue;
    const members: number[][] = Array.from({ length: ngroups }, () => []);
    const groupOrder: number[] = [];
    for (let j = 0; j < input.length; j++) {
      if (!input[j].has[i]) continue;
      const g = groupOf[j];
      if (members[g].length === 0) groupOrder.push(g);
      members[g].push(j);
    }
    const vals = (j: number): number => input[j].vals[i];
    // Prometheus's heap order: the worst of the k kept on top, NaN counting as the worst.
    const less = top
      ? (a: number, b: number): boolean => Number.isNaN(vals(a)) || vals(a) < vals(b)
      : (a: number, b: number): boolean => Number.isNaN(vals(a)) || vals(a) > vals(b);
    const beats = (v: number, worst: number): boolean => (top ? worst < v : worst > v);
    for (const g of groupOrder) {
      // Prometheus's own heap moves (aggregationK), so that ties keep the same series in the same order.
      const best: number[] = [];
      for (const j of members[g]) {
        const v = vals(j);
        if (ctx.q.semantics === 'prometheus-2') {
          // 2.42: pop the worst and push the new one (replace in place for k == 1).
          if (best.length < k || beats(v, vals(best[0])) || Number.isNaN(vals(best[0]))) {
            if (best.length === k) {
              if (k === 1) {
                best[0] = j;
                continue;
              }
              heapPop(best, less);
            }
            heapPush(best, j, less);
          }
        } else if (best.length < k) {
          heapPush(best, j, less);
        } else {
          // 3.x: overwrite the worst and fix the heap.
          const w = vals(best[0]);
          if (beats(v, w) || (Number.isNaN(w) && !Number.isNaN(v))) {
            best[0] = j;
            if (k > 1) heapFix(best, 0, less);
          }
        }
      }
      if (best.length > 1) sortReverse(best, less);
      for (let x = 0; x < best.length; x++) {
        const j = best[x];
        let o = out[j];
        if (o === undefined) o = out[j] = newVSeries(input[j].labels, n, input[j].dropName === true);
        o.has[i] = 1;
        o.vals[i] = input[j].vals[i];
        if (i === 0) order.push(j);
      }
    }
  }
  const series: VSeries[] = order.map((j) => out[j]!);
  const inOrder = new Set(order);
  for (let j = 0; j < out.length; j++) if (out[j] !== undefined && !inOrder.has(j)) series.push(out[j]!);
  return { type: 'vector', series };
}

function validLabelName(name: string, sem: string): boolean {
  if (sem === 'prometheus-2') return isLegacyLabelName(name);
  return name.length > 0 && !/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

/** count_values' output, each series as its points only (steps it has a value at, and the counts). */
export interface SparseSeries {
  labels: Labels;
  steps: number[];
  counts: number[];
}

/**
 * count_values as a query's whole answer: its points only, never a dense series per distinct value
 * (11,000 distinct values over 11,000 steps are 11,000 points, but 121 M dense cells).
 */
export async function evalCountValuesSparse(ctx: EvalCtx, e: AggregateExpr, evaluate: Evaluate): Promise<SparseSeries[]> {
  const param = await evaluate(ctx, e.param!);
  const inner = await evaluate(ctx, e.expr);
  if (inner.type !== 'vector') throw new PromQLError('execution', 'aggregation expression must be an instant vector');
  if (param.type !== 'string') throw new PromQLError('execution', 'count_values parameter must be a string');
  return [...gatherCountValues(ctx, e, inner.series, param.v).values()];
}

function gatherCountValues(ctx: EvalCtx, e: AggregateExpr, input: VSeries[], valueLabel: string): Map<string, SparseSeries> {
  if (!validLabelName(valueLabel, ctx.q.semantics)) throw new PromQLError('execution', `invalid label name ${goQuote(valueLabel)}`);
  const n = ctx.steps.length;
  const grouping = e.without ? [...e.grouping, METRIC_NAME] : [...e.grouping, valueLabel];
  // Each output series' points are gathered sparse first: the number of distinct values is only
  // known at the end, and a dense series per value (8 bytes x steps each) is allocated only once
  // the output's size is known to be within max_samples.
  const outByKey = new Map<string, SparseSeries>();
  let points = 0;
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, input.length + 1);
    const counts = new Map<string, { labels: Labels; c: number }>();
    for (const s of input) {
      if (!s.has[i]) continue;
      const withValue = setLabel(s.labels, valueLabel, formatFloatF(s.vals[i]));
      const gl = e.without ? delLabels(withValue, grouping) : keepLabels(withValue, grouping);
      const k = labelsKey(gl);
      const c = counts.get(k);
      if (c === undefined) counts.set(k, { labels: gl, c: 1 });
      else c.c++;
    }
    for (const [k, { labels, c }] of counts) {
      let o = outByKey.get(k);
      if (o === undefined) outByKey.set(k, (o = { labels, steps: [], counts: [] }));
      o.steps.push(i);
      o.counts.push(c);
    }
    points += counts.size;
    if (points > ctx.q.maxSamples) throw tooManySamples();
  }
  return outByKey;
}

function countValues(ctx: EvalCtx, e: AggregateExpr, input: VSeries[], valueLabel: string): VectorVal {
  const n = ctx.steps.length;
  const outByKey = gatherCountValues(ctx, e, input, valueLabel);
  // The dense form holds a cell per step and output series, points or not: it counts as that many
  // samples, so that many distinct values over many steps are refused rather than allocated.
  if (outByKey.size * n > ctx.q.maxSamples) throw tooManySamples();
  const series: VSeries[] = [];
  for (const { labels, steps, counts } of outByKey.values()) {
    checkWork(ctx.q, n);
    const o = newVSeries(labels, n);
    for (let x = 0; x < steps.length; x++) {
      o.has[steps[x]] = 1;
      o.vals[steps[x]] = counts[x];
    }
    series.push(o);
  }
  return { type: 'vector', series };
}
