// The contract between the evaluator (engine.ts) and the function implementations (functions/*.ts).

/** Prometheus generation whose PromQL rules apply; results must match the user's own servers. */
export type Semantics = 'prometheus-3' | 'prometheus-2';

/**
 * One series' float samples inside a range window: indexes [from, to) of `ts`/`vs`, in time order,
 * staleness markers already removed. The arrays are shared and must not be written to.
 */
export interface Window {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  readonly from: number;
  readonly to: number;
}

export interface RangeFnContext {
  /** The evaluation timestamp (ms) of this step. */
  readonly evalTs: number;
  /** The range of the selector or subquery (ms); the window is (evalTs - rangeMs, evalTs] in prometheus-3, [evalTs - rangeMs, evalTs] in prometheus-2. */
  readonly rangeMs: number;
  readonly semantics: Semantics;
  /** Scalar arguments other than the range vector, in call order, already evaluated at this step (e.g. quantile_over_time's φ, predict_linear's t, holt_winters' sf and tf). */
  readonly scalarArgs: readonly number[];
  /** The series' metric name, for warnings (e.g. rate() on a metric that does not look like a counter). */
  readonly metricName: string | undefined;
  /** Collects annotations the way Prometheus's warnings/infos do; texts as Prometheus words them. */
  readonly annotate: (kind: 'warning' | 'info', text: string) => void;
}

/** A function over a range vector: the output value for one series at one step, or undefined for no point. */
export type RangeFn = (w: Window, ctx: RangeFnContext) => number | undefined;

/** An element-wise function of an instant vector's value (abs, ln, clamp, hour, …); `args` are its scalar arguments. */
export type ElementFn = (v: number, args: readonly number[], semantics: Semantics) => number;
