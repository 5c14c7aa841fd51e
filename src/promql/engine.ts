// PromQL evaluation, following Prometheus's promql/engine.go (3.5, and 2.42 in 'prometheus-2' mode).
//
// Every query is a range evaluation over its steps (an instant query has one). The AST is walked
// once: each node yields its value for all steps at once (see eval-types.ts), selectors read the
// storage once and slide over each series with indexes that only move forward.

import type { Labels } from '../model/labels.js';
import { type PushdownRequest, type Storage } from '../storage/interface.js';
import { compareLabels } from '../model/labels.js';
import { valueTypeOf, documentedType, walkExpr, type AggregateExpr, type Call, type Expr, type VectorSelector } from './ast.js';
import { formatExpr, parseExpr } from './parser.js';
import type { Semantics } from './functions/types.js';
import {
  checkAbort,
  checkWork,
  countPoints,
  dropMetricName,
  labelsKey,
  makeSteps,
  mergeSameLabels,
  sameLabelsetError,
  storageCallError,
  tooManySamples,
  withoutName,
  type EvalCtx,
  type MatrixVal,
  type QueryState,
  type SampleStats,
  type Val,
  type VectorVal,
  type VSeries,
} from './eval-types.js';
import { evalBinary } from './eval-binary.js';
import { evalAggregate, evalCountValuesSparse, type SparseSeries } from './eval-aggr.js';
import { evalCall } from './eval-call.js';
import { evalMatrixSelector, evalSubquery, evalVectorSelector, forEachWindow } from './eval-select.js';
import { answerSeries, planPushdown, pushdownValue } from './pushdown.js';
import { PromQLParseError, PromQLError, evaluationError } from '../errors.js';

/** A query parsed and checked by Engine.prepare, ready to run any number of times. */
export interface PreparedQuery {
  readonly query: string;
  readonly expr: Expr;
}

export interface EngineOptions {
  /** Default 'prometheus-3'. */
  semantics?: Semantics;
  /** Default 5m. */
  lookbackDeltaMs?: number;
  /** Default 50e6. */
  maxSamples?: number;
  /** Default 2m. */
  timeoutMs?: number;
  /** Step of subqueries written without one (Prometheus's global evaluation_interval). Default 1m. */
  noStepSubqueryIntervalMs?: number;
  /** Allow experimental functions and limitk/limit_ratio (--enable-feature=promql-experimental-functions). Default false. */
  enableExperimentalFunctions?: boolean;
  /** --enable-feature=promql-delayed-name-removal (off by default in Prometheus 3.5; on in its own test runner). */
  delayedNameRemoval?: boolean;
}

/** Per-run options of execInstant / execRange. */
export interface ExecOptions {
  /**
   * This run's time budget in ms, when shorter than the engine's timeout (what is left of a
   * request's timeout after it waited in the admission queue).
   */
  timeoutMs?: number;
  /**
   * The caller writes the answer as Prometheus's JSON and takes QueryOutput.verbatim when it is set
   * (a whole query answered by one downstream, whose bytes are what we would write).
   */
  verbatim?: boolean;
  /**
   * Count samples as Prometheus's `stats` does (QueryOutput.samples). Pushdown is not used then:
   * a downstream's evaluation would hide what it read.
   */
  countSamples?: boolean;
}

/** Prometheus's query sample statistics (its util/stats QuerySamples) of one run. */
export interface QuerySamples {
  /** totalQueryableSamples: the sum of perStep. */
  total: number;
  /** totalQueryableSamplesPerStep: samples read at each step of the query, in step order. */
  perStep: number[];
  /** peakSamples, by this engine's structure (notePeak). */
  peak: number;
}

export type Sample = { labels: Labels; t: number; v: number };

export type QueryResult =
  | { resultType: 'vector'; result: Sample[] }
  | { resultType: 'matrix'; result: { labels: Labels; timestamps: number[]; values: number[] }[] }
  | { resultType: 'scalar'; t: number; v: number }
  | { resultType: 'string'; t: number; v: string };

export interface QueryOutput {
  result: QueryResult;
  warnings: string[];
  infos: string[];
  /**
   * Only when ExecOptions.verbatim asked for it: the answer's `data` JSON as the downstream wrote
   * it, which is the encoding of the result; `result` is then empty (nothing was parsed).
   */
  verbatim?: Uint8Array;
  /** Only when the run counted samples (ExecOptions.countSamples). */
  samples?: QuerySamples;
}

/** Functions that did not exist in Prometheus 2.42 (beyond those flagged experimental). */
const NOT_IN_2_42 = new Set(['double_exponential_smoothing', 'histogram_avg', 'histogram_stddev', 'histogram_stdvar']);

export class Engine {
  private readonly semantics: Semantics;
  private readonly lookbackMs: number;
  private readonly maxSamples: number;
  private readonly timeoutMs: number;
  private readonly noStepSubqueryIntervalMs: number;
  private readonly enableExperimental: boolean;
  private readonly delayedNameRemoval: boolean;

  constructor(opts: EngineOptions = {}) {
    this.semantics = opts.semantics ?? 'prometheus-3';
    this.lookbackMs = opts.lookbackDeltaMs ?? 5 * 60_000;
    this.maxSamples = opts.maxSamples ?? 50e6;
    this.timeoutMs = opts.timeoutMs ?? 2 * 60_000;
    this.noStepSubqueryIntervalMs = opts.noStepSubqueryIntervalMs ?? 60_000;
    this.enableExperimental = opts.enableExperimentalFunctions ?? false;
    this.delayedNameRemoval = opts.delayedNameRemoval ?? false;
  }

  /** Parses and runs an instant query; parse errors come back as a rejected promise. */
  instantQuery(storage: Storage, query: string, timeMs: number, signal?: AbortSignal): Promise<QueryOutput> {
    return (async () => this.execInstant(this.prepare(query), storage, timeMs, signal))();
  }

  /** Parses and runs a range query; a bad step or end throws at once, parse errors come back as a rejected promise. */
  rangeQuery(storage: Storage, query: string, startMs: number, endMs: number, stepMs: number, signal?: AbortSignal): Promise<QueryOutput> {
    checkRange(startMs, endMs, stepMs);
    return (async () => this.exec(storage, this.prepare(query), startMs, endMs, stepMs, signal, false))();
  }

  /**
   * Parses and checks a query once (syntax, and the functions this engine's Prometheus version
   * knows) so that a caller can report its errors before running it, and run it without parsing
   * it again. Throws PromQLError('bad_data').
   */
  prepare(query: string): PreparedQuery {
    return { query, expr: this.parse(query) };
  }

  /** Runs a prepared query at one time. */
  execInstant(prepared: PreparedQuery, storage: Storage, timeMs: number, signal?: AbortSignal, opts?: ExecOptions): Promise<QueryOutput> {
    return this.exec(storage, prepared, timeMs, timeMs, 0, signal, true, opts);
  }

  /**
   * Runs a prepared query over a range. A bad step or end throws at once, a query that is not a
   * scalar or instant vector is a rejected promise (as rangeQuery reports them).
   */
  execRange(
    prepared: PreparedQuery,
    storage: Storage,
    startMs: number,
    endMs: number,
    stepMs: number,
    signal?: AbortSignal,
    opts?: ExecOptions,
  ): Promise<QueryOutput> {
    checkRange(startMs, endMs, stepMs);
    return this.exec(storage, prepared, startMs, endMs, stepMs, signal, false, opts);
  }

  /** Parses and checks a query as this engine's Prometheus version would; throws PromQLError('bad_data'). */
  parse(query: string): Expr {
    let expr: Expr;
    try {
      expr = parseExpr(query, { anchoredRegexErrors: this.semantics === 'prometheus-2' });
    } catch (e) {
      if (e instanceof PromQLParseError) throw new PromQLError('bad_data', e.message);
      throw new PromQLError('bad_data', (e as Error).message);
    }
    this.checkFeatures(query, expr);
    return expr;
  }

  private checkFeatures(query: string, e: Expr): void {
    const fail = (start: number, end: number, detail: string): never => {
      throw new PromQLError('bad_data', new PromQLParseError(query, { start, end }, detail).message);
    };
    const p2 = this.semantics === 'prometheus-2';
    walkExpr(e, (n) => {
      if (n.type === 'Call') {
        const f = n.func;
        const nameEnd = n.pos.start + f.name.length;
        if (p2) {
          if ((f.experimental && !f.legacy && !this.enableExperimental) || NOT_IN_2_42.has(f.name)) {
            fail(n.pos.start, nameEnd, `unknown function with name ${JSON.stringify(f.name)}`);
          }
        } else {
          if (f.legacy) fail(n.pos.start, nameEnd, `unknown function with name ${JSON.stringify(f.name)}`);
          if (f.experimental && !this.enableExperimental) fail(n.pos.start, nameEnd, `function ${JSON.stringify(f.name)} is not enabled`);
        }
      } else if (n.type === 'AggregateExpr' && n.experimental && !this.enableExperimental) {
        if (p2) fail(n.pos.start, n.pos.start + n.op.length, `unknown function with name ${JSON.stringify(n.op)}`);
        fail(n.pos.start, n.pos.end, 'limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions');
      }
    });
  }

  private async exec(
    storage: Storage,
    prepared: PreparedQuery,
    start: number,
    end: number,
    interval: number,
    signal: AbortSignal | undefined,
    instant: boolean,
    opts?: ExecOptions,
  ): Promise<QueryOutput> {
    const { query, expr } = prepared;
    const vt = valueTypeOf(expr);
    if (!instant && vt !== 'scalar' && vt !== 'vector') {
      throw new PromQLError('bad_data', `invalid expression type ${JSON.stringify(documentedType(vt))} for range query, must be Scalar or instant Vector`);
    }
    const q: QueryState = {
      storage,
      semantics: this.semantics,
      lookbackMs: this.lookbackMs,
      maxSamples: this.maxSamples,
      deadline: performance.now() + Math.min(this.timeoutMs, opts?.timeoutMs ?? Infinity),
      signal,
      queryStart: start,
      queryEnd: end,
      noStepSubqueryIntervalMs: this.noStepSubqueryIntervalMs,
      enableExperimental: this.enableExperimental,
      delayedNameRemoval: this.delayedNameRemoval,
      warnings: new Set(),
      infos: new Set(),
      checkCount: 0,
      samples: opts?.countSamples === true ? { peak: 0, points: new Map() } : undefined,
    };
    checkAbort(q, true);
    const steps = makeSteps(start, end, interval);
    const counts = q.samples !== undefined ? new Float64Array(steps.length) : undefined;
    const ctx: EvalCtx = { q, start, end, interval, steps, counts };
    const root = unwrap(expr);
    const samples = (): QuerySamples | undefined =>
      counts === undefined ? undefined : { total: counts.reduce((a, b) => a + b, 0), perStep: Array.from(counts), peak: q.samples!.peak };
    let val: Val;
    try {
      const verbatim = opts?.verbatim === true ? (instant && isOrdered(expr) ? 'any' : 'sorted') : undefined;
      const pushed = q.samples === undefined ? await tryWholeQueryPushdown(ctx, query, expr, verbatim) : undefined;
      if (pushed?.verbatim !== undefined) {
        checkAbort(q, true);
        const result: QueryResult = instant ? { resultType: 'vector', result: [] } : { resultType: 'matrix', result: [] };
        return { result, warnings: [...q.warnings], infos: [...q.infos], verbatim: pushed.verbatim };
      }
      if (pushed === undefined && !instant && root.type === 'AggregateExpr' && root.op === 'count_values') {
        const result = sparseMatrix(ctx, await evalCountValuesSparse(ctx, root, evaluate));
        return { result, warnings: [...q.warnings], infos: [...q.infos], samples: samples() };
      }
      // A subquery that is the whole query counts what its inner evaluation read (evalSubquery).
      val = pushed ?? (counts !== undefined && root.type === 'SubqueryExpr' ? await evalSubquery(ctx, root, evaluate, true) : await evaluate(ctx, expr));
    } catch (e) {
      throw evaluationError(e, signal?.aborted === true);
    }
    checkAbort(q, true);
    if (val.type === 'vector' && q.delayedNameRemoval) val = { ...val, series: dropDelayedNames(val.series) };
    // A whole-query subquery was not evaluated through evaluate(); formatResult lets go of the
    // value's series as it converts them.
    if (counts !== undefined && root.type === 'SubqueryExpr') notePeak(q.samples!, root, val, steps.length);
    // A range selector that is the whole query counts its samples at the one step (its windows,
    // walked by formatResult); a whole-query subquery counted its inner evaluation instead.
    const resultCtx = root.type === 'SubqueryExpr' ? { ...ctx, counts: undefined } : ctx;
    const out: QueryOutput = { result: formatResult(resultCtx, expr, val, instant), warnings: [...q.warnings], infos: [...q.infos] };
    if (counts !== undefined) out.samples = samples();
    return out;
  }
}

/** The engine's own guard on a range; the HTTP API checks the same before, in Prometheus's order. */
function checkRange(startMs: number, endMs: number, stepMs: number): void {
  if (!(stepMs > 0)) throw new PromQLError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  if (endMs < startMs) throw new PromQLError('bad_data', 'end timestamp must not be before start time');
}

// ---------------------------------------------------------------------------------------------
// Results

/** The end of delayed name removal: marked series lose __name__, and then no label set may repeat. */
function dropDelayedNames(series: VSeries[]): VSeries[] {
  const out = series.map((s) => (s.dropName ? { ...s, labels: dropMetricName(s.labels), dropName: false } : s));
  const seen = new Set<string>();
  for (const s of out) {
    const k = labelsKey(s.labels);
    if (seen.has(k)) throw sameLabelsetError();
    seen.add(k);
  }
  return out;
}

function isOrdered(e: Expr): boolean {
  while (e.type === 'ParenExpr' || e.type === 'StepInvariantExpr') e = e.expr;
  if (e.type === 'Call') return ['sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc'].includes(e.func.name);
  if (e.type === 'AggregateExpr') return e.op === 'topk' || e.op === 'bottomk';
  return false;
}

function unwrap(e: Expr): Expr {
  while (e.type === 'ParenExpr' || e.type === 'StepInvariantExpr') e = e.expr;
  return e;
}

/** A range query's answer from series given as their points (count_values at the root). */
function sparseMatrix(ctx: EvalCtx, series: SparseSeries[]): QueryResult {
  const result = series.map((s) => ({ labels: s.labels, timestamps: s.steps.map((i) => ctx.steps[i]), values: s.counts }));
  result.sort(byLabels(ctx.q));
  return { resultType: 'matrix', result };
}

/** Label order for a result's series; sorting a large result takes long enough to need the deadline too. */
function byLabels(q: QueryState): (a: { labels: Labels }, b: { labels: Labels }) => number {
  return (a, b) => {
    checkAbort(q);
    return compareLabels(a.labels, b.labels);
  };
}

function formatResult(ctx: EvalCtx, expr: Expr, val: Val, instant: boolean): QueryResult {
  const t = ctx.start;
  switch (val.type) {
    case 'string':
      return { resultType: 'string', t, v: val.v };
    case 'scalar':
      if (instant) return { resultType: 'scalar', t, v: val.vals[0] };
      return { resultType: 'matrix', result: [{ labels: [], timestamps: Array.from(ctx.steps), values: Array.from(val.vals) }] };
    case 'vector': {
      if (instant) {
        const result: Sample[] = [];
        for (const s of val.series) if (s.has[0]) result.push({ labels: s.labels, t, v: s.vals[0] });
        if (!isOrdered(expr)) result.sort(byLabels(ctx.q));
        return { resultType: 'vector', result };
      }
      const result: { labels: Labels; timestamps: number[]; values: number[] }[] = [];
      const series: (VSeries | undefined)[] = val.series;
      // Series present at every step share one timestamps array (read-only from here on).
      let allSteps: number[] | undefined;
      for (let j = 0; j < series.length; j++) {
        const s = series[j]!;
        checkWork(ctx.q, s.has.length);
        // Each series is let go once converted: the engine's arrays and the result's are not all
        // held at once (10,000 series x 720 steps are ~100 MB each). Exact-size arrays, filled in
        // order, stay packed doubles.
        series[j] = undefined;
        let count = 0;
        for (let i = 0; i < s.has.length; i++) count += s.has[i];
        if (count === 0) continue;
        const full = count === s.has.length;
        const timestamps: number[] = full ? (allSteps ??= Array.from(ctx.steps)) : new Array<number>(count).fill(0);
        const values: number[] = new Array<number>(count).fill(0);
        let k = 0;
        for (let i = 0; i < s.has.length; i++) {
          if (!s.has[i]) continue;
          if (!full) timestamps[k] = ctx.steps[i];
          values[k++] = s.vals[i];
        }
        result.push({ labels: s.labels, timestamps, values });
      }
      result.sort(byLabels(ctx.q));
      return { resultType: 'matrix', result };
    }
    case 'matrix': {
      const result: { labels: Labels; timestamps: number[]; values: number[] }[] = [];
      for (const s of val.series) {
        checkAbort(ctx.q);
        let from = 0;
        let to = 0;
        forEachWindow(ctx, val, s, (_i, f, tt) => {
          from = f;
          to = tt;
        });
        if (to > from) result.push({ labels: s.labels, timestamps: Array.from(s.ts.subarray(from, to)), values: Array.from(s.vs.subarray(from, to)) });
      }
      result.sort(byLabels(ctx.q));
      return { resultType: 'matrix', result };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The node's value for every step of `ctx`; noted for the peak when the query counts samples. */
export async function evaluate(ctx: EvalCtx, e: Expr): Promise<Val> {
  const v = await evaluateNode(ctx, e);
  if (ctx.q.samples !== undefined) notePeak(ctx.q.samples, e, v, ctx.steps.length);
  return v;
}

/**
 * peakSamples by this engine's structure: it evaluates a node for all steps at once, holding its
 * arguments' values while it builds its own, so the peak is the largest sum, over the nodes
 * evaluated, of the points of a node's value and of its arguments' values (a vector's present
 * steps, a matrix's samples, a scalar's steps). Prometheus's evaluator holds one step's or one
 * series' window at a time where this one holds the whole selection, so the two agree only for
 * selectors and simple functions of them; see docs/api.md#stats.
 */
function notePeak(stats: SampleStats, e: Expr, v: Val, steps: number): void {
  const own = v.type === 'vector' ? countPoints(v.series) : v.type === 'scalar' ? steps : v.type === 'matrix' ? matrixPoints(v) : 0;
  let args = 0;
  for (const a of argumentsOf(e)) args += stats.points.get(a) ?? 0;
  stats.points.set(e, own);
  if (own + args > stats.peak) stats.peak = own + args;
}

function matrixPoints(v: MatrixVal): number {
  let n = 0;
  for (const s of v.series) n += s.ts.length;
  return n;
}

/** The expressions whose values a node's evaluation holds while it builds its own. */
function argumentsOf(e: Expr): Expr[] {
  switch (e.type) {
    case 'UnaryExpr':
    case 'SubqueryExpr':
      return [e.expr];
    case 'BinaryExpr':
      return [e.lhs, e.rhs];
    case 'AggregateExpr':
      return e.param ? [e.param, e.expr] : [e.expr];
    case 'Call':
      return e.args;
    default:
      return [];
  }
}

async function evaluateNode(ctx: EvalCtx, e: Expr): Promise<Val> {
  checkAbort(ctx.q, true);
  const n = ctx.steps.length;
  switch (e.type) {
    case 'NumberLiteral':
      return { type: 'scalar', vals: new Float64Array(n).fill(e.val) };
    case 'StringLiteral':
      return { type: 'string', v: e.val };
    case 'ParenExpr':
    case 'StepInvariantExpr':
      return evaluate(ctx, e.expr);
    case 'UnaryExpr': {
      const v = await evaluate(ctx, e.expr);
      if (e.op === '+') return v;
      if (v.type === 'scalar') return { type: 'scalar', vals: v.vals.map((x) => -x) };
      if (v.type !== 'vector') throw new PromQLError('execution', 'unary expression only allowed on expressions of type scalar or instant vector');
      const series: VSeries[] = v.series.map((s) => ({ ...withoutName(ctx.q, s.labels, 0), vals: s.vals.map((x) => -x), has: s.has }));
      return { type: 'vector', series: mergeSameLabels(series) };
    }
    case 'VectorSelector':
      return { type: 'vector', series: await evalVectorSelector(ctx, e) };
    case 'MatrixSelector':
      return evalMatrixSelector(ctx, e);
    case 'SubqueryExpr':
      return evalSubquery(ctx, e, evaluate);
    case 'BinaryExpr': {
      // Both sides at once, so their storage reads overlap; the left side's error wins, as it would
      // evaluated in order.
      const [l, r] = await Promise.allSettled([evaluate(ctx, e.lhs), evaluate(ctx, e.rhs)]);
      if (l.status === 'rejected') throw l.reason;
      if (r.status === 'rejected') throw r.reason;
      const lhs = l.value;
      const rhs = r.value;
      const v = evalBinary(ctx, e, lhs, rhs);
      if (v.type === 'vector') checkSamples(ctx, v.series);
      return v;
    }
    case 'AggregateExpr': {
      const v = (await tryPartialAggregate(ctx, e)) ?? (await evalAggregate(ctx, e, evaluate));
      checkSamples(ctx, v.series);
      return v;
    }
    case 'Call': {
      const v = (ctx.q.samples === undefined ? await tryPushdown(ctx, e) : undefined) ?? (await evalCall(ctx, e, evaluate));
      if (v.type === 'vector') checkSamples(ctx, v.series);
      return v;
    }
  }
}

/**
 * The whole query evaluated by the one server that holds all its data, when the storage finds
 * there is such a server (see FanoutStorage.pushdownWholeQuery): its answer is the answer, and its
 * annotations are the query's. Only for instant-vector queries with at least one selector.
 */
async function tryWholeQueryPushdown(
  ctx: EvalCtx,
  query: string,
  expr: Expr,
  verbatim: PushdownRequest['verbatim'],
): Promise<(VectorVal & { verbatim?: Uint8Array }) | undefined> {
  const q = ctx.q;
  const storage = q.storage;
  if (storage.pushdown === undefined || q.delayedNameRemoval || valueTypeOf(expr) !== 'vector') return undefined;
  const selectors: VectorSelector[] = [];
  let reduces = false;
  walkExpr(expr, (n) => {
    if (n.type === 'VectorSelector') selectors.push(n);
    else if (n.type === 'AggregateExpr' || n.type === 'MatrixSelector' || n.type === 'SubqueryExpr') reduces = true;
  });
  if (selectors.length === 0) return undefined;
  let res;
  try {
    res = await storage.pushdown(
      {
        query: query.trim(),
        matchers: selectors[0].matchers,
        startMs: ctx.start,
        endMs: ctx.end,
        stepMs: ctx.interval,
        wholeQuerySelectors: selectors.map((v) => v.matchers),
        sizedLikeInput: !reduces,
        verbatim,
      },
      q.signal,
    );
  } catch (err) {
    throw storageCallError(q, err);
  }
  if (res === undefined) return undefined;
  const series = answerSeries(ctx, res);
  for (const w of res.warnings ?? []) q.warnings.add(w);
  for (const i of res.infos ?? []) q.infos.add(i);
  return { type: 'vector', series, verbatim: res.verbatim?.data };
}

/**
 * The aggregation as the storage computes it from per-group partial aggregates (src/query/partials),
 * when it can do so exactly; its PromQL annotations are the query's.
 */
async function tryPartialAggregate(ctx: EvalCtx, e: AggregateExpr): Promise<VectorVal | undefined> {
  const q = ctx.q;
  if (q.storage.aggregate === undefined || q.delayedNameRemoval) return undefined;
  let res;
  try {
    res = await q.storage.aggregate(
      {
        query: formatExpr(e),
        startMs: ctx.start,
        endMs: ctx.end,
        stepMs: ctx.interval,
        timeoutMs: Math.max(1, q.deadline - performance.now()),
        countSamples: q.samples !== undefined,
      },
      q.signal,
    );
  } catch (err) {
    throw storageCallError(q, err);
  }
  if (res === undefined) return undefined;
  for (const w of res.warnings ?? []) q.warnings.add(w);
  for (const i of res.infos ?? []) q.infos.add(i);
  return { type: 'vector', series: answerSeries(ctx, res) };
}

/** The call's value evaluated downstream, when the expression and the storage both allow it. */
async function tryPushdown(ctx: EvalCtx, e: Call): Promise<VectorVal | undefined> {
  const storage = ctx.q.storage;
  if (storage.pushdown === undefined) return undefined;
  const plan = planPushdown(ctx, e);
  if (plan === undefined) return undefined;
  let res;
  try {
    res = await storage.pushdown(plan.request, ctx.q.signal);
  } catch (err) {
    throw storageCallError(ctx.q, err);
  }
  return res === undefined ? undefined : pushdownValue(ctx, e, plan, res);
}

function checkSamples(ctx: EvalCtx, series: readonly VSeries[]): void {
  if (countPoints(series) > ctx.q.maxSamples) throw tooManySamples();
}
