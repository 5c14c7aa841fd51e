// Runs Prometheus's PromQL test files (the promqltest language) against our engine, the way
// Prometheus's own runner does: every instant eval also with @ pinned to its time at other
// evaluation times, and again as a range query whose middle step must agree.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { labelsFromRecord, labelsToString, compareLabels } from '../../model/labels.js';
import { MemoryStorage } from '../../storage/memory.js';
import { compileMatchers, matchesLabels } from '../../model/matchers.js';
import type { Labels } from '../../model/labels.js';
import { walkExpr, type Expr } from '../ast.js';
import { Engine, type QueryOutput } from '../engine.js';
import type { Semantics } from '../functions/types.js';
import { formatExpr, parseExpr } from '../parser.js';
import { compareSeriesValue, parseTestFile, type EvalCommand, type ExpectedSeries, type SeriesMetric, type TestCommand } from './testfile.js';

export type Outcome = { status: 'passed' } | { status: 'failed'; reason: string } | { status: 'skipped'; reason: string };

export interface EvalOutcome {
  file: string;
  line: number;
  expr: string;
  outcome: Outcome;
}

/** Functions whose result depends on the evaluation time even with step-invariant arguments. */
const AT_MODIFIER_UNSAFE = new Set([
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'hour',
  'minute',
  'month',
  'year',
  'predict_linear',
  'time',
  'timestamp',
]);

/** Whole files that only exercise what Prometheus 3.5 has behind feature flags, or native histograms. */
const SKIPPED_FILES: Record<string, string> = {
  'native_histograms.test': 'native histograms are not supported',
  'duration_expression.test': 'duration expressions are behind a feature flag in Prometheus 3.5',
  'type_and_unit.test': 'type-and-unit labels are behind a feature flag in Prometheus 3.5',
  'limit.test': 'limitk/limit_ratio are behind a feature flag in Prometheus 3.5',
};

function metricLabels(m: SeriesMetric): Labels {
  return labelsFromRecord(m.name === undefined ? m.labels : { ...m.labels, __name__: m.name });
}

const MINUTE = 60_000;

export class ConformanceRunner {
  private storage = new MemoryStorage();
  /** Series with native-histogram samples in the current storage: evals that select one are skipped. */
  private histogramSeries: Labels[] = [];
  private readonly engine: Engine;

  constructor(readonly semantics: Semantics) {
    // Prometheus's test engine: 5m lookback, 10000 samples, experimental functions enabled, and in
    // 3.x delayed __name__ removal (its runner turns that feature flag on).
    this.engine = new Engine({
      semantics,
      lookbackDeltaMs: 5 * MINUTE,
      maxSamples: 10000,
      enableExperimentalFunctions: true,
      delayedNameRemoval: semantics === 'prometheus-3',
    });
  }

  async runFile(file: string): Promise<EvalOutcome[]> {
    const name = path.basename(file);
    const cmds = parseTestFile(readFileSync(file, 'utf8'), name);
    const out: EvalOutcome[] = [];
    this.storage = new MemoryStorage({ dotAll: this.semantics === 'prometheus-3' });
    this.histogramSeries = [];
    const skipFile = SKIPPED_FILES[name];
    for (const cmd of cmds) {
      if (cmd.kind === 'clear') {
        this.storage = new MemoryStorage({ dotAll: this.semantics === 'prometheus-3' });
        this.histogramSeries = [];
      } else if (cmd.kind === 'load') {
        this.load(cmd);
      } else {
        const skip = skipFile ?? this.skipReason(cmd);
        const outcome: Outcome = skip
          ? { status: 'skipped', reason: skip }
          : await this.evaluate(cmd).catch((err: unknown) => ({ status: 'failed' as const, reason: `runner error: ${(err as Error).stack}` }));
        out.push({ file: name, line: cmd.line, expr: cmd.expr, outcome });
      }
    }
    return out;
  }

  private load(cmd: Extract<TestCommand, { kind: 'load' }>): void {
    for (const s of cmd.series) {
      const labels = metricLabels(s.metric);
      s.values.forEach((v, i) => {
        const t = i * cmd.intervalMs;
        if (v.kind === 'float') this.storage.add(labels, t, v.value);
        else if (v.kind === 'stale') this.storage.add(labels, t, NaN, { stale: true });
      });
      if (s.values.some((v) => v.kind === 'histogram')) this.histogramSeries.push(labels);
      // load_with_nhcb also stores each classic histogram as a native one under the base name.
      if (cmd.withNhcb && s.metric.name && /_(bucket|count|sum)$/.test(s.metric.name)) {
        const { le: _le, ...rest } = s.metric.labels;
        this.histogramSeries.push(labelsFromRecord({ ...rest, __name__: s.metric.name.replace(/_(bucket|count|sum)$/, '') }));
      }
    }
  }

  private skipReason(cmd: EvalCommand): string | undefined {
    if (/\blimitk\b|\blimit_ratio\b/.test(cmd.expr)) return 'limitk/limit_ratio are behind a feature flag in Prometheus 3.5';
    const expected = cmd.expected;
    if (Array.isArray(expected) && expected.some((e) => e.values.some((v) => v.kind === 'histogram'))) return 'expects native histogram samples';
    if (this.histogramSeries.length > 0 && this.selectsHistogram(cmd.expr)) return 'selects series with native histogram samples';
    return undefined;
  }

  private selectsHistogram(exprText: string): boolean {
    let expr: Expr;
    try {
      expr = parseExpr(exprText);
    } catch {
      return false;
    }
    let found = false;
    walkExpr(expr, (e) => {
      if (e.type !== 'VectorSelector' || found) return;
      const ms = compileMatchers(e.matchers, { dotAll: this.semantics === 'prometheus-3' });
      found = this.histogramSeries.some((l) => matchesLabels(ms, l));
    });
    return found;
  }

  private async evaluate(cmd: EvalCommand): Promise<Outcome> {
    if (cmd.mode === 'range') {
      const res = await this.run(cmd, () => this.engine.rangeQuery(this.storage, cmd.expr, cmd.startMs!, cmd.endMs!, cmd.stepMs!));
      if (typeof res === 'object' && 'status' in res) return res;
      return this.check(cmd, res, cmd.expr) ?? { status: 'passed' };
    }
    const at = cmd.atMs!;
    const queries: { expr: string; at: number }[] = [{ expr: cmd.expr, at }, ...atModifierVariants(cmd.expr, at)];
    for (const q of queries) {
      const res = await this.run(cmd, () => this.engine.instantQuery(this.storage, q.expr, q.at));
      if (typeof res === 'object' && 'status' in res) {
        if (res.status === 'passed') continue;
        return { status: 'failed', reason: `${q.expr} at ${q.at}: ${res.reason}` };
      }
      const wrong = this.check(cmd, res, q.expr);
      if (wrong) return { status: 'failed', reason: `${q.expr} at ${q.at}: ${wrong.reason}` };
      if (cmd.ordered) continue; // range results are always sorted by labels
      const range = await this.engine.rangeQuery(this.storage, q.expr, q.at - MINUTE, q.at + MINUTE, MINUTE).catch((err: unknown) => err as Error);
      if (range instanceof Error) return { status: 'failed', reason: `${q.expr} at ${q.at} in range mode: ${range.message}` };
      const middle = middleStep(res, range, q.at);
      if (typeof middle === 'string') return { status: 'failed', reason: `${q.expr} at ${q.at} in range mode: ${middle}` };
      const wrongRange = this.check(cmd, middle, q.expr);
      if (wrongRange) return { status: 'failed', reason: `${q.expr} at ${q.at} in range mode: ${wrongRange.reason}` };
    }
    return { status: 'passed' };
  }

  /** Runs one query; an error is the outcome when it was expected (or a failure when not). */
  private async run(cmd: EvalCommand, query: () => Promise<QueryOutput>): Promise<QueryOutput | Outcome> {
    let res: QueryOutput;
    try {
      res = await query();
    } catch (err) {
      const msg = (err as Error).message;
      if (!cmd.fail) return { status: 'failed', reason: `unexpected error: ${msg}` };
      const e = cmd.expectedError;
      if (e && e.kind === 'exact' && e.text !== msg) return { status: 'failed', reason: `expected error "${e.text}", got "${msg}"` };
      if (e && e.kind === 'regex' && !new RegExp(e.text).test(msg)) return { status: 'failed', reason: `expected error matching /${e.text}/, got "${msg}"` };
      return { status: 'passed' };
    }
    if (cmd.fail) return { status: 'failed', reason: 'expected an error, got none' };
    return res;
  }

  /** Compares a result with the eval's expectations; undefined when it matches. */
  private check(cmd: EvalCommand, out: QueryOutput, expr: string): { status: 'failed'; reason: string } | undefined {
    const fail = (reason: string) => ({ status: 'failed' as const, reason });
    const annotations = checkAnnotations(cmd, out);
    if (annotations) return fail(annotations);
    const r = out.result;
    const exp = cmd.expected;
    if (exp === undefined) return undefined;
    if (!Array.isArray(exp)) {
      if (exp.kind === 'scalar') {
        if (r.resultType !== 'scalar') return fail(`expected scalar ${exp.value}, got ${r.resultType}`);
        return compareSeriesValue(exp.value, r.v) ? undefined : fail(`expected scalar ${exp.value} but got ${r.v}`);
      }
      if (r.resultType !== 'string') return fail(`expected string "${exp.value}", got ${r.resultType}`);
      return r.v === exp.value ? undefined : fail(`expected string "${exp.value}" but got "${r.v}"`);
    }
    const byKey = new Map<string, { exp: ExpectedSeries; pos: number }>();
    exp.forEach((e, pos) => byKey.set(labelsToString(metricLabels(e.metric)), { exp: e, pos }));
    if (r.resultType === 'scalar' || r.resultType === 'string') return fail(`expected vector or matrix result, but got ${r.resultType} ${String(r.v)}`);
    const seen = new Set<string>();
    if (r.resultType === 'vector') {
      for (let pos = 0; pos < r.result.length; pos++) {
        const s = r.result[pos];
        const key = labelsToString(s.labels);
        const e = byKey.get(key);
        if (!e) return fail(`unexpected metric ${key} in result, has value ${s.v}`);
        if (cmd.ordered && e.pos !== pos) return fail(`expected metric ${key} at position ${e.pos + 1} but was at ${pos + 1}`);
        const v0 = e.exp.values[0];
        if (v0?.kind !== 'float') return fail(`expected ${v0?.kind} for ${key} but got float value ${s.v}`);
        if (!compareSeriesValue(v0.value, s.v)) return fail(`expected ${v0.value} for ${key} but got ${s.v}`);
        seen.add(key);
      }
    } else {
      if (cmd.ordered) return fail('expected ordered result, but query returned a matrix');
      for (let i = 1; i < r.result.length; i++) {
        if (compareLabels(r.result[i - 1].labels, r.result[i].labels) > 0) return fail('matrix results should always be sorted by labels');
      }
      for (const s of r.result) {
        const key = labelsToString(s.labels);
        const e = byKey.get(key);
        if (!e) return fail(`unexpected metric ${key} in result, has ${s.values.length} points`);
        const start = cmd.mode === 'range' ? cmd.startMs! : cmd.atMs!;
        const step = cmd.mode === 'range' ? cmd.stepMs! : 0;
        const points: [number, number][] = [];
        e.exp.values.forEach((v, i) => {
          if (v.kind === 'float') points.push([start + i * step, v.value]);
        });
        if (points.length !== s.values.length)
          return fail(`expected ${points.length} points for ${key}, got ${s.values.length}: ${JSON.stringify(s.timestamps.map((t, i) => [t, s.values[i]]))}`);
        for (let i = 0; i < points.length; i++) {
          if (points[i][0] !== s.timestamps[i]) return fail(`expected point ${i} of ${key} at ${points[i][0]}, got ${s.timestamps[i]}`);
          if (!compareSeriesValue(points[i][1], s.values[i])) return fail(`expected ${points[i][1]} at ${points[i][0]} for ${key}, got ${s.values[i]}`);
        }
        seen.add(key);
      }
    }
    for (const key of byKey.keys()) if (!seen.has(key)) return fail(`expected metric ${key} not found (query ${expr})`);
    return undefined;
  }
}

function checkAnnotations(cmd: EvalCommand, out: QueryOutput): string | undefined {
  if (cmd.warn && out.warnings.length === 0) return 'expected warnings but got none';
  if (cmd.info && out.infos.length === 0) return 'expected info annotations but got none';
  for (const [kind, actual] of [
    ['warn', out.warnings],
    ['info', out.infos],
  ] as const) {
    const expected = cmd.expectations.filter((e) => e.kind === kind && e.text !== undefined);
    if (expected.length === 0) continue;
    const matches = (e: { match?: 'msg' | 'regex'; text?: string }, a: string) => (e.match === 'regex' ? new RegExp(e.text!).test(a) : e.text === a);
    for (const e of expected) if (!actual.some((a) => matches(e, a))) return `expected ${kind} annotation "${e.text}", found ${JSON.stringify(actual)}`;
    for (const a of actual) if (!expected.some((e) => matches(e, a))) return `unexpected ${kind} annotation "${a}"`;
  }
  if (cmd.expectations.some((e) => e.kind === 'no_warn') && out.warnings.length > 0) return `unexpected warnings ${JSON.stringify(out.warnings)}`;
  if (cmd.expectations.some((e) => e.kind === 'no_info') && out.infos.length > 0) return `unexpected infos ${JSON.stringify(out.infos)}`;
  return undefined;
}

/** The range query's point at `at` for each series, as the instant result it must equal. */
function middleStep(instant: QueryOutput, range: QueryOutput, at: number): QueryOutput | string {
  if (range.result.resultType !== 'matrix') return `range query returned ${range.result.resultType}`;
  const samples = [];
  for (const s of range.result.result) {
    const i = s.timestamps.indexOf(at);
    if (i >= 0) samples.push({ labels: s.labels, t: at, v: s.values[i] });
  }
  if (instant.result.resultType === 'scalar') {
    if (samples.length !== 1) return `expected one series for a scalar, got ${samples.length}`;
    return { ...range, result: { resultType: 'scalar', t: at, v: samples[0].v } };
  }
  return { ...range, result: { resultType: 'vector', result: samples } };
}

/**
 * Prometheus's runner also evaluates each instant query with `@ <eval time>` set on every selector
 * and subquery (not inside an @-pinned subquery) at other evaluation times: results must not change.
 */
export function atModifierVariants(exprText: string, atMs: number): { expr: string; at: number }[] {
  let expr: Expr;
  try {
    expr = parseExpr(exprText);
  } catch {
    return [];
  }
  let unsafe = false;
  const visit = (e: Expr, pinned: boolean): void => {
    switch (e.type) {
      case 'VectorSelector':
        if (!pinned && e.timestampMs === undefined && e.startOrEnd === undefined) e.timestampMs = atMs;
        return;
      case 'MatrixSelector':
        visit(e.vectorSelector, pinned);
        return;
      case 'SubqueryExpr':
        if (!pinned && e.timestampMs === undefined && e.startOrEnd === undefined) e.timestampMs = atMs;
        // Below a subquery with an @ time, selectors keep their own (Prometheus's hasAtModifier).
        visit(e.expr, pinned || e.timestampMs !== undefined);
        return;
      case 'Call':
        if (AT_MODIFIER_UNSAFE.has(e.func.name)) unsafe = true;
        e.args.forEach((a) => visit(a, pinned));
        return;
      case 'AggregateExpr':
        visit(e.expr, pinned);
        if (e.param) visit(e.param, pinned);
        return;
      case 'BinaryExpr':
        visit(e.lhs, pinned);
        visit(e.rhs, pinned);
        return;
      case 'ParenExpr':
      case 'UnaryExpr':
      case 'StepInvariantExpr':
        visit(e.expr, pinned);
        return;
      default:
        return;
    }
  };
  visit(expr, false);
  if (unsafe) return [];
  const text = formatExpr(expr);
  const times = atMs === 0 ? [-1000, 0, 1000] : [-10 * atMs, 0, Math.trunc(atMs / 5), atMs, 10 * atMs];
  return times.map((at) => ({ expr: text, at }));
}

export interface SuiteSummary {
  perFile: { file: string; passed: number; failed: number; skipped: number }[];
  outcomes: EvalOutcome[];
}

export async function runSuite(dir: string, semantics: Semantics): Promise<SuiteSummary> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test'))
    .sort();
  const perFile: SuiteSummary['perFile'] = [];
  const outcomes: EvalOutcome[] = [];
  for (const f of files) {
    const res = await new ConformanceRunner(semantics).runFile(path.join(dir, f));
    outcomes.push(...res);
    perFile.push({
      file: f,
      passed: res.filter((r) => r.outcome.status === 'passed').length,
      failed: res.filter((r) => r.outcome.status === 'failed').length,
      skipped: res.filter((r) => r.outcome.status === 'skipped').length,
    });
  }
  return { perFile, outcomes };
}
