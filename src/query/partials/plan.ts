// Which aggregations can be computed as one partial aggregate per server group, combined afterwards,
// and what each group is asked to compute. The rules and why they are exact: docs/parallel.md.
//
// An aggregation decomposes when its operator does (a sum of per-group sums is the sum; the same for
// count, min, max, group; avg is the combined sum over the combined count) and when every series
// its operand yields depends on exactly one raw series: a selector, under per-series functions and
// arithmetic or comparison with number literals. Then each output series of the operand is computed
// wholly inside the group holding its raw series, provided no series is held by two groups, which
// the pool checks on the data (pool.ts). Anything else (a binary operation between two vectors, a
// nested aggregation, a subquery, `@`) could pair series of different groups and is not planned.

import type { LabelMatcher } from '../../model/labels.js';
import { walkExpr, type AggregateExpr, type Expr } from '../../promql/ast.js';
import { formatExpr, parseExpr } from '../../promql/parser.js';
import { PER_SERIES_RANGE_FUNCTIONS } from '../../promql/pushdown.js';

/** How per-group partial values of one output series and step combine. */
export type CombineOp = 'sum' | 'min' | 'max' | 'group' | 'avg';

export interface PartialPlan {
  /**
   * What each group evaluates, as PromQL: one aggregation, or for `avg` its sum and its count
   * (in that order), over the same operand and grouping.
   */
  partials: string[];
  combine: CombineOp;
  /** The operand's one selector: the groups it reaches are the groups asked. */
  matchers: LabelMatcher[];
  /**
   * The time the operand reads around each step, as the raw path selects it: from
   * `step - offsetMs - windowMs` (the range of a range function, else the lookback delta when
   * `windowMs` is undefined) to `step - offsetMs`.
   */
  offsetMs: number;
  windowMs: number | undefined;
  /**
   * Whether an output series of the aggregation keeps label `name` of its inputs (`by` naming it, or
   * `without` not naming it): a group label must then be added to the partials pushed to a server,
   * which does not know it (pushed.ts).
   */
  keepsLabel: (name: string) => boolean;
}

/** Why an aggregation is not planned (counted per reason by the pool). */
export type NotPlanned = 'operator' | 'operand';

/** Element-wise functions of one instant vector (and number literals): one output series per input series. */
const PER_SERIES_INSTANT_FUNCTIONS = new Set([
  'abs',
  'ceil',
  'floor',
  'round',
  'exp',
  'ln',
  'log2',
  'log10',
  'sqrt',
  'sgn',
  'clamp',
  'clamp_min',
  'clamp_max',
  'timestamp',
  'deg',
  'rad',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'tanh',
  'asinh',
  'acosh',
  'atanh',
]);

const COMBINE: Partial<Record<AggregateExpr['op'], CombineOp>> = { sum: 'sum', count: 'sum', min: 'min', max: 'max', group: 'group', avg: 'avg' };

/** The partial plan of `e`, or why there is none. */
export function planPartials(e: AggregateExpr): PartialPlan | NotPlanned {
  const combine = COMBINE[e.op];
  if (combine === undefined || e.param !== undefined) return 'operator';
  const matchers = perSeriesSelector(e.expr);
  if (matchers === undefined) return 'operand';
  const agg = (op: AggregateExpr['op']): string => formatExpr({ ...e, op });
  const partials = e.op === 'avg' ? [agg('sum'), agg('count')] : [agg(e.op)];
  let offsetMs = 0;
  let windowMs: number | undefined;
  walkExpr(e.expr, (n) => {
    if (n.type === 'MatrixSelector') windowMs = n.rangeMs;
    if (n.type === 'VectorSelector') offsetMs = n.offsetMs;
  });
  const grouping = new Set(e.grouping);
  const keepsLabel = (name: string): boolean => name !== '__name__' && grouping.has(name) !== e.without;
  return { partials, combine, matchers, offsetMs, windowMs, keepsLabel };
}

/**
 * The matchers of the one selector `e` reads when each of its output series depends on exactly one
 * series of that selector; undefined otherwise.
 */
export function perSeriesSelector(e: Expr): LabelMatcher[] | undefined {
  switch (e.type) {
    case 'ParenExpr':
      return perSeriesSelector(e.expr);
    case 'UnaryExpr':
      return perSeriesSelector(e.expr);
    case 'VectorSelector':
      // `@ start()` would mean the group's evaluation's own start (a sub-range in a subquery).
      return e.timestampMs === undefined && e.startOrEnd === undefined ? e.matchers : undefined;
    case 'Call': {
      const name = e.func.name;
      const range = PER_SERIES_RANGE_FUNCTIONS.has(name);
      if (!range && !PER_SERIES_INSTANT_FUNCTIONS.has(name)) return undefined;
      let found: LabelMatcher[] | undefined;
      for (const a of e.args) {
        if (isNumber(a)) continue;
        if (found !== undefined) return undefined;
        if (range) {
          if (a.type !== 'MatrixSelector') return undefined;
          found = perSeriesSelector(a.vectorSelector);
        } else found = perSeriesSelector(a);
        if (found === undefined) return undefined;
      }
      return found;
    }
    case 'BinaryExpr':
      // With a number on one side, each output series comes from one series of the other side.
      if (e.op === 'and' || e.op === 'or' || e.op === 'unless' || e.vectorMatching !== undefined) return undefined;
      if (isNumber(e.lhs)) return perSeriesSelector(e.rhs);
      if (isNumber(e.rhs)) return perSeriesSelector(e.lhs);
      return undefined;
    default:
      return undefined;
  }
}

function isNumber(e: Expr): boolean {
  while (e.type === 'ParenExpr' || e.type === 'StepInvariantExpr' || e.type === 'UnaryExpr') e = e.expr;
  return e.type === 'NumberLiteral';
}

const planned = new Map<string, PartialPlan | NotPlanned>();

/**
 * The partial plan of an aggregation given as PromQL text (how the engine offers it), or why there
 * is none. Cached by text: the same panels come back at every refresh.
 */
export function planQuery(query: string): PartialPlan | NotPlanned {
  let plan = planned.get(query);
  if (plan === undefined) {
    let e: Expr = parseExpr(query);
    while (e.type === 'ParenExpr' || e.type === 'StepInvariantExpr') e = e.expr;
    plan = e.type === 'AggregateExpr' ? planPartials(e) : 'operator';
    if (planned.size >= 1000) planned.clear();
    planned.set(query, plan);
  }
  return plan;
}
