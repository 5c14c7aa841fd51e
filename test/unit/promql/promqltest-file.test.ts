// Reads Prometheus's own PromQL test files (promql/promqltest/testdata at v2.42 and v3.5, Apache-2.0) with the
// test-file reader. The files live beside the repository in shared/promqltest and are not copied into it.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  compareSeriesValue,
  expandSeriesValues,
  parseGoNumber,
  parseSeriesDescription,
  parseTestDuration,
  parseTestFile,
  type EvalCommand,
  type SampleValue,
  type TestCommand,
} from '../../../src/promql/promqltest/testfile.js';
import { TestFileError } from '../../../src/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const testDir = path.resolve(repoRoot, '..', 'shared', 'promqltest');
const VERSIONS = ['v2.42', 'v3.5'];

const floats = (...v: number[]): SampleValue[] => v.map((value) => ({ kind: 'float', value }));
const evals = (cmds: TestCommand[]) => cmds.filter((c): c is EvalCommand => c.kind === 'eval');

describe('expandSeriesValues', () => {
  it('expands the arithmetic and repetition forms', () => {
    expect(expandSeriesValues('1+2x3')).toEqual(floats(1, 3, 5, 7));
    expect(expandSeriesValues('1-1x2')).toEqual(floats(1, 0, -1));
    expect(expandSeriesValues('1x3')).toEqual(floats(1, 1, 1, 1));
    expect(expandSeriesValues('0x2')).toEqual(floats(0, 0, 0)); // no hex in series descriptions
    expect(expandSeriesValues('-2+1x2')).toEqual(floats(-2, -1, 0));
    expect(expandSeriesValues('5x0')).toEqual(floats(5));
    expect(expandSeriesValues('1.5e1 .5 2. -0.25')).toEqual(floats(15, 0.5, 2, -0.25));
  });

  it('accumulates like Prometheus (repeated addition, not multiplication)', () => {
    const v = expandSeriesValues('0+0.1x3').map((s) => (s.kind === 'float' ? s.value : undefined));
    expect(v).toEqual([0, 0.1, 0.2, 0.1 + 0.1 + 0.1]);
  });

  it('handles blanks, stale markers and special floats', () => {
    expect(expandSeriesValues('_')).toEqual([{ kind: 'omitted' }]);
    expect(expandSeriesValues('_x3')).toEqual([{ kind: 'omitted' }, { kind: 'omitted' }, { kind: 'omitted' }]);
    expect(expandSeriesValues('1 _x2 stale 2')).toEqual([...floats(1), { kind: 'omitted' }, { kind: 'omitted' }, { kind: 'stale' }, ...floats(2)]);
    const [a, b, c, d, e] = expandSeriesValues('Inf -Inf +inf NaN nan');
    expect([a, b, c]).toEqual(floats(Infinity, -Infinity, Infinity));
    expect(d.kind === 'float' && Number.isNaN(d.value)).toBe(true);
    expect(e.kind === 'float' && Number.isNaN(e.value)).toBe(true);
    expect(expandSeriesValues('Inf+0x1')).toEqual(floats(Infinity, Infinity));
    expect(expandSeriesValues('  \t ')).toEqual([]);
  });

  it('keeps native histograms as text', () => {
    const h = '{{schema:0 sum:5 count:4 buckets:[1 2 1]}}';
    expect(expandSeriesValues(h)).toEqual([{ kind: 'histogram', text: h }]);
    expect(expandSeriesValues(`${h}x2 _`)).toEqual([
      { kind: 'histogram', text: h },
      { kind: 'histogram', text: h },
      { kind: 'histogram', text: h },
      { kind: 'omitted' },
    ]);
    expect(expandSeriesValues(`${h}+{{sum:1 count:1}}x2`)).toEqual([
      { kind: 'histogram', text: h },
      { kind: 'histogram', text: h, delta: { op: '+', text: '{{sum:1 count:1}}', times: 1 } },
      { kind: 'histogram', text: h, delta: { op: '+', text: '{{sum:1 count:1}}', times: 2 } },
    ]);
    expect(expandSeriesValues('{{}}-{{count:1}}x1')[1]).toEqual({ kind: 'histogram', text: '{{}}', delta: { op: '-', text: '{{count:1}}', times: 1 } });
  });

  it('rejects malformed items', () => {
    for (const bad of ['1+', 'x3', '1x', 'foo', 'Infx3', 'stalex2', '1+-1x2', '1+1', '{{sum:1', '{{a}}+{{b}}', '_x', '1,2']) {
      expect(() => expandSeriesValues(bad), bad).toThrow();
    }
  });
});

describe('series descriptions', () => {
  it('parses names, labels, quoting and __name__', () => {
    const a = parseSeriesDescription('http_requests{path="/foo", code=\'200\',} 1 2');
    expect(a.labelsText).toBe('http_requests{path="/foo", code=\'200\',}');
    expect(a.metric).toEqual({ name: 'http_requests', labels: { path: '/foo', code: '200' } });
    expect(a.values).toEqual(floats(1, 2));

    expect(parseSeriesDescription('{__name__="metric"} 0').metric).toEqual({ name: 'metric', labels: {} });
    expect(parseSeriesDescription('{} 3').metric).toEqual({ labels: {} });
    expect(parseSeriesDescription('up:rate5m 1').metric).toEqual({ name: 'up:rate5m', labels: {} });
    expect(parseSeriesDescription('{"my.metric", "host.name"="a\\"b\\u00e9", job=`raw\\n`} 1').metric).toEqual({
      name: 'my.metric',
      labels: { 'host.name': 'a"bé', job: 'raw\\n' },
    });
    expect(parseSeriesDescription('m{l="\\xc3\\xa9\\t"} 1').metric.labels.l).toBe('é\t');
    expect(parseSeriesDescription('bare_metric').values).toEqual([]);
  });

  it('rejects what ParseSeriesDesc rejects', () => {
    for (const bad of ['m{l!="a"} 1', 'm{l=~"a"} 1', 'm{l="a" 1', 'm{l=a} 1', 'm{l="a",l="b"} 1', '1 2', 'm{"x"} {"y"} 1', 'm{l="a"}1']) {
      expect(() => parseSeriesDescription(bad), bad).toThrow();
    }
  });
});

describe('durations, numbers and comparison', () => {
  it('parses Prometheus durations', () => {
    expect(parseTestDuration('0')).toBe(0);
    expect(parseTestDuration('50m')).toBe(3_000_000);
    expect(parseTestDuration('1h')).toBe(3_600_000);
    expect(parseTestDuration('1m30s')).toBe(90_000);
    expect(parseTestDuration('10s53ms')).toBe(10_053);
    expect(parseTestDuration('5ms')).toBe(5);
    expect(parseTestDuration('1d')).toBe(86_400_000);
    expect(parseTestDuration('90')).toBe(90_000); // extension: bare numbers are seconds
    for (const bad of ['', '1x', '30s1m', '-1m', '1.5m']) expect(() => parseTestDuration(bad), bad).toThrow();
  });

  it('parses scalar result lines like promqltest parseNumber', () => {
    expect(parseGoNumber('12340000')).toBe(12340000);
    expect(parseGoNumber('0.00001234')).toBe(0.00001234);
    expect(parseGoNumber('-0.0000002')).toBe(-0.0000002);
    expect(parseGoNumber('+Inf')).toBe(Infinity);
    expect(parseGoNumber('-Inf')).toBe(-Infinity);
    expect(Number.isNaN(parseGoNumber('NaN'))).toBe(true);
    expect(parseGoNumber('0x10')).toBe(16);
    expect(parseGoNumber('010')).toBe(8);
    expect(parseGoNumber('1e3')).toBe(1000);
    expect(parseGoNumber('{} 1')).toBeUndefined();
    expect(parseGoNumber('foo')).toBeUndefined();
  });

  it('compares like almost.Equal with epsilon 1e-6', () => {
    expect(compareSeriesValue(NaN, NaN)).toBe(true);
    expect(compareSeriesValue(NaN, 1)).toBe(false);
    expect(compareSeriesValue(Infinity, Infinity)).toBe(true);
    expect(compareSeriesValue(Infinity, -Infinity)).toBe(false);
    expect(compareSeriesValue(1, 1 + 1e-7)).toBe(true);
    expect(compareSeriesValue(1, 1 + 1e-5)).toBe(false);
    expect(compareSeriesValue(1.414213562373095, Math.SQRT2)).toBe(true);
    expect(compareSeriesValue(0, 1e-300)).toBe(false);
    expect(compareSeriesValue(0, -0)).toBe(true);
    expect(compareSeriesValue(0, 1e-323)).toBe(true); // subnormal difference below 1e-6 * MinNormal
  });
});

describe('parseTestFile', () => {
  const snippet = [
    '# a comment',
    'load 5m',
    '  http_requests{job="api", instance="0"} 0+10x4',
    '\t{__name__="other", job="x"} 1 _ stale',
    '',
    'load_with_nhcb 1m',
    '  h_bucket{le="1"} 1 2',
    '',
    'eval instant at 10m sum by (job) (http_requests)',
    '  {job="api"} 20',
    '',
    'eval_ordered instant at 0 sort(http_requests)',
    '  http_requests{job="api", instance="0"} 0',
    '  other{job="x"} 1',
    '',
    'eval instant at 1h nothing',
    '',
    'eval instant at 50m 1 - -1',
    '\t2',
    '',
    'eval range from 0 to 20m step 5m rate(http_requests[5m])',
    '  {job="api", instance="0"} _ 0.033333333333333333x2 _',
    '',
    'eval_fail instant at 0m label_join(x, "a", "", "b")',
    '  expected_fail_message vector cannot contain metrics with the same labelset',
    '',
    'eval_fail instant at 0 foo',
    '  expected_fail_regexp same label(set)?',
    '',
    'eval instant at 1m quantile(NaN, http_requests)',
    '  expect warn msg: PromQL warning: quantile value should be between 0 and 1, got NaN',
    '  expect no_info',
    '  {} NaN',
    '',
    'eval instant at 1m bad_call()',
    '  expect fail regex: unknown function .*',
    '',
    'eval_info range from 1m to 2m step 30s histogram_quantile(0.5, h)',
    '  expect ordered',
    '  # ends the block',
    '',
    'eval instant at 0 "a string"',
    '  "a string"',
    '',
    'clear',
  ].join('\n');

  const cmds = parseTestFile(snippet, 'snippet.test');
  const ev = evals(cmds);

  it('reads load and clear commands', () => {
    expect(cmds.map((c) => c.kind)).toEqual(['load', 'load', ...Array(11).fill('eval'), 'clear']);
    const [load, nhcb] = cmds;
    expect(load).toMatchObject({ kind: 'load', line: 2, intervalMs: 300_000, withNhcb: false });
    if (load.kind !== 'load') throw new Error('not load');
    expect(load.series.map((s) => s.labels)).toEqual(['http_requests{job="api", instance="0"}', '{__name__="other", job="x"}']);
    expect(load.series[0].values).toEqual(floats(0, 10, 20, 30, 40));
    expect(load.series[1].metric).toEqual({ name: 'other', labels: { job: 'x' } });
    expect(load.series[1].values).toEqual([...floats(1), { kind: 'omitted' }, { kind: 'stale' }]);
    expect(nhcb).toMatchObject({ kind: 'load', intervalMs: 60_000, withNhcb: true, line: 6 });
    expect(cmds[cmds.length - 1]).toEqual({ kind: 'clear', line: 45 });
  });

  it('reads instant evals with series, empty and scalar results', () => {
    expect(ev[0]).toMatchObject({ line: 9, mode: 'instant', expr: 'sum by (job) (http_requests)', atMs: 600_000, ordered: false, fail: false });
    expect(ev[0].expected).toEqual([{ metric: { labels: { job: 'api' } }, values: floats(20), labelsText: '{job="api"}', line: 10 }]);
    expect(ev[1]).toMatchObject({ ordered: true, modifier: 'ordered', atMs: 0 });
    expect((ev[1].expected as unknown[]).length).toBe(2);
    expect(ev[2]).toMatchObject({ expr: 'nothing', atMs: 3_600_000, expected: [] });
    expect(ev[3]).toMatchObject({ expr: '1 - -1', expected: { kind: 'scalar', value: 2 } });
  });

  it('reads range evals', () => {
    expect(ev[4]).toMatchObject({ mode: 'range', startMs: 0, endMs: 1_200_000, stepMs: 300_000, expr: 'rate(http_requests[5m])' });
    const [s] = ev[4].expected as { values: SampleValue[] }[];
    expect(s.values.map((v) => v.kind)).toEqual(['omitted', 'float', 'float', 'float', 'omitted']);
    expect(ev[4].atMs).toBeUndefined();
  });

  it('reads failure expectations of both generations', () => {
    expect(ev[5]).toMatchObject({
      fail: true,
      expectedError: { kind: 'exact', text: 'vector cannot contain metrics with the same labelset' },
      expected: undefined,
    });
    expect(ev[6]).toMatchObject({ fail: true, expectedError: { kind: 'regex', text: 'same label(set)?' } });
    expect(ev[8].modifier).toBeUndefined();
    expect(ev[8]).toMatchObject({ fail: true, expectedError: { kind: 'regex', text: 'unknown function .*' } });
    expect(ev[8].expectations).toEqual([{ kind: 'fail', match: 'regex', text: 'unknown function .*', line: 36 }]);
  });

  it('reads annotation expectations', () => {
    expect(ev[7]).toMatchObject({ warn: true, info: false, fail: false });
    expect(ev[7].expectations).toEqual([
      { kind: 'warn', match: 'msg', text: 'PromQL warning: quantile value should be between 0 and 1, got NaN', line: 31 },
      { kind: 'no_info', line: 32 },
    ]);
    const [nan] = ev[7].expected as { values: SampleValue[] }[];
    expect(nan.values).toHaveLength(1);
    expect(ev[9]).toMatchObject({ mode: 'range', info: true, ordered: true, startMs: 60_000, endMs: 120_000, stepMs: 30_000, expected: [] });
  });

  it('reads string results', () => {
    expect(ev[10]).toMatchObject({ expr: '"a string"', expected: { kind: 'string', value: 'a string' } });
  });

  it('reports errors with file and line', () => {
    const bad: [string, number, RegExp][] = [
      ['load 5m\n  m 1\neval instant at 0 m', 3, /invalid value/],
      ['frobnicate', 1, /invalid command/],
      ['eval instant at 0 m\n  {} 1 2', 2, /multiple values/],
      ['eval instant at 5x m', 1, /duration/],
      ['eval range from 10m to 5m step 1m m', 1, /before start/],
      ['eval_ordered range from 0 to 5m step 1m m', 1, /invalid evaluation command/],
      ['load\n', 1, /invalid load/],
      ['eval instant at 0 m\n  expect warn\n  expect no_warn', 3, /cannot be used together/],
      ['eval instant at 0 m\n  expect sometimes', 2, /invalid expect/],
      ['eval instant at 0 m\n  1\n  {} 2', 3, /invalid command/], // a scalar ends the block, as in promqltest
      ['eval instant at 0 m\n  expected_fail_message boom', 2, /invalid value/], // only eval_fail has it
    ];
    for (const [text, line, re] of bad) {
      let err: unknown;
      try {
        parseTestFile(text, 'bad.test');
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(TestFileError);
      expect((err as TestFileError).line, text).toBe(line);
      expect((err as Error).message, text).toMatch(re);
      expect((err as Error).message, text).toContain(`bad.test:${line}:`);
    }
  });
});

describe('Prometheus promqltest files', () => {
  it('has the shared test folders', () => {
    for (const v of VERSIONS) {
      const dir = path.join(testDir, v);
      expect(existsSync(dir), `missing ${dir}: the PromQL test files (shared/promqltest/${v}) must sit beside the repository`).toBe(true);
    }
  });

  const files = VERSIONS.flatMap((v) => {
    const dir = path.join(testDir, v);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.test'))
      .sort()
      .map((f) => ({ name: `${v}/${f}`, file: path.join(dir, f) }));
  });

  it('finds test files in every folder', () => {
    for (const v of VERSIONS) expect(files.filter((f) => f.name.startsWith(`${v}/`)).length, `no .test files in ${path.join(testDir, v)}`).toBeGreaterThan(0);
  });

  it.each(files)('parses $name', ({ name, file }) => {
    const cmds = parseTestFile(readFileSync(file, 'utf8'), name);
    const ev = evals(cmds);
    expect(ev.length).toBeGreaterThan(0);
    for (const c of cmds) {
      if (c.kind === 'load') {
        expect(c.intervalMs, `${name}:${c.line}`).toBeGreaterThan(0);
        expect(c.series.length, `${name}:${c.line}`).toBeGreaterThan(0);
        for (const s of c.series) expect(s.values.length, `${name}:${s.line}`).toBeGreaterThan(0);
      }
    }
    for (const e of ev) {
      const at = `${name}:${e.line}`;
      expect(e.expr.trim(), at).not.toBe('');
      if (e.mode === 'range') {
        expect(e.startMs! <= e.endMs!, at).toBe(true);
        expect(e.stepMs!, at).toBeGreaterThan(0);
      } else {
        expect(e.atMs, at).toBeGreaterThanOrEqual(0);
        if (Array.isArray(e.expected)) for (const s of e.expected) expect(s.values.length, at).toBe(1);
      }
      if (!e.fail) expect(e.expected, at).toBeDefined();
    }
    const count = (k: string) => cmds.filter((c) => c.kind === k).length;
    console.log(`${name}: ${ev.length} eval (${ev.filter((e) => e.mode === 'range').length} range), ${count('load')} load, ${count('clear')} clear`);
  });
});
