// Binary operators: arithmetic, comparisons (filtering and `bool`), set operators, vector matching,
// as Prometheus's VectorBinop / VectorAnd / VectorOr / VectorUnless / VectorscalarBinop.

import type { Semantics } from './functions/types.js';
import { METRIC_NAME, type Labels } from '../model/labels.js';
import { labelsToSetString } from '../model/labels.js';
import { COMPARISON_OPS, type BinaryExpr, type BinaryOp, type VectorMatching } from './ast.js';
import { goMod, goPow } from './functions/element.js';
import {
  checkWork,
  delLabels,
  dropMetricName,
  getLabel,
  keepLabels,
  labelsKey,
  mergeSameLabels,
  newVSeries,
  sameLabelsetError,
  setLabel,
  withoutName,
  type EvalCtx,
  type QueryState,
  type Val,
  type VSeries,
} from './eval-types.js';
import { PromQLError } from '../errors.js';

/** Operators whose result drops __name__; atan2 joined them in Prometheus 3 (2.42 kept the name). */
function dropsName(op: BinaryOp, semantics: Semantics): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^' || (op === 'atan2' && semantics === 'prometheus-3');
}

/** Prometheus's vectorElemBinop for floats: [value, keep]. */
function elemBinop(op: BinaryOp, l: number, r: number): [number, boolean] {
  switch (op) {
    case '+':
      return [l + r, true];
    case '-':
      return [l - r, true];
    case '*':
      return [l * r, true];
    case '/':
      return [l / r, true];
    case '^':
      return [goPow(l, r), true];
    case '%':
      return [goMod(l, r), true];
    case 'atan2':
      return [Math.atan2(l, r), true];
    case '==':
      return [l, l === r];
    case '!=':
      return [l, l !== r];
    case '>':
      return [l, l > r];
    case '<':
      return [l, l < r];
    case '>=':
      return [l, l >= r];
    case '<=':
      return [l, l <= r];
    default:
      throw new PromQLError('execution', `operator ${JSON.stringify(op)} not allowed for operations between vectors`);
  }
}

/** Scalar-scalar operations (comparisons need `bool`: 1 or 0). */
function scalarBinop(op: BinaryOp, l: number, r: number): number {
  const [v, keep] = elemBinop(op, l, r);
  if (COMPARISON_OPS.has(op)) return keep ? 1 : 0;
  return v;
}

export function evalBinary(ctx: EvalCtx, e: BinaryExpr, lhs: Val, rhs: Val): Val {
  const n = ctx.steps.length;
  if (lhs.type === 'scalar' && rhs.type === 'scalar') {
    const vals = new Float64Array(n);
    for (let i = 0; i < n; i++) vals[i] = scalarBinop(e.op, lhs.vals[i], rhs.vals[i]);
    return { type: 'scalar', vals };
  }
  if (lhs.type === 'vector' && rhs.type === 'scalar') return { type: 'vector', series: vectorScalar(ctx, e, lhs.series, rhs.vals, false) };
  if (lhs.type === 'scalar' && rhs.type === 'vector') return { type: 'vector', series: vectorScalar(ctx, e, rhs.series, lhs.vals, true) };
  if (lhs.type !== 'vector' || rhs.type !== 'vector') throw new PromQLError('execution', 'binary expression must contain only scalar and instant vector types');
  const vm: VectorMatching = e.vectorMatching ?? { card: 'one-to-one', matchingLabels: [], on: false, include: [] };
  switch (e.op) {
    case 'and':
      return { type: 'vector', series: vectorAndUnless(ctx, lhs.series, rhs.series, vm, true) };
    case 'unless':
      return { type: 'vector', series: vectorAndUnless(ctx, lhs.series, rhs.series, vm, false) };
    case 'or':
      return { type: 'vector', series: vectorOr(ctx, lhs.series, rhs.series, vm) };
    default:
      return { type: 'vector', series: vectorBinop(ctx, e, lhs.series, rhs.series, vm) };
  }
}

function vectorScalar(ctx: EvalCtx, e: BinaryExpr, vec: VSeries[], scalar: Float64Array, swap: boolean): VSeries[] {
  const n = ctx.steps.length;
  const cmp = COMPARISON_OPS.has(e.op);
  const drop = dropsName(e.op, ctx.q.semantics) || e.returnBool;
  const out: VSeries[] = [];
  for (const s of vec) {
    checkWork(ctx.q, 1024);
    const r = drop ? withoutName(ctx.q, s.labels, n) : newVSeries(s.labels, n, s.dropName === true);
    let any = false;
    for (let i = 0; i < n; i++) {
      // A subquery's inner series can have millions of steps.
      if ((i & 1023) === 1023) checkWork(ctx.q, 1024);
      if (!s.has[i]) continue;
      let lf = s.vals[i];
      let rf = scalar[i];
      if (swap) [lf, rf] = [rf, lf];
      let [v, keep] = elemBinop(e.op, lf, rf);
      if (cmp && swap) v = rf;
      if (e.returnBool) {
        v = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      r.has[i] = 1;
      r.vals[i] = v;
      any = true;
    }
    if (any) out.push(r);
  }
  return mergeSameLabels(out);
}

/** The matching signature: the `on` labels, or all labels but the `ignoring` ones and __name__. */
function signature(l: Labels, vm: VectorMatching): string {
  return labelsKey(matchLabels(l, vm));
}

function matchLabels(l: Labels, vm: VectorMatching): Labels {
  if (vm.on) return keepLabels(l, vm.matchingLabels);
  return l.filter((x) => x.name !== METRIC_NAME && !vm.matchingLabels.includes(x.name));
}

function vectorAndUnless(ctx: EvalCtx, lhs: VSeries[], rhs: VSeries[], vm: VectorMatching, and: boolean): VSeries[] {
  const n = ctx.steps.length;
  const rsig = rhs.map((s) => signature(s.labels, vm));
  const lsig = lhs.map((s) => signature(s.labels, vm));
  const out = lhs.map((s) => newVSeries(s.labels, n, s.dropName === true));
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, lhs.length + rhs.length + 1);
    const present = new Set<string>();
    for (let j = 0; j < rhs.length; j++) if (rhs[j].has[i]) present.add(rsig[j]);
    for (let j = 0; j < lhs.length; j++) {
      if (!lhs[j].has[i] || present.has(lsig[j]) !== and) continue;
      out[j].has[i] = 1;
      out[j].vals[i] = lhs[j].vals[i];
    }
  }
  return out.filter((s) => s.has.includes(1));
}

function vectorOr(ctx: EvalCtx, lhs: VSeries[], rhs: VSeries[], vm: VectorMatching): VSeries[] {
  const n = ctx.steps.length;
  const rsig = rhs.map((s) => signature(s.labels, vm));
  const lsig = lhs.map((s) => signature(s.labels, vm));
  const rout = rhs.map((s) => newVSeries(s.labels, n, s.dropName === true));
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, lhs.length + rhs.length + 1);
    const present = new Set<string>();
    for (let j = 0; j < lhs.length; j++) if (lhs[j].has[i]) present.add(lsig[j]);
    for (let j = 0; j < rhs.length; j++) {
      if (!rhs[j].has[i] || present.has(rsig[j])) continue;
      rout[j].has[i] = 1;
      rout[j].vals[i] = rhs[j].vals[i];
    }
  }
  const out = [...lhs.map((s) => ({ labels: s.labels, vals: s.vals, has: s.has, dropName: s.dropName })), ...rout.filter((s) => s.has.includes(1))];
  return mergeSameLabels(out);
}

/** Prometheus's resultMetric; with delayed name removal the name is only marked to go. */
function resultMetric(l: Labels, r: Labels, op: BinaryOp, vm: VectorMatching, q: QueryState): { labels: Labels; dropName: boolean } {
  const drop = dropsName(op, q.semantics);
  let out = l;
  if (drop && !q.delayedNameRemoval) out = dropMetricName(out);
  if (vm.card === 'one-to-one') out = vm.on ? keepLabels(out, vm.matchingLabels) : delLabels(out, vm.matchingLabels);
  for (const ln of vm.include) out = setLabel(out, ln, getLabel(r, ln));
  return { labels: out, dropName: drop && q.delayedNameRemoval };
}

function vectorBinop(ctx: EvalCtx, e: BinaryExpr, lhsIn: VSeries[], rhsIn: VSeries[], vm: VectorMatching): VSeries[] {
  const n = ctx.steps.length;
  const oneToMany = vm.card === 'one-to-many';
  // For one-to-many, swap sides: `rhs` is always the "one" side.
  const lhs = oneToMany ? rhsIn : lhsIn;
  const rhs = oneToMany ? lhsIn : rhsIn;
  const lsig = lhs.map((s) => signature(s.labels, vm));
  const rsig = rhs.map((s) => signature(s.labels, vm));
  const outByKey = new Map<string, VSeries>();
  const pairLabels = new Map<string, { labels: Labels; key: string; dropName: boolean }>();
  for (let i = 0; i < n; i++) {
    checkWork(ctx.q, lhs.length + rhs.length + 1);
    const right = new Map<string, number>();
    for (let j = 0; j < rhs.length; j++) {
      if (!rhs[j].has[i]) continue;
      const dup = right.get(rsig[j]);
      if (dup !== undefined) {
        const side = oneToMany ? 'left' : 'right';
        const matched = labelsToSetString(matchLabels(rhs[j].labels, vm));
        throw new PromQLError(
          'execution',
          `found duplicate series for the match group ${matched} on the ${side} hand-side of the operation: ` +
            `[${labelsToSetString(rhs[j].labels)}, ${labelsToSetString(rhs[dup].labels)}]` +
            ';many-to-many matching not allowed: matching labels must be unique on one side',
        );
      }
      right.set(rsig[j], j);
    }
    const matched = new Map<string, Set<string> | null>();
    for (let j = 0; j < lhs.length; j++) {
      if (!lhs[j].has[i]) continue;
      const sig = lsig[j];
      const k = right.get(sig);
      if (k === undefined) continue;
      let fl = lhs[j].vals[i];
      let fr = rhs[k].vals[i];
      if (oneToMany) [fl, fr] = [fr, fl];
      const [value, keep] = elemBinop(e.op, fl, fr);
      if (!e.returnBool && !keep) continue;
      const v = e.returnBool ? (keep ? 1 : 0) : value;
      const pk = `${j},${k}`;
      let res = pairLabels.get(pk);
      if (res === undefined) {
        const rm = resultMetric(lhs[j].labels, rhs[k].labels, e.op, vm, ctx.q);
        let labels = rm.labels;
        let dropName = rm.dropName || lhs[j].dropName === true;
        if (e.returnBool) {
          if (ctx.q.delayedNameRemoval) dropName = true;
          else labels = dropMetricName(labels);
        }
        res = { labels, key: labelsKey(labels), dropName };
        pairLabels.set(pk, res);
      }
      const seen = matched.get(sig);
      if (vm.card === 'one-to-one') {
        if (seen !== undefined)
          throw new PromQLError('execution', 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        matched.set(sig, null);
      } else {
        let set = seen;
        if (set === undefined || set === null) {
          set = new Set();
          matched.set(sig, set);
        } else if (set.has(res.key)) {
          throw new PromQLError('execution', 'multiple matches for labels: grouping labels must ensure unique matches');
        }
        set.add(res.key);
      }
      let o = outByKey.get(res.key);
      if (o === undefined) {
        o = newVSeries(res.labels, n, res.dropName);
        outByKey.set(res.key, o);
      }
      if (o.has[i]) throw sameLabelsetError();
      o.has[i] = 1;
      o.vals[i] = v;
    }
  }
  return [...outByKey.values()];
}
