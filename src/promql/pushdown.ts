// Which sub-expressions the engine may ask the storage to evaluate downstream, and how their
// answers become ordinary per-step series. The rules that make this exact are in docs/pushdown.md;
// this module enforces the expression side of them, the storage (fanout.ts) the data side.
//
// Only a per-series range function over one plain selector qualifies: each output series then
// depends on exactly one input series, so evaluating it where that series lives gives the same
// value as evaluating it on the merged raw data, provided the storage checks that no series lives
// in two places (it does, and refuses otherwise).

import { METRIC_NAME } from '../model/labels.js';
import { type PushdownRequest, type PushdownResult } from '../storage/interface.js';
import { compareLabels } from '../model/labels.js';
import type { Call, MatrixSelector } from './ast.js';
import { formatExpr } from './parser.js';
import { possibleNonCounterInfo } from './functions/range.js';
import { newVSeries, type EvalCtx, type VectorVal, type VSeries } from './eval-types.js';
import { PromQLError } from '../errors.js';

/** Range functions whose value for a series depends on that series' window only (also what partial aggregation may evaluate per group). */
export const PER_SERIES_RANGE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'resets',
  'changes',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'present_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'predict_linear',
  'holt_winters',
  'double_exponential_smoothing',
]);

/** Literal arguments that could raise a warning or an error on the raw path are not pushed. */
function literalArgsSafe(name: string, args: number[]): boolean {
  if (args.some((a) => !Number.isFinite(a))) return false;
  switch (name) {
    case 'quantile_over_time':
      return args[0] >= 0 && args[0] <= 1;
    case 'holt_winters':
    case 'double_exponential_smoothing':
      return args.every((a) => a > 0 && a < 1);
    default:
      return true;
  }
}

export interface PushdownPlan {
  request: PushdownRequest;
  /** The metric name of the selector (an equality matcher on __name__ is required). */
  metricName: string;
}

/** The request for `e` at the steps of `ctx`, or undefined when `e` does not qualify. */
export function planPushdown(ctx: EvalCtx, e: Call): PushdownPlan | undefined {
  const q = ctx.q;
  if (q.delayedNameRemoval) return undefined;
  const name = e.func.name;
  if (!PER_SERIES_RANGE_FUNCTIONS.has(name)) return undefined;
  let selector: MatrixSelector | undefined;
  const literals: number[] = [];
  for (const a of e.args) {
    if (a.type === 'MatrixSelector' && selector === undefined) selector = a;
    else if (a.type === 'NumberLiteral') literals.push(a.val);
    else return undefined;
  }
  if (selector === undefined || !literalArgsSafe(name, literals)) return undefined;
  const vs = selector.vectorSelector;
  // `@ start()` would mean the pushed query's own start, not ours; a fixed @ is rare enough.
  if (vs.timestampMs !== undefined || vs.startOrEnd !== undefined) return undefined;
  // One metric name: output order and the counter-name info are then decided locally (see docs).
  const nameMatcher = vs.matchers.find((m) => m.name === METRIC_NAME && m.type === '=');
  if (nameMatcher === undefined || nameMatcher.value === '') return undefined;
  return {
    request: { query: formatExpr(e), matchers: vs.matchers, startMs: ctx.start, endMs: ctx.end, stepMs: ctx.interval },
    metricName: nameMatcher.value,
  };
}

/**
 * A downstream answer as per-step series of `ctx`, in the answer's order; throws when a point is
 * not at one of the steps asked for.
 */
export function answerSeries(ctx: EvalCtx, res: PushdownResult): VSeries[] {
  const n = ctx.steps.length;
  const out: VSeries[] = [];
  for (const s of res.series) {
    if (s.timestamps.length === 0) continue;
    const r = newVSeries(s.labels, n);
    for (let k = 0; k < s.timestamps.length; k++) {
      const t = s.timestamps[k];
      const i = ctx.interval > 0 ? (t - ctx.start) / ctx.interval : t === ctx.start ? 0 : -1;
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new PromQLError('execution', `the downstream answered a point at ${t}, which is not a step of the query`);
      }
      r.has[i] = 1;
      r.vals[i] = s.values[k]!;
    }
    out.push(r);
  }
  return out;
}

/** The storage's answer as the value the engine would have computed, with its annotations. */
export function pushdownValue(ctx: EvalCtx, e: Call, plan: PushdownPlan, res: PushdownResult): VectorVal {
  const out = answerSeries(ctx, res).sort((a, b) => compareLabels(a.labels, b.labels));
  const name = e.func.name;
  if (out.length > 0 && ctx.q.semantics === 'prometheus-3' && (name === 'rate' || name === 'increase')) {
    const info = possibleNonCounterInfo(plan.metricName);
    if (info !== undefined) ctx.q.infos.add(info);
  }
  return { type: 'vector', series: out };
}
