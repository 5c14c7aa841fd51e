// PromQL abstract syntax tree (mirrors Prometheus's promql/parser/ast.go, 3.x).
import type { LabelMatcher } from '../model/labels.js';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** Source range, JS string indices into the query, end exclusive. */
export interface PosRange {
  readonly start: number;
  readonly end: number;
}

export interface FunctionSpec {
  readonly name: string;
  readonly argTypes: readonly ValueType[];
  /** 0: exactly argTypes.length args; n > 0: the last arg type may appear up to n times (0..n); -1: unlimited. */
  readonly variadic: number;
  readonly returnType: ValueType;
  /** Prometheus 3.5 marks these Experimental (need --enable-feature=promql-experimental-functions). */
  readonly experimental: boolean;
  /** Not a Prometheus 3.5 function (removed in 3.0, e.g. holt_winters). */
  readonly legacy?: boolean;
}

export type AggregateOp =
  'sum' | 'min' | 'max' | 'avg' | 'group' | 'stddev' | 'stdvar' | 'count' | 'count_values' | 'bottomk' | 'topk' | 'quantile' | 'limitk' | 'limit_ratio';

export const AGGREGATORS_WITH_PARAM: ReadonlySet<AggregateOp> = new Set<AggregateOp>(['count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
export const EXPERIMENTAL_AGGREGATORS: ReadonlySet<AggregateOp> = new Set<AggregateOp>(['limitk', 'limit_ratio']);

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2';
export type ComparisonOp = '==' | '!=' | '<=' | '<' | '>=' | '>';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export const COMPARISON_OPS: ReadonlySet<string> = new Set(['==', '!=', '<=', '<', '>=', '>']);
export const SET_OPS: ReadonlySet<string> = new Set(['and', 'or', 'unless']);

export type Cardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

export interface VectorMatching {
  card: Cardinality;
  matchingLabels: string[];
  /** true for on(...), false for ignoring(...) or no clause. */
  on: boolean;
  /** group_left/group_right label list. */
  include: string[];
}

export interface NumberLiteral {
  readonly type: 'NumberLiteral';
  val: number;
  /** Written as a duration (e.g. `5m` used as a number); printed back as a duration. */
  duration?: boolean;
  pos: PosRange;
}

export interface StringLiteral {
  readonly type: 'StringLiteral';
  val: string;
  pos: PosRange;
}

export interface ParenExpr {
  readonly type: 'ParenExpr';
  expr: Expr;
  pos: PosRange;
}

export interface UnaryExpr {
  readonly type: 'UnaryExpr';
  op: '-' | '+';
  expr: Expr;
  pos: PosRange;
}

export interface VectorSelector {
  readonly type: 'VectorSelector';
  /** Metric name written outside the braces. */
  name?: string;
  /** In-brace matchers first, then the __name__ matcher for `name` (as Prometheus orders them). */
  matchers: LabelMatcher[];
  offsetMs: number;
  timestampMs?: number;
  startOrEnd?: 'start' | 'end';
  pos: PosRange;
}

export interface MatrixSelector {
  readonly type: 'MatrixSelector';
  vectorSelector: VectorSelector;
  rangeMs: number;
  pos: PosRange;
}

export interface SubqueryExpr {
  readonly type: 'SubqueryExpr';
  expr: Expr;
  rangeMs: number;
  /** 0 = default evaluation interval. */
  stepMs: number;
  offsetMs: number;
  timestampMs?: number;
  startOrEnd?: 'start' | 'end';
  pos: PosRange;
}

export interface Call {
  readonly type: 'Call';
  func: FunctionSpec;
  args: Expr[];
  pos: PosRange;
}

export interface AggregateExpr {
  readonly type: 'AggregateExpr';
  op: AggregateOp;
  expr: Expr;
  param?: Expr;
  grouping: string[];
  without: boolean;
  /** limitk / limit_ratio: experimental in Prometheus 3.5. */
  experimental: boolean;
  pos: PosRange;
}

export interface BinaryExpr {
  readonly type: 'BinaryExpr';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  returnBool: boolean;
  /** Present only when both operands are instant vectors. */
  vectorMatching?: VectorMatching;
  pos: PosRange;
}

/** Added by the engine, never by the parser. */
export interface StepInvariantExpr {
  readonly type: 'StepInvariantExpr';
  expr: Expr;
  pos: PosRange;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | ParenExpr
  | UnaryExpr
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | StepInvariantExpr;

export function valueTypeOf(e: Expr): ValueType {
  switch (e.type) {
    case 'NumberLiteral':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'ParenExpr':
    case 'UnaryExpr':
    case 'StepInvariantExpr':
      return valueTypeOf(e.expr);
    case 'VectorSelector':
    case 'AggregateExpr':
      return 'vector';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      return 'matrix';
    case 'Call':
      return e.func.returnType;
    case 'BinaryExpr':
      return valueTypeOf(e.lhs) === 'scalar' && valueTypeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
  }
}

/** Prometheus DocumentedType: how value types are named in messages. */
export function documentedType(t: ValueType): string {
  switch (t) {
    case 'vector':
      return 'instant vector';
    case 'matrix':
      return 'range vector';
    default:
      return t;
  }
}

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

function fn(name: string, argTypes: ValueType[], returnType: ValueType, variadic = 0, experimental = false, legacy = false): FunctionSpec {
  return legacy ? { name, argTypes, variadic, returnType, experimental, legacy } : { name, argTypes, variadic, returnType, experimental };
}

const FUNCTION_LIST: FunctionSpec[] = [
  fn('abs', [V], V),
  fn('absent', [V], V),
  fn('absent_over_time', [M], V),
  fn('acos', [V], V),
  fn('acosh', [V], V),
  fn('asin', [V], V),
  fn('asinh', [V], V),
  fn('atan', [V], V),
  fn('atanh', [V], V),
  fn('avg_over_time', [M], V),
  fn('ceil', [V], V),
  fn('changes', [M], V),
  fn('clamp', [V, S, S], V),
  fn('clamp_max', [V, S], V),
  fn('clamp_min', [V, S], V),
  fn('cos', [V], V),
  fn('cosh', [V], V),
  fn('count_over_time', [M], V),
  fn('days_in_month', [V], V, 1),
  fn('day_of_month', [V], V, 1),
  fn('day_of_week', [V], V, 1),
  fn('day_of_year', [V], V, 1),
  fn('deg', [V], V),
  fn('delta', [M], V),
  fn('deriv', [M], V),
  fn('double_exponential_smoothing', [M, S, S], V, 0, true),
  fn('exp', [V], V),
  fn('floor', [V], V),
  fn('histogram_avg', [V], V),
  fn('histogram_count', [V], V),
  fn('histogram_fraction', [S, S, V], V),
  fn('histogram_quantile', [S, V], V),
  fn('histogram_stddev', [V], V),
  fn('histogram_stdvar', [V], V),
  fn('histogram_sum', [V], V),
  fn('holt_winters', [M, S, S], V, 0, true, true),
  fn('hour', [V], V, 1),
  fn('idelta', [M], V),
  fn('increase', [M], V),
  fn('info', [V, V], V, 1, true),
  fn('irate', [M], V),
  fn('label_join', [V, STR, STR, STR], V, -1),
  fn('label_replace', [V, STR, STR, STR, STR], V),
  fn('last_over_time', [M], V),
  fn('ln', [V], V),
  fn('log10', [V], V),
  fn('log2', [V], V),
  fn('mad_over_time', [M], V, 0, true),
  fn('max_over_time', [M], V),
  fn('min_over_time', [M], V),
  fn('minute', [V], V, 1),
  fn('month', [V], V, 1),
  fn('pi', [], S),
  fn('predict_linear', [M, S], V),
  fn('present_over_time', [M], V),
  fn('quantile_over_time', [S, M], V),
  fn('rad', [V], V),
  fn('rate', [M], V),
  fn('resets', [M], V),
  fn('round', [V, S], V, 1),
  fn('scalar', [V], S),
  fn('sgn', [V], V),
  fn('sin', [V], V),
  fn('sinh', [V], V),
  fn('sort', [V], V),
  fn('sort_by_label', [V, STR], V, -1, true),
  fn('sort_by_label_desc', [V, STR], V, -1, true),
  fn('sort_desc', [V], V),
  fn('sqrt', [V], V),
  fn('stddev_over_time', [M], V),
  fn('stdvar_over_time', [M], V),
  fn('sum_over_time', [M], V),
  fn('tan', [V], V),
  fn('tanh', [V], V),
  fn('time', [], S),
  fn('timestamp', [V], V),
  fn('ts_of_last_over_time', [M], V, 0, true),
  fn('ts_of_max_over_time', [M], V, 0, true),
  fn('ts_of_min_over_time', [M], V, 0, true),
  fn('vector', [S], V),
  fn('year', [V], V, 1),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map(FUNCTION_LIST.map((f) => [f.name, f]));

/** Calls `f` on `e` and every expression below it, parents first. */
export function walkExpr(e: Expr, f: (e: Expr) => void): void {
  f(e);
  switch (e.type) {
    case 'ParenExpr':
    case 'UnaryExpr':
    case 'StepInvariantExpr':
    case 'SubqueryExpr':
      walkExpr(e.expr, f);
      return;
    case 'MatrixSelector':
      walkExpr(e.vectorSelector, f);
      return;
    case 'Call':
      for (const a of e.args) walkExpr(a, f);
      return;
    case 'AggregateExpr':
      if (e.param) walkExpr(e.param, f);
      walkExpr(e.expr, f);
      return;
    case 'BinaryExpr':
      walkExpr(e.lhs, f);
      walkExpr(e.rhs, f);
      return;
    default:
      return;
  }
}
