// Reader for the PromQL test-file language of Prometheus's promqltest package (promql/promqltest/test.go,
// promql/test.go before 2.50). It only parses: nothing here evaluates a query or parses the PromQL in
// `eval` lines. The accepted language is the union of the Prometheus 2.42 and 3.5 dialects:
//
//   load <interval>                 | load_with_nhcb <interval>
//     <series description>...         (until a blank line or a comment)
//   clear
//   eval[_fail|_ordered|_warn|_info] instant at <time> <expr>
//   eval[_fail|_warn|_info] range from <time> to <time> step <duration> <expr>
//     expect <fail|warn|no_warn|info|no_info|ordered> [msg: <text> | regex: <pattern>]   (3.x)
//     expected_fail_message <text> | expected_fail_regexp <pattern>                     (eval_fail only)
//     <number>                       a scalar result (ends the block)
//     <series description>...        the vector/matrix result; none at all = empty result
//
// Lines are trimmed and a line whose first non-blank character is `#` counts as blank, exactly as
// promqltest's getLines does, so a comment ends a load/eval block.

import { almostEqual } from '../functions/quantile.js';
import { SeriesSyntaxError, TestFileError } from '../../errors.js';

/** One value of a series description. 'stale' is Prometheus's staleness marker (a special NaN). */
export type SampleValue = { kind: 'float'; value: number } | { kind: 'stale' } | { kind: 'omitted' } | HistogramSampleValue;

/**
 * A native histogram written as `{{...}}`; `text` is the base descriptor as written (braces included).
 * For the `{{a}}+{{b}}xN` / `{{a}}-{{b}}xN` forms the i-th value (0-based) is `a + i*b` (or `a - i*b`); that is
 * given as `delta` with `times = i` (absent for i = 0). Evaluating the descriptors is left to the caller.
 */
export interface HistogramSampleValue {
  kind: 'histogram';
  text: string;
  delta?: { op: '+' | '-'; text: string; times: number };
}

export interface SeriesMetric {
  /** The metric name (from the identifier, a quoted name inside the braces, or a `__name__` label). */
  name?: string;
  /** All other labels; `__name__` is never included here. */
  labels: Record<string, string>;
}

export interface LoadSeries {
  /** The metric selector text as written, e.g. 'http_requests{path="/foo"}'. */
  labels: string;
  metric: SeriesMetric;
  values: SampleValue[];
  line: number;
}

export interface ExpectedSeries {
  metric: SeriesMetric;
  /** For a range eval one value per step (`omitted` = no point); for an instant eval exactly one. */
  values: SampleValue[];
  /** The metric selector text as written. */
  labelsText: string;
  line: number;
}

export interface ExpectedScalar {
  kind: 'scalar';
  value: number;
  line: number;
}

export interface ExpectedString {
  kind: 'string';
  value: string;
  line: number;
}

/** A raw `expect ...` line. kind is fail, warn, no_warn, info, no_info, ordered, range_vector or string. */
export interface Expectation {
  kind: string;
  /** msg:/regex: for annotation and fail expectations; absent when the line has no message part. */
  match?: 'msg' | 'regex';
  /** The message or pattern (trimmed); for range_vector the `from .. to .. step ..` text; for string the value. */
  text?: string;
  line: number;
}

export type EvalModifier = 'fail' | 'ordered' | 'warn' | 'info';

export interface EvalCommand {
  kind: 'eval';
  line: number;
  mode: 'instant' | 'range';
  expr: string;
  /** Instant evals: evaluation time, ms since the epoch (test time 0 is the epoch). */
  atMs?: number;
  /** Range evals (and, in newer Prometheus, instant evals with `expect range vector`). */
  startMs?: number;
  endMs?: number;
  stepMs?: number;
  /** The `eval_<modifier>` suffix as written, if any. */
  modifier?: EvalModifier;
  /** eval_ordered or `expect ordered`. */
  ordered: boolean;
  /** eval_fail or `expect fail ...`. */
  fail: boolean;
  /** eval_warn or any `expect warn ...` line. */
  warn: boolean;
  /** eval_info or any `expect info ...` line. */
  info: boolean;
  /** From `expect fail msg:`/`expect fail regex:` or eval_fail's `expected_fail_message`/`expected_fail_regexp`. */
  expectedError?: { kind: 'exact' | 'regex'; text: string };
  expectations: Expectation[];
  /**
   * The expected result: series (an empty array = empty result), a scalar, or a string.
   * undefined only when the eval is expected to fail and gives no result lines.
   */
  expected: ExpectedSeries[] | ExpectedScalar | ExpectedString | undefined;
}

export type TestCommand =
  { kind: 'load'; line: number; intervalMs: number; series: LoadSeries[]; withNhcb: boolean } | { kind: 'clear'; line: number } | EvalCommand;

// ---------------------------------------------------------------------------------------------------------------
// Durations and numbers

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/**
 * A Prometheus duration (github.com/prometheus/common model.ParseDuration: units y w d h m s ms, each at most
 * once, in that order; "0" alone is allowed) in milliseconds. As an extension a plain non-negative decimal
 * number ("90", "1.5") is taken as seconds; Prometheus itself accepts only "0" without a unit.
 */
export function parseTestDuration(text: string): number {
  if (text === '') throw new SeriesSyntaxError('empty duration string');
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const m = DURATION_RE.exec(text);
  if (m === null) throw new SeriesSyntaxError(`not a valid duration string: "${text}"`);
  let ms = 0;
  for (let i = 0; i < DURATION_UNITS_MS.length; i++) {
    const g = m[i + 1];
    if (g !== undefined) ms += Number(g) * DURATION_UNITS_MS[i];
  }
  if (!Number.isSafeInteger(ms)) throw new SeriesSyntaxError(`duration out of range: "${text}"`);
  return ms;
}

const GO_INT_RE =
  /^[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*|0[oO]_?[0-7]+(?:_[0-7]+)*|0_?[0-7]+(?:_[0-7]+)*|[1-9][0-9]*(?:_[0-9]+)*|0)$/;
const GO_FLOAT_RE = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

/**
 * promqltest's parseNumber: Go's strconv.ParseInt(s, 0, 64) (so "0x1f", "0b101", "010" = 8) and then
 * strconv.ParseFloat(s, 64) ("1.5e3", "Inf", "+inf", "NaN"). Returns undefined when s is not a number.
 * (Go's hexadecimal float literals such as "0x1p-2" are not supported.)
 */
export function parseGoNumber(s: string): number | undefined {
  if (GO_INT_RE.test(s)) {
    const neg = s.startsWith('-');
    let body = s.replace(/^[+-]/, '').replaceAll('_', '');
    let radix = 10;
    if (/^0[xX]/.test(body)) [radix, body] = [16, body.slice(2)];
    else if (/^0[bB]/.test(body)) [radix, body] = [2, body.slice(2)];
    else if (/^0[oO]/.test(body)) [radix, body] = [8, body.slice(2)];
    else if (body.length > 1 && body.startsWith('0')) [radix, body] = [8, body.slice(1)];
    const big = BigInt.asIntN(
      128,
      [...body].reduce((acc, c) => acc * BigInt(radix) + BigInt(parseInt(c, radix)), 0n),
    );
    const v = neg ? -big : big;
    // Out of int64 range: ParseInt fails and ParseFloat is tried (which rejects 0x/0b/0o and leading-zero octal
    // forms only if they are not also valid decimal floats).
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return Number(v);
  }
  if (GO_FLOAT_RE.test(s)) {
    const lower = s.toLowerCase().replace(/^\+/, '');
    if (lower === 'inf' || lower === 'infinity') return Infinity;
    if (lower === '-inf' || lower === '-infinity') return -Infinity;
    if (lower === 'nan' || lower === '-nan') return NaN;
    return Number(s);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Series values

const NUM_SRC = String.raw`(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])`;
const FLOAT_ITEM_RE = new RegExp(`^([+-]?${NUM_SRC})(?:x(\\d+)|([+-])(${NUM_SRC})x(\\d+))?$`);
const HIST_ITEM_RE = /^(\{\{[^}]*\}\})(?:x(\d+)|([+-])(\{\{[^}]*\}\})x(\d+))?$/;
const MAX_EXPANSION = 1_000_000;

function parseNum(s: string): number {
  const sign = s.startsWith('-') ? -1 : 1;
  const body = s.replace(/^[+-]/, '').toLowerCase();
  if (body === 'inf') return sign * Infinity;
  if (body === 'nan') return NaN;
  return sign * Number(body);
}

function repeatCount(s: string, item: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > MAX_EXPANSION) throw new SeriesSyntaxError(`repeat count too large in "${item}"`);
  return n;
}

/** Splits a value sequence at whitespace outside `{{ ... }}`. */
function splitItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' && text[i + 1] === '{') {
      depth++;
      cur += '{{';
      i++;
    } else if (c === '}' && text[i + 1] === '}' && depth > 0) {
      depth--;
      cur += '}}';
      i++;
    } else if (depth === 0 && (c === ' ' || c === '\t' || c === '\r' || c === '\n')) {
      if (cur !== '') items.push(cur);
      cur = '';
    } else cur += c;
  }
  if (depth !== 0) throw new SeriesSyntaxError(`unterminated histogram "{{" in "${text}"`);
  if (cur !== '') items.push(cur);
  return items;
}

/**
 * Expands a PromQL series-description value sequence (the part after the metric in `load` and expected-result
 * lines), following Prometheus's grammar:
 *   `a`        one value (a number, `Inf`, `-Inf`, `NaN`, or `stale`)
 *   `axN`      N+1 copies of a
 *   `a+bxN`    a, a+b, ..., a+N*b (accumulated by repeated addition, like Prometheus); `a-bxN` likewise
 *   `_`        one omitted value; `_xN` N omitted values (not N+1)
 *   `{{...}}`, `{{...}}xN`, `{{...}}+{{...}}xN`, `{{...}}-{{...}}xN`   native histograms (kept as text)
 */
export function expandSeriesValues(text: string): SampleValue[] {
  const out: SampleValue[] = [];
  for (const item of splitItems(text)) {
    if (item === '_') {
      out.push({ kind: 'omitted' });
      continue;
    }
    if (item.startsWith('_x')) {
      if (!/^_x\d+$/.test(item)) throw new SeriesSyntaxError(`invalid value "${item}"`);
      const n = repeatCount(item.slice(2), item);
      for (let i = 0; i < n; i++) out.push({ kind: 'omitted' });
      continue;
    }
    if (item === 'stale') {
      out.push({ kind: 'stale' });
      continue;
    }
    if (item.startsWith('{{')) {
      const m = HIST_ITEM_RE.exec(item);
      if (m === null) throw new SeriesSyntaxError(`invalid histogram value "${item}"`);
      const [, base, times, op, delta, deltaTimes] = m;
      if (times !== undefined) {
        const n = repeatCount(times, item);
        for (let i = 0; i <= n; i++) out.push({ kind: 'histogram', text: base });
      } else if (op !== undefined) {
        const n = repeatCount(deltaTimes, item);
        out.push({ kind: 'histogram', text: base });
        for (let i = 1; i <= n; i++) out.push({ kind: 'histogram', text: base, delta: { op: op as '+' | '-', text: delta, times: i } });
      } else out.push({ kind: 'histogram', text: base });
      continue;
    }
    const m = FLOAT_ITEM_RE.exec(item);
    if (m === null) throw new SeriesSyntaxError(`invalid value "${item}" (expected a number, "stale", "_" or a {{histogram}})`);
    const [, first, times, op, step, stepTimes] = m;
    // Prometheus lexes "Infx3" as one identifier, which is an error; only digits may be followed by x directly.
    if (times !== undefined && /[a-zA-Z]$/.test(first)) throw new SeriesSyntaxError(`invalid value "${item}"`);
    let v = parseNum(first);
    if (times !== undefined) {
      const n = repeatCount(times, item);
      for (let i = 0; i <= n; i++) out.push({ kind: 'float', value: v });
    } else if (op !== undefined) {
      if (/[a-zA-Z]$/.test(step)) throw new SeriesSyntaxError(`invalid value "${item}"`);
      const n = repeatCount(stepTimes, item);
      const d = op === '-' ? -parseNum(step) : parseNum(step);
      for (let i = 0; i <= n; i++) {
        out.push({ kind: 'float', value: v });
        v += d;
      }
    } else out.push({ kind: 'float', value: v });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Metric selectors of series descriptions: `name`, `name{l="v",...}`, `{l="v",...}`, `{"utf8.name", "l.x"="v"}`

const IDENT_START = /[a-zA-Z_:]/;
const IDENT_PART = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_PART = /[a-zA-Z0-9_]/;

/** Decodes a Go/PromQL string literal starting at text[pos] ('"', "'" or '`'); returns the value and end index. */
export function readQuoted(text: string, pos: number): { value: string; end: number } {
  const q = text[pos];
  if (q === '`') {
    const close = text.indexOf('`', pos + 1);
    if (close < 0) throw new SeriesSyntaxError('unterminated raw string');
    return { value: text.slice(pos + 1, close), end: close + 1 };
  }
  if (q !== '"' && q !== "'") throw new SeriesSyntaxError(`expected a quoted string at "${text.slice(pos)}"`);
  const bytes: number[] = [];
  const enc = new TextEncoder();
  const pushStr = (s: string) => bytes.push(...enc.encode(s));
  let i = pos + 1;
  for (;;) {
    if (i >= text.length) throw new SeriesSyntaxError('unterminated quoted string');
    const c = text[i];
    if (c === q) break;
    if (c === '\n') throw new SeriesSyntaxError('newline in quoted string');
    if (c !== '\\') {
      const cp = text.codePointAt(i)!;
      pushStr(String.fromCodePoint(cp));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1];
    i += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e !== undefined && e in simple) pushStr(simple[e]);
    else if (e === q) pushStr(q);
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i, i + 2))) {
      bytes.push(parseInt(text.slice(i, i + 2), 16));
      i += 2;
    } else if (e !== undefined && /[0-7]/.test(e) && /^[0-7]{2}$/.test(text.slice(i, i + 2))) {
      const v = parseInt(e + text.slice(i, i + 2), 8);
      if (v > 255) throw new SeriesSyntaxError('octal escape out of range');
      bytes.push(v);
      i += 2;
    } else if ((e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) || (e === 'U' && /^[0-9a-fA-F]{8}$/.test(text.slice(i, i + 8)))) {
      const len = e === 'u' ? 4 : 8;
      const cp = parseInt(text.slice(i, i + len), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw new SeriesSyntaxError('invalid Unicode escape');
      pushStr(String.fromCodePoint(cp));
      i += len;
    } else throw new SeriesSyntaxError(`unknown escape sequence "\\${e ?? ''}"`);
  }
  // Invalid UTF-8 (possible with \x escapes) becomes U+FFFD: JavaScript strings cannot hold raw bytes.
  return { value: new TextDecoder().decode(new Uint8Array(bytes)), end: i + 1 };
}

function skipSpace(text: string, pos: number): number {
  while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t')) pos++;
  return pos;
}

/**
 * Parses a series description line (`<metric> <values>`); the values are expanded with expandSeriesValues.
 * Only `=` matchers are allowed, as in Prometheus's ParseSeriesDesc.
 */
export function parseSeriesDescription(line: string): { labelsText: string; metric: SeriesMetric; values: SampleValue[] } {
  let pos = 0;
  let name: string | undefined;
  const labels: Record<string, string> = {};
  let nameFromLabel: string | undefined;
  if (pos < line.length && IDENT_START.test(line[pos])) {
    const start = pos;
    while (pos < line.length && IDENT_PART.test(line[pos])) pos++;
    name = line.slice(start, pos);
  }
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      pos = skipSpace(line, pos);
      if (line[pos] === '}') {
        pos++;
        break;
      }
      let key: string;
      let quotedKey = false;
      if (line[pos] === '"' || line[pos] === "'" || line[pos] === '`') {
        const q = readQuoted(line, pos);
        key = q.value;
        pos = q.end;
        quotedKey = true;
      } else if (pos < line.length && LABEL_START.test(line[pos])) {
        const start = pos;
        while (pos < line.length && LABEL_PART.test(line[pos])) pos++;
        key = line.slice(start, pos);
      } else throw new SeriesSyntaxError(`unexpected ${pos < line.length ? `"${line[pos]}"` : 'end of line'} in label set of "${line}"`);
      pos = skipSpace(line, pos);
      if (line[pos] === '=' && line[pos + 1] !== '~') {
        pos = skipSpace(line, pos + 1);
        const v = readQuoted(line, pos);
        pos = v.end;
        if (key === '__name__') {
          if (nameFromLabel !== undefined || name !== undefined) throw new SeriesSyntaxError(`metric name given twice in "${line}"`);
          nameFromLabel = v.value;
        } else {
          if (key in labels) throw new SeriesSyntaxError(`duplicate label "${key}" in "${line}"`);
          labels[key] = v.value;
        }
      } else if (quotedKey && (line[pos] === ',' || line[pos] === '}')) {
        // A quoted metric name inside the braces (Prometheus 3.x UTF-8 syntax).
        if (nameFromLabel !== undefined || name !== undefined) throw new SeriesSyntaxError(`metric name given twice in "${line}"`);
        nameFromLabel = key;
      } else throw new SeriesSyntaxError(`expected "=" after label "${key}" in "${line}" (series descriptions allow only "=")`);
      pos = skipSpace(line, pos);
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new SeriesSyntaxError(`expected "," or "}" in label set of "${line}"`);
    }
  } else if (name === undefined) {
    throw new SeriesSyntaxError(`expected a metric name or "{" at the start of "${line}"`);
  }
  const labelsText = line.slice(0, pos);
  if (pos < line.length && line[pos] !== ' ' && line[pos] !== '\t') {
    throw new SeriesSyntaxError(`unexpected "${line[pos]}" after metric "${labelsText}"`);
  }
  const metric: SeriesMetric = { labels };
  const metricName = name ?? nameFromLabel;
  if (metricName !== undefined) metric.name = metricName;
  return { labelsText, metric, values: expandSeriesValues(line.slice(pos)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Value comparison

/** promqltest's defaultEpsilon: relative error allowed for sample values. */
export const DEFAULT_EPSILON = 0.000001;

/**
 * How promqltest compares sample values: Prometheus's util/almost.Equal(a, b, 1e-6) (any NaN equals
 * any NaN, exact equality, else a relative difference below epsilon; see functions/quantile.ts).
 */
export function compareSeriesValue(expected: number, actual: number, epsilon = DEFAULT_EPSILON): boolean {
  return almostEqual(expected, actual, epsilon);
}

// ---------------------------------------------------------------------------------------------------------------
// Test files

const PAT_LOAD = /^load(?:_(with_nhcb))?\s+(.+?)$/;
const PAT_EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const PAT_EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const PAT_EXPECT = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const PAT_EXPECT_RANGE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;

/** promqltest's getLines: trimmed lines; comment lines become blank (and so end a block). */
function getLines(text: string): string[] {
  return text.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
}

/**
 * Parses a promqltest test file into commands. Throws a TestFileError (with file name and 1-based line) on
 * anything promqltest would reject at parse time, except that the PromQL expressions themselves are not checked.
 */
export function parseTestFile(text: string, fileName: string): TestCommand[] {
  const lines = getLines(text);
  const cmds: TestCommand[] = [];
  const fail = (i: number, msg: string): never => {
    throw new TestFileError(fileName, i + 1, msg);
  };
  const wrap = <T>(i: number, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof SeriesSyntaxError) return fail(i, e.message);
      throw e;
    }
  };

  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    const c = l.split(/[\t ]+/, 1)[0].toLowerCase();
    if (c === 'clear') {
      cmds.push({ kind: 'clear', line: i + 1 });
    } else if (c === 'load' || c === 'load_with_nhcb') {
      const m = PAT_LOAD.exec(l);
      if (m === null) fail(i, 'invalid load command. (load[_with_nhcb] <step:duration>)');
      const intervalMs = wrap(i, () => parseTestDuration(m![2]));
      const cmd: TestCommand = { kind: 'load', line: i + 1, intervalMs, series: [], withNhcb: m![1] === 'with_nhcb' };
      while (i + 1 < lines.length && lines[i + 1] !== '') {
        i++;
        const s = wrap(i, () => parseSeriesDescription(lines[i]));
        cmd.series.push({ labels: s.labelsText, metric: s.metric, values: s.values, line: i + 1 });
      }
      cmds.push(cmd);
    } else if (c.startsWith('eval')) {
      i = parseEval(lines, i, cmds, fail, wrap);
    } else {
      fail(i, `invalid command "${l}"`);
    }
  }
  return cmds;
}

function parseEval(lines: string[], i: number, cmds: TestCommand[], fail: (i: number, msg: string) => never, wrap: <T>(i: number, f: () => T) => T): number {
  const l = lines[i];
  const inst = PAT_EVAL_INSTANT.exec(l);
  const range = inst === null ? PAT_EVAL_RANGE.exec(l) : null;
  if (inst === null && range === null) {
    fail(
      i,
      "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered|_info] instant at <time> <query>' or 'eval[_fail|_warn|_info] range from <from> to <to> step <step> <query>'",
    );
  }
  const line = i + 1;
  let cmd: EvalCommand;
  if (inst !== null) {
    const at = inst[2] ?? '';
    const atMs = wrap(i, () => parseTestDuration(at));
    cmd = {
      kind: 'eval',
      line,
      mode: 'instant',
      expr: inst[3],
      atMs,
      ordered: false,
      fail: false,
      warn: false,
      info: false,
      expectations: [],
      expected: undefined,
    };
    if (inst[1] !== undefined) cmd.modifier = inst[1] as EvalModifier;
  } else {
    const [, mod, from, to, step, expr] = range!;
    const [startMs, endMs, stepMs] = wrap(i, () => rangeTimes(from, to, step));
    cmd = {
      kind: 'eval',
      line,
      mode: 'range',
      expr,
      startMs,
      endMs,
      stepMs,
      ordered: false,
      fail: false,
      warn: false,
      info: false,
      expectations: [],
      expected: undefined,
    };
    if (mod !== undefined) cmd.modifier = mod as EvalModifier;
  }
  if (cmd.modifier !== undefined) cmd[cmd.modifier] = true;
  const evalFail = cmd.fail;

  const series: ExpectedSeries[] = [];
  let expected: ExpectedScalar | ExpectedString | undefined;
  let rangeVector = false;
  const setError = (j: number, kind: 'exact' | 'regex', text: string) => {
    if (cmd.expectedError !== undefined) fail(j, 'more than one expected error for one eval');
    if (kind === 'regex') checkRegex(text, j, fail);
    cmd.expectedError = { kind, text };
  };

  while (i + 1 < lines.length) {
    i++;
    const def = lines[i];
    if (def === '') {
      i--;
      break;
    }
    // promqltest accepts the old fail forms only with eval_fail; each ends the block.
    if (evalFail && def.startsWith('expected_fail_message')) {
      setError(i, 'exact', def.slice('expected_fail_message'.length).trim());
      break;
    }
    if (evalFail && def.startsWith('expected_fail_regexp')) {
      setError(i, 'regex', def.slice('expected_fail_regexp'.length).trim());
      break;
    }
    if (def.startsWith('expect range vector')) {
      // Newer than 3.5: an instant eval whose result is a range vector.
      const m = PAT_EXPECT_RANGE.exec(def);
      if (m === null) fail(i, `invalid range vector definition "${def}"`);
      const [s, e, st] = wrap(i, () => rangeTimes(m[1], m[2], m[3]));
      cmd.startMs = s;
      cmd.endMs = e;
      cmd.stepMs = st;
      rangeVector = true;
      cmd.expectations.push({ kind: 'range_vector', text: def.slice('expect range vector'.length).trim(), line: i + 1 });
      continue;
    }
    if (def === 'expect string' || def.startsWith('expect string ')) {
      // Newer than 3.5: the expected string result.
      const lit = def.slice('expect string'.length).trim();
      if (lit === '') fail(i, 'expected string literal not valid - a quoted string literal is required');
      const value = wrap(i, () => quotedLine(lit));
      if (value === undefined) fail(i, 'expected string literal not valid - check that the string is correctly quoted');
      expected = { kind: 'string', value: value, line: i + 1 };
      cmd.expectations.push({ kind: 'string', text: value, line: i + 1 });
      continue;
    }
    if (def.split(' ', 1)[0] === 'expect') {
      const m = PAT_EXPECT.exec(def);
      if (m === null) fail(i, 'invalid expect statement, must match `expect <type> <match_type>: <string>` format');
      const [, kind, match, rest] = m;
      const exp: Expectation = { kind, line: i + 1 };
      if (match !== undefined) {
        exp.match = match as 'msg' | 'regex';
        exp.text = rest.trim();
        if (match === 'regex') checkRegex(exp.text, i, fail);
      }
      cmd.expectations.push(exp);
      if (kind === 'fail') {
        if (cmd.expectations.filter((e) => e.kind === 'fail').length > 1) fail(i, 'invalid expect lines, multiple expect fail lines are not allowed');
        cmd.fail = true;
        if (exp.text !== undefined) setError(i, match === 'regex' ? 'regex' : 'exact', exp.text);
      } else if (kind === 'ordered') cmd.ordered = true;
      else if (kind === 'warn') cmd.warn = true;
      else if (kind === 'info') cmd.info = true;
      const has = (k: string) => cmd.expectations.some((e) => e.kind === k);
      if (has('info') && has('no_info')) fail(i, 'invalid expect lines, info and no_info cannot be used together');
      if (has('warn') && has('no_warn')) fail(i, 'invalid expect lines, warn and no_warn cannot be used together');
      continue;
    }
    const num = parseGoNumber(def);
    if (num !== undefined) {
      if (series.length > 0) fail(i, 'a scalar result after series results');
      expected = { kind: 'scalar', value: num, line: i + 1 };
      break; // as in promqltest, a scalar ends the block
    }
    // Extension: a quoted line is an expected string result (Prometheus 3.5 has no syntax for one).
    if (def.startsWith('"') || def.startsWith("'") || def.startsWith('`')) {
      const value = wrap(i, () => quotedLine(def));
      if (value !== undefined) {
        if (series.length > 0) fail(i, 'a string result after series results');
        expected = { kind: 'string', value, line: i + 1 };
        continue;
      }
    }
    if (expected !== undefined) fail(i, `series result after a ${expected.kind} result`);
    const s = wrap(i, () => parseSeriesDescription(def));
    if (s.values.length > 1 && cmd.mode === 'instant' && !rangeVector) {
      fail(i, 'expecting multiple values in instant evaluation not allowed');
    }
    series.push({ metric: s.metric, values: s.values, labelsText: s.labelsText, line: i + 1 });
  }
  if (expected !== undefined) cmd.expected = expected;
  else if (series.length > 0 || !cmd.fail) cmd.expected = series;
  cmds.push(cmd);
  return i;
}

function rangeTimes(from: string, to: string, step: string): [number, number, number] {
  const start = parseTestDuration(from);
  const end = parseTestDuration(to);
  if (end < start) throw new SeriesSyntaxError(`invalid test definition, end timestamp (${to}) is before start timestamp (${from})`);
  return [start, end, parseTestDuration(step)];
}

/** The whole line as one string literal, or undefined when it is not exactly one. */
function quotedLine(text: string): string | undefined {
  const q = readQuoted(text, 0);
  return q.end === text.length ? q.value : undefined;
}

function checkRegex(pattern: string, i: number, fail: (i: number, msg: string) => never): void {
  try {
    new RegExp(pattern);
  } catch {
    fail(i, `invalid regexp "${pattern}"`);
  }
}
