// Function calls: range-vector functions (RANGE_FUNCTIONS) over a window per series per step,
// element-wise functions (ELEMENT_FUNCTIONS), and those the evaluator implements itself (time,
// vector, scalar, timestamp, absent*, label_replace/label_join, sort*, histogram_quantile, pi).

import { compareLabels } from '../model/labels.js';
import { METRIC_NAME, type LabelMatcher, type Labels } from '../model/labels.js';
import { compileRegex, expandTemplate, matchAnchored } from '../model/regex.js';
import { goQuote } from '../util/go-quote.js';
import type { Call, Expr } from './ast.js';
import { ELEMENT_FUNCTIONS, clampDropsAll } from './functions/element.js';
import { RANGE_FUNCTIONS, invalidQuantileWarning, possibleNonCounterInfo, type RangeFnContextWithOffset } from './functions/range.js';
import { bucketFraction, bucketQuantile, type ClassicBucket } from './functions/quantile.js';
import {
  checkAbort,
  checkWork,
  dropMetricName,
  getLabel,
  labelsKey,
  mergeSameLabels,
  newVSeries,
  setLabel,
  withoutName,
  type EvalCtx,
  type MatrixVal,
  type Val,
  type VectorVal,
  type VSeries,
} from './eval-types.js';
import { evalVectorSelector, forEachWindow } from './eval-select.js';
import { isLegacyLabelName } from '../model/label-name.js';
import { RegexError, PromQLError } from '../errors.js';

type Evaluate = (ctx: EvalCtx, e: Expr) => Promise<Val>;

function unwrap(e: Expr): Expr {
  while (e.type === 'ParenExpr' || e.type === 'StepInvariantExpr') e = e.expr;
  return e;
}

/** Functions whose element-wise output keeps the metric name. */
const KEEP_NAME_RANGE = new Set(['last_over_time']);

export async function evalCall(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<Val> {
  const name = e.func.name;
  const n = ctx.steps.length;
  switch (name) {
    case 'time':
      return { type: 'scalar', vals: ctx.steps.map((t) => t / 1000) };
    case 'pi':
      return { type: 'scalar', vals: new Float64Array(n).fill(Math.PI) };
    case 'vector': {
      const s = await scalarArg(ctx, e.args[0], evaluate);
      return { type: 'vector', series: [{ labels: [], vals: s, has: new Uint8Array(n).fill(1) }] };
    }
    case 'scalar': {
      const v = await vectorArg(ctx, e.args[0], evaluate);
      const vals = new Float64Array(n).fill(NaN);
      const count = new Uint32Array(n);
      for (const s of v.series) {
        checkWork(ctx.q, n);
        for (let i = 0; i < n; i++) {
          if (!s.has[i]) continue;
          count[i]++;
          vals[i] = s.vals[i];
        }
      }
      for (let i = 0; i < n; i++) if (count[i] !== 1) vals[i] = NaN;
      return { type: 'scalar', vals };
    }
    case 'timestamp':
      return timestampFn(ctx, e, evaluate);
    case 'absent': {
      const v = await vectorArg(ctx, e.args[0], evaluate);
      const out = newVSeries(absentLabels(e.args[0]), n);
      for (let i = 0; i < n; i++) {
        if (!v.series.some((s) => s.has[i])) {
          out.has[i] = 1;
          out.vals[i] = 1;
        }
      }
      return { type: 'vector', series: out.has.includes(1) ? [out] : [] };
    }
    case 'absent_over_time': {
      const m = await matrixArg(ctx, e.args[0], evaluate);
      const present = new Uint8Array(n);
      for (const s of m.series)
        forEachWindow(ctx, m, s, (i, from, to) => {
          if (to > from) present[i] = 1;
        });
      const out = newVSeries(absentLabels(e.args[0]), n);
      for (let i = 0; i < n; i++) {
        if (!present[i]) {
          out.has[i] = 1;
          out.vals[i] = 1;
        }
      }
      return { type: 'vector', series: out.has.includes(1) ? [out] : [] };
    }
    case 'label_replace':
      return labelReplace(ctx, e, evaluate);
    case 'label_join':
      return labelJoin(ctx, e, evaluate);
    case 'sort':
    case 'sort_desc':
      return sortByValue(ctx, await vectorArg(ctx, e.args[0], evaluate), name === 'sort_desc');
    case 'sort_by_label':
    case 'sort_by_label_desc': {
      const v = await vectorArg(ctx, e.args[0], evaluate);
      const names: string[] = [];
      for (const a of e.args.slice(1)) names.push(await stringArg(ctx, a, evaluate));
      return sortByLabel(ctx, v, names, name === 'sort_by_label_desc');
    }
    case 'histogram_quantile':
      return histogramQuantile(ctx, e, evaluate);
    case 'histogram_fraction':
      return histogramFraction(ctx, e, evaluate);
    case 'histogram_count':
    case 'histogram_sum':
    case 'histogram_avg':
    case 'histogram_stddev':
    case 'histogram_stdvar':
      // Native histograms only: float samples are ignored.
      for (const a of e.args) await evaluate(ctx, a);
      return { type: 'vector', series: [] };
    default:
      break;
  }

  // Range-vector functions.
  const matrixIdx = e.func.argTypes.indexOf('matrix');
  if (matrixIdx >= 0) return rangeFunction(ctx, e, matrixIdx, evaluate);

  // Element-wise functions: vector first, scalar arguments after.
  const fn = ELEMENT_FUNCTIONS[name];
  if (fn === undefined) throw new PromQLError('execution', `function ${goQuote(name)} is not implemented`);
  let vec: VectorVal;
  if (e.args.length === 0) {
    // days_in_month() etc.: vector(time()).
    vec = { type: 'vector', series: [{ labels: [], vals: ctx.steps.map((t) => t / 1000), has: new Uint8Array(n).fill(1) }] };
  } else {
    vec = await vectorArg(ctx, e.args[0], evaluate);
  }
  const scalars: Float64Array[] = [];
  for (const a of e.args.slice(1)) scalars.push(await scalarArg(ctx, a, evaluate));
  const sem = ctx.q.semantics;
  const args = new Array<number>(scalars.length);
  const out: VSeries[] = vec.series.map((s) => withoutName(ctx.q, s.labels, n));
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, vec.series.length + 1);
    for (let a = 0; a < scalars.length; a++) args[a] = scalars[a][i];
    if (name === 'clamp' && clampDropsAll(args[0], args[1])) continue;
    for (let j = 0; j < vec.series.length; j++) {
      const s = vec.series[j];
      if (!s.has[i]) continue;
      out[j].has[i] = 1;
      out[j].vals[i] = fn(s.vals[i], args, sem);
    }
  }
  return { type: 'vector', series: mergeSameLabels(out.filter((s) => s.has.includes(1))) };
}

async function vectorArg(ctx: EvalCtx, e: Expr, evaluate: Evaluate): Promise<VectorVal> {
  const v = await evaluate(ctx, e);
  if (v.type !== 'vector') throw new PromQLError('execution', `expected instant vector, got ${v.type}`);
  return v;
}

async function scalarArg(ctx: EvalCtx, e: Expr, evaluate: Evaluate): Promise<Float64Array> {
  const v = await evaluate(ctx, e);
  if (v.type !== 'scalar') throw new PromQLError('execution', `expected scalar, got ${v.type}`);
  return v.vals;
}

async function stringArg(ctx: EvalCtx, e: Expr, evaluate: Evaluate): Promise<string> {
  const v = await evaluate(ctx, e);
  if (v.type !== 'string') throw new PromQLError('execution', `expected string, got ${v.type}`);
  return v.v;
}

async function matrixArg(ctx: EvalCtx, e: Expr, evaluate: Evaluate): Promise<MatrixVal> {
  const v = await evaluate(ctx, e);
  if (v.type !== 'matrix') throw new PromQLError('execution', `expected range vector, got ${v.type}`);
  return v;
}

/** Labels of absent()/absent_over_time(): the equality matchers of a selector argument, as Prometheus's createLabelsForAbsentFunction. */
function absentLabels(arg: Expr): Labels {
  const a = unwrap(arg);
  let ms: LabelMatcher[];
  if (a.type === 'VectorSelector') ms = a.matchers;
  else if (a.type === 'MatrixSelector') ms = a.vectorSelector.matchers;
  else return [];
  let out: Labels = [];
  const has = new Set<string>();
  for (const m of ms) {
    if (m.name === METRIC_NAME) continue;
    if (m.type === '=' && !has.has(m.name)) {
      out = setLabel(out, m.name, m.value);
      has.add(m.name);
    } else {
      out = setLabel(out, m.name, '');
    }
  }
  return out;
}

async function timestampFn(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<VectorVal> {
  const n = ctx.steps.length;
  const arg = unwrap(e.args[0]);
  let series: VSeries[];
  let sampleTime = false;
  if (arg.type === 'VectorSelector') {
    series = await evalVectorSelector(ctx, arg, true);
    sampleTime = true;
  } else {
    series = (await vectorArg(ctx, e.args[0], evaluate)).series;
  }
  const out = series.map((s) => {
    checkWork(ctx.q, n);
    const r = withoutName(ctx.q, s.labels, n);
    for (let i = 0; i < n; i++) {
      if (!s.has[i]) continue;
      r.has[i] = 1;
      r.vals[i] = (sampleTime && s.sampleTs !== undefined ? s.sampleTs[i] : ctx.steps[i]) / 1000;
    }
    return r;
  });
  return { type: 'vector', series: mergeSameLabels(out) };
}

async function rangeFunction(ctx: EvalCtx, e: Call, matrixIdx: number, evaluate: Evaluate): Promise<VectorVal> {
  const n = ctx.steps.length;
  const name = e.func.name;
  const fn = RANGE_FUNCTIONS[name];
  if (fn === undefined) throw new PromQLError('execution', `function ${goQuote(name)} is not implemented`);
  const scalars: Float64Array[] = [];
  let m: MatrixVal | undefined;
  for (let a = 0; a < e.args.length; a++) {
    if (a === matrixIdx) m = await matrixArg(ctx, e.args[a], evaluate);
    else scalars.push(await scalarArg(ctx, e.args[a], evaluate));
  }
  const mat = m!;
  const q = ctx.q;
  const keepName = KEEP_NAME_RANGE.has(name);
  const checkCounter = q.semantics === 'prometheus-3' && (name === 'rate' || name === 'increase');
  const annotate = (kind: 'warning' | 'info', text: string): void => {
    (kind === 'warning' ? q.warnings : q.infos).add(text);
  };
  const scalarArgs = new Array<number>(scalars.length);
  const out: VSeries[] = [];
  for (const s of mat.series) {
    checkAbort(q);
    const metricName = getLabel(s.labels, METRIC_NAME) || undefined;
    const r = keepName ? newVSeries(s.labels, n) : withoutName(ctx.q, s.labels, n);
    let any = false;
    forEachWindow(ctx, mat, s, (i, from, to) => {
      if (to <= from) return;
      for (let a = 0; a < scalars.length; a++) scalarArgs[a] = scalars[a][i];
      // With @, Prometheus evaluates the (step-invariant) call once at the evaluation's start, with
      // the selector's offset adjusted so that the window ends at @ - offset. predict_linear is not
      // step-invariant (its result depends on the evaluation time): it runs at every step.
      const evalTs = mat.atMs !== undefined && name !== 'predict_linear' ? ctx.start : ctx.steps[i];
      const offsetMs = mat.atMs !== undefined ? evalTs - mat.atMs + mat.offsetMs : mat.offsetMs;
      const fctx: RangeFnContextWithOffset = {
        evalTs,
        rangeMs: mat.rangeMs,
        semantics: q.semantics,
        scalarArgs,
        metricName,
        annotate,
        offsetMs,
      };
      const v = fn({ ts: s.ts, vs: s.vs, from, to }, fctx);
      if (v === undefined) return;
      r.has[i] = 1;
      r.vals[i] = v;
      any = true;
    });
    if (any) {
      out.push(r);
      if (checkCounter) {
        const info = possibleNonCounterInfo(metricName);
        if (info !== undefined) q.infos.add(info);
      }
    }
  }
  return { type: 'vector', series: mergeSameLabels(out) };
}

function regexError(fn: string, err: unknown): PromQLError {
  const msg = err instanceof RegexError ? err.message : String(err);
  return new PromQLError('execution', `invalid regular expression in ${fn}(): ${msg}`);
}

function validLabelName(name: string, sem: string): boolean {
  if (sem === 'prometheus-2') return isLegacyLabelName(name);
  // Any valid UTF-8 in Prometheus 3. Strings decode invalid byte escapes (e.g. "\xff") to U+FFFD.
  return name.length > 0 && !name.includes('\ufffd') && !/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

async function labelReplace(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<VectorVal> {
  const dst = await stringArg(ctx, e.args[1], evaluate);
  const repl = await stringArg(ctx, e.args[2], evaluate);
  const src = await stringArg(ctx, e.args[3], evaluate);
  const pattern = await stringArg(ctx, e.args[4], evaluate);
  let re;
  try {
    re = compileRegex(pattern, { dotAll: ctx.q.semantics === 'prometheus-3' });
  } catch (err) {
    throw regexError('label_replace', err);
  }
  if (!validLabelName(dst, ctx.q.semantics)) throw new PromQLError('execution', `invalid destination label name in label_replace(): ${dst}`);
  const v = await vectorArg(ctx, e.args[0], evaluate);
  const out = v.series.map((s) => {
    checkAbort(ctx.q);
    const m = matchAnchored(re, getLabel(s.labels, src));
    if (m === undefined) return s;
    // Writing __name__ explicitly keeps it, even where it was marked to go (delayed name removal).
    return { ...s, labels: setLabel(s.labels, dst, expandTemplate(repl, m)), dropName: s.dropName === true && dst !== METRIC_NAME };
  });
  return { type: 'vector', series: mergeSameLabels(out, true) };
}

async function labelJoin(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<VectorVal> {
  const dst = await stringArg(ctx, e.args[1], evaluate);
  const sep = await stringArg(ctx, e.args[2], evaluate);
  const srcs: string[] = [];
  for (const a of e.args.slice(3)) srcs.push(await stringArg(ctx, a, evaluate));
  for (const s of srcs) {
    if (!validLabelName(s, ctx.q.semantics)) throw new PromQLError('execution', `invalid source label name in label_join(): ${s}`);
  }
  if (!validLabelName(dst, ctx.q.semantics)) throw new PromQLError('execution', `invalid destination label name in label_join(): ${dst}`);
  const v = await vectorArg(ctx, e.args[0], evaluate);
  const out = v.series.map((s) => ({
    ...(checkAbort(ctx.q), s),
    labels: setLabel(s.labels, dst, srcs.map((l) => getLabel(s.labels, l)).join(sep)),
    dropName: s.dropName === true && dst !== METRIC_NAME,
  }));
  return { type: 'vector', series: mergeSameLabels(out, true) };
}

/**
 * sort / sort_desc, ordering the first step: NaN first in both in Prometheus 3 (vectorByValueHeap /
 * vectorByReverseValueHeap), NaN last in both in Prometheus 2.42.
 */
function sortByValue(ctx: EvalCtx, v: VectorVal, desc: boolean): VectorVal {
  if (ctx.steps.length !== 1) return v;
  const nanFirst = ctx.q.semantics === 'prometheus-3' ? -1 : 1;
  const series = v.series.filter((s) => s.has[0]);
  series.sort((a, b) => {
    checkAbort(ctx.q);
    const x = a.vals[0];
    const y = b.vals[0];
    const nx = Number.isNaN(x);
    const ny = Number.isNaN(y);
    if (nx || ny) return nx === ny ? 0 : nx ? nanFirst : -nanFirst;
    return desc ? y - x : x - y;
  });
  return { type: 'vector', series };
}

/** Natural order of strings (digit runs compared by value), as the natsort Prometheus uses. */
function naturalCompare(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const xa = a.match(re) ?? [];
  const xb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const p = xa[i];
    const r = xb[i];
    if (p === r) continue;
    const dp = /^\d/.test(p);
    const dr = /^\d/.test(r);
    if (dp && dr) {
      const d = Number(p) - Number(r);
      if (d !== 0) return d;
      return p.length - r.length;
    }
    return p < r ? -1 : 1;
  }
  return xa.length - xb.length;
}

function sortByLabel(ctx: EvalCtx, v: VectorVal, names: string[], desc: boolean): VectorVal {
  const series = [...v.series];
  series.sort((a, b) => {
    checkAbort(ctx.q);
    for (const l of names) {
      const x = getLabel(a.labels, l);
      const y = getLabel(b.labels, l);
      if (x === y) continue;
      const c = naturalCompare(x, y);
      return desc ? -c : c;
    }
    // Equal on every given label: the whole label set decides, so the order is always the same.
    const c = compareLabels(a.labels, b.labels);
    return desc ? -c : c;
  });
  return { type: 'vector', series };
}

interface BucketGroup {
  labels: Labels;
  dropName: boolean;
  members: { le: number; s: VSeries }[];
}

/** Classic histogram series grouped by all labels but `le` (the name included; outputs drop it). */
function bucketGroups(ctx: EvalCtx, v: VectorVal): BucketGroup[] {
  const q = ctx.q;
  const groups = new Map<string, BucketGroup>();
  for (const s of v.series) {
    checkAbort(q);
    const leStr = getLabel(s.labels, 'le');
    const le = parseGoFloat(leStr);
    if (le === undefined) {
      if (q.semantics === 'prometheus-3') {
        q.warnings.add(
          `PromQL warning: bucket label "le" is missing or has a malformed value of ${goQuote(leStr)} for metric name ${goQuote(getLabel(s.labels, METRIC_NAME))}`,
        );
      }
      continue;
    }
    const withoutLe = s.labels.filter((l) => l.name !== 'le');
    const k = labelsKey(withoutLe);
    let g = groups.get(k);
    if (g === undefined) {
      const delayed = q.delayedNameRemoval;
      groups.set(k, (g = { labels: delayed ? withoutLe : dropMetricName(withoutLe), dropName: delayed, members: [] }));
    }
    g.members.push({ le, s });
  }
  return [...groups.values()];
}

/** One output value per group and step from that step's buckets; undefined = no point. */
function perBuckets(ctx: EvalCtx, groups: BucketGroup[], f: (i: number, buckets: ClassicBucket[], g: BucketGroup) => number | undefined): VectorVal {
  const n = ctx.steps.length;
  const out: VSeries[] = [];
  for (const g of groups) {
    checkWork(ctx.q, n * (g.members.length + 1));
    const r = newVSeries(g.labels, n, g.dropName);
    let any = false;
    for (let i = 0; i < n; i++) {
      const buckets: ClassicBucket[] = [];
      for (const m of g.members) if (m.s.has[i]) buckets.push({ upperBound: m.le, count: m.s.vals[i] });
      if (buckets.length === 0) continue;
      const v = f(i, buckets, g);
      if (v === undefined) continue;
      r.has[i] = 1;
      r.vals[i] = v;
      any = true;
    }
    if (any) out.push(r);
  }
  return { type: 'vector', series: mergeSameLabels(out) };
}

async function histogramQuantile(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<VectorVal> {
  const qs = await scalarArg(ctx, e.args[0], evaluate);
  const v = await vectorArg(ctx, e.args[1], evaluate);
  const q = ctx.q;
  const groups = bucketGroups(ctx, v);
  for (let i = 0; i < ctx.steps.length; i++) {
    const qv = qs[i];
    if (qv < 0 || qv > 1 || Number.isNaN(qv)) {
      q.warnings.add(invalidQuantileWarning(qv));
      break;
    }
  }
  return perBuckets(ctx, groups, (i, buckets, g) => {
    const res = bucketQuantile(qs[i], buckets, q.semantics);
    if (res.forcedMonotonic && q.semantics === 'prometheus-3') {
      const metric = getLabel(g.members[0].s.labels, METRIC_NAME);
      q.infos.add(
        `PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name ${goQuote(metric)}`,
      );
    }
    return res.value;
  });
}

/** histogram_fraction(lower, upper, classic buckets): Prometheus 3 interpolates within buckets. */
async function histogramFraction(ctx: EvalCtx, e: Call, evaluate: Evaluate): Promise<VectorVal> {
  const lower = await scalarArg(ctx, e.args[0], evaluate);
  const upper = await scalarArg(ctx, e.args[1], evaluate);
  const v = await vectorArg(ctx, e.args[2], evaluate);
  // 2.42 had no classic-bucket histogram_fraction: float samples gave nothing.
  if (ctx.q.semantics === 'prometheus-2') return { type: 'vector', series: [] };
  return perBuckets(ctx, bucketGroups(ctx, v), (i, buckets) => bucketFraction(lower[i], upper[i], buckets));
}

/** Go's strconv.ParseFloat for bucket bounds: decimal, hex, Inf/NaN spellings; undefined when invalid. */
function parseGoFloat(s: string): number | undefined {
  const t = s.trim() === s ? s : '';
  if (t === '') return undefined;
  const lower = t.toLowerCase();
  if (['+inf', 'inf', '+infinity', 'infinity'].includes(lower)) return Infinity;
  if (['-inf', '-infinity'].includes(lower)) return -Infinity;
  if (lower === 'nan') return NaN;
  const clean = t.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(clean)) return Number(clean);
  if (/^[+-]?0x[0-9a-f]+$/i.test(clean)) {
    const neg = clean.startsWith('-');
    const v = Number.parseInt(clean.replace(/^[+-]?0x/i, ''), 16);
    return neg ? -v : v;
  }
  return undefined;
}
