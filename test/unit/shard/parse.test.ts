import { describe, expect, it } from 'vitest';
import { ExpositionError } from '../../../src/errors.js';
import type { ExpositionFormat, FamilyMeta, Sample } from '../../../src/shard/exposition.js';
import { formatFromContentType, parseExposition } from '../../../src/shard/textparse/parse.js';

interface Got {
  families: FamilyMeta[];
  /** Copies of the samples, with the family each one was reported under. */
  samples: (Omit<Sample, 'text' | 'labels' | 'lineStart' | 'seriesEnd' | 'lineEnd' | 'escaped'> & { labels: string[]; family: string })[];
}

function parse(text: string, format: ExpositionFormat = 'text'): Got {
  const got: Got = { families: [], samples: [] };
  let family = '';
  parseExposition(text, format, {
    family(meta) {
      got.families.push({ ...meta });
      family = meta.name;
    },
    sample(s) {
      // Text, offsets and the escape flag are checked on their own below; the contents are what these tests compare.
      const { text: _t, lineStart: _l, seriesEnd: _s, lineEnd: _e, escaped: _x, ...rest } = s;
      got.samples.push({ ...rest, labels: [...s.labels], family });
    },
  });
  return got;
}

const om = (text: string): Got => parse(text, 'openmetrics');

function parseError(text: string, format: ExpositionFormat = 'text'): ExpositionError {
  try {
    parse(text, format);
  } catch (err) {
    if (err instanceof ExpositionError) return err;
    throw err;
  }
  throw new Error('expected an ExpositionError');
}

function sampleOf(text: string, format: ExpositionFormat = 'text'): Got['samples'][number] {
  const { samples } = parse(text, format);
  expect(samples).toHaveLength(1);
  return samples[0];
}

describe('formatFromContentType', () => {
  it('recognizes OpenMetrics and falls back to text', () => {
    expect(formatFromContentType('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(formatFromContentType('Application/OpenMetrics-Text;version=0.0.1')).toBe('openmetrics');
    expect(formatFromContentType(' application/openmetrics-text ')).toBe('openmetrics');
    expect(formatFromContentType('text/plain; version=0.0.4; charset=utf-8')).toBe('text');
    expect(formatFromContentType('application/json')).toBe('text');
    expect(formatFromContentType('')).toBe('text');
    expect(formatFromContentType(undefined)).toBe('text');
  });
});

describe('text format 0.0.4', () => {
  it('reports families and samples', () => {
    const got = parse(
      [
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3 1395066363000',
        '',
        'metric_without_timestamp_and_labels 12.47',
        '',
      ].join('\n'),
    );
    expect(got.families).toEqual([
      { name: 'http_requests_total', type: 'counter', help: 'The total number of HTTP requests.', unit: undefined },
      { name: 'metric_without_timestamp_and_labels', type: 'unknown', help: undefined, unit: undefined },
    ]);
    expect(got.samples).toEqual([
      {
        family: 'http_requests_total',
        name: 'http_requests_total',
        labels: ['method', 'post', 'code', '200'],
        value: 1027,
        valueText: '1027',
        timestampMs: 1395066363000,
        timestampText: '1395066363000',
        exemplar: undefined,
      },
      {
        family: 'http_requests_total',
        name: 'http_requests_total',
        labels: ['method', 'post', 'code', '400'],
        value: 3,
        valueText: '3',
        timestampMs: 1395066363000,
        timestampText: '1395066363000',
        exemplar: undefined,
      },
      {
        family: 'metric_without_timestamp_and_labels',
        name: 'metric_without_timestamp_and_labels',
        labels: [],
        value: 12.47,
        valueText: '12.47',
        timestampMs: undefined,
        timestampText: undefined,
        exemplar: undefined,
      },
    ]);
  });

  it('reports where each line and its series part stand in the text the sample carries', () => {
    for (const [text, format] of [
      ['# TYPE a gauge\na{x="1", y="2"}\t5 123\nb 2', 'text'],
      ['# TYPE a gauge\na{x="1",y="2"} 5 123\nb 2\n# EOF\n', 'openmetrics'],
    ] as const) {
      const spans: string[][] = [];
      parseExposition(text, format, {
        family() {},
        sample(s) {
          expect(s.text).toBe(text);
          spans.push([s.text.slice(s.lineStart, s.seriesEnd), s.text.slice(s.lineStart, s.lineEnd)]);
        },
      });
      expect(spans[0][0]).toBe(format === 'text' ? 'a{x="1", y="2"}' : 'a{x="1",y="2"}');
      expect(spans[0][1]).toMatch(/^a\{x="1",.*5 123$/);
      expect(spans[1]).toEqual(['b', 'b 2']);
    }
  });

  it('reuses one Sample object and one labels array', () => {
    const seen = new Set<Sample>();
    const arrays = new Set<string[]>();
    const lengths: number[] = [];
    parseExposition('a{x="1",y="2"} 1\nb 2\nc{z="3"} 3\n', 'text', {
      family() {},
      sample(s) {
        seen.add(s);
        arrays.add(s.labels);
        lengths.push(s.labels.length);
      },
    });
    expect(seen.size).toBe(1);
    expect(arrays.size).toBe(1);
    expect(lengths).toEqual([4, 0, 2]);
  });

  it('unescapes label values and HELP text', () => {
    const got = parse('# HELP a One\\\\two\\nthree \\"four\\" \\t\na{v="q\\"uote",w="back\\\\slash",x="new\\nline",y="other\\z"} 1\n');
    // HELP: only \\ and \n are escapes in text 0.0.4; \" and \t stay as written.
    expect(got.families[0].help).toBe('One\\two\nthree \\"four\\" \\t');
    expect(got.samples[0].labels).toEqual(['v', 'q"uote', 'w', 'back\\slash', 'x', 'new\nline', 'y', 'other\\z']);
  });

  it('finds every escaped value wherever the backslashes are', () => {
    const got = parse('# HELP a x\\\\y\na{v="p\\"q"} 1\na{v="plain",w="w"} 2\n# a comment \\ here\na{v="r\\\\s",w=""} 3\na{v="",w="\\n"} 4\n');
    expect(got.samples.map((s) => s.labels)).toEqual([
      ['v', 'p"q'],
      ['v', 'plain', 'w', 'w'],
      ['v', 'r\\s', 'w', ''],
      ['v', '', 'w', '\n'],
    ]);
  });

  it('handles large label sets', () => {
    const names = Array.from({ length: 100 }, (_, k) => `l${(k * 37) % 100}`);
    const labels = names.map((n, k) => `${n}="${k}"`).join(',');
    expect(sampleOf(`a{${labels}} 1`).labels).toHaveLength(200);
    const got = om(`# TYPE a gauge\na{${labels}} 1\na{${labels}} 2\n# EOF\n`);
    expect(got.samples[1].labels.slice(0, 4)).toEqual(['l0', '0', 'l37', '1']);
    expect(() => om(`a{${labels}} 1\na{x="1"} 1\na{${labels}} 2\n# EOF\n`)).toThrow(/not contiguous/);
  });

  it('takes label values with braces, commas, hashes and equals signs as they are', () => {
    expect(sampleOf('a{x="}{,=# \\"",y=""} 1').labels).toEqual(['x', '}{,=# "', 'y', '']);
  });

  it('accepts tabs and spaces between tokens, a trailing comma and empty braces', () => {
    expect(sampleOf('a\t{ x = "1" ,\ty="2", }\t7\t\t1000  ')).toMatchObject({ labels: ['x', '1', 'y', '2'], value: 7, timestampMs: 1000 });
    expect(sampleOf('a{x="1",} 1').labels).toEqual(['x', '1']);
    expect(sampleOf('a{} 1').labels).toEqual([]);
    expect(sampleOf('a { } 1').labels).toEqual([]);
    expect(sampleOf('a{x="1"}2').value).toBe(2);
    expect(sampleOf('   a 1').name).toBe('a');
  });

  it('ignores comments, blank lines and whitespace-only lines', () => {
    const got = parse('# just a comment\n#HELP a not metadata\n# HELPER a not either\n# HELP\n\n   \n\t\n  # indented comment\na 1\n');
    expect(got.families).toEqual([{ name: 'a', type: 'unknown', help: undefined, unit: undefined }]);
    expect(got.samples.map((s) => s.value)).toEqual([1]);
  });

  it('accepts a last line without a newline, and an empty body', () => {
    expect(parse('a 1\nb 2').samples.map((s) => s.name)).toEqual(['a', 'b']);
    expect(parse('# TYPE a gauge\na 1 5').samples[0]).toMatchObject({ value: 1, timestampMs: 5 });
    expect(parse('')).toEqual({ families: [], samples: [] });
    expect(parse('\n\n')).toEqual({ families: [], samples: [] });
  });

  it('reports untyped as unknown and groups histogram and summary samples into their family', () => {
    const got = parse(
      [
        '# TYPE u untyped',
        'u 1',
        '# HELP h A histogram.',
        '# TYPE h histogram',
        'h_bucket{le="0.5"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.75',
        'h_count 2',
        '# TYPE s summary',
        's{quantile="0.5"} 0.1',
        's_sum 3',
        's_count 4',
        'h_created 1700000000',
        '',
      ].join('\n'),
    );
    expect(got.families.map((f) => [f.name, f.type])).toEqual([
      ['u', 'unknown'],
      ['h', 'histogram'],
      ['s', 'summary'],
      ['h_created', 'unknown'],
    ]);
    expect(got.samples.map((s) => `${s.family}:${s.name}`)).toEqual([
      'u:u',
      'h:h_bucket',
      'h:h_bucket',
      'h:h_sum',
      'h:h_count',
      's:s',
      's:s_sum',
      's:s_count',
      'h_created:h_created',
    ]);
  });

  it('starts an unknown family for a sample name its declared family does not have', () => {
    const got = parse('# TYPE c counter\nc 1\nc_total 2\n');
    expect(got.families.map((f) => [f.name, f.type])).toEqual([
      ['c', 'counter'],
      ['c_total', 'unknown'],
    ]);
  });

  it('reports a family that has only metadata', () => {
    const got = parse('# HELP a only help\n# TYPE b gauge\nb 1\n');
    expect(got.families.map((f) => f.name)).toEqual(['a', 'b']);
  });

  it('keeps HELP given after the family has samples out of the report, without failing', () => {
    const got = parse('# TYPE a gauge\na 1\n# HELP a late\na 2\n');
    expect(got.families).toEqual([{ name: 'a', type: 'gauge', help: undefined, unit: undefined }]);
    expect(got.samples).toHaveLength(2);
  });

  it('parses timestamps as int64 milliseconds', () => {
    expect(sampleOf('a 1 1700000000123')).toMatchObject({ timestampMs: 1700000000123, timestampText: '1700000000123' });
    expect(sampleOf('a 1 -5').timestampMs).toBe(-5);
    expect(sampleOf('a 1 0').timestampMs).toBe(0);
    expect(sampleOf('a 1 9223372036854775807').timestampMs).toBe(2 ** 63);
    expect(parseError('a 1 9223372036854775808').reason).toMatch(/invalid timestamp "9223372036854775808"/);
    expect(parseError('a 1 1.5').reason).toMatch(/invalid timestamp "1.5" for sample a: expected an integer number of milliseconds/);
    expect(parseError('a 1 1e3').reason).toMatch(/invalid timestamp/);
    expect(parseError('a 1 12 13').reason).toMatch(/unexpected text after the timestamp of sample a/);
  });

  it('parses values as Go ParseFloat does (without hex and underscores, as Prometheus)', () => {
    const cases: [string, number][] = [
      ['1', 1],
      ['-1.5', -1.5],
      ['+2', 2],
      ['1e3', 1000],
      ['1E-3', 0.001],
      ['.5', 0.5],
      ['5.', 5],
      ['-0', -0],
      ['007', 7],
      ['Inf', Infinity],
      ['+Inf', Infinity],
      ['-Inf', -Infinity],
      ['inf', Infinity],
      ['+infinity', Infinity],
      ['-INFINITY', -Infinity],
      ['NaN', NaN],
      ['nan', NaN],
      ['1.7976931348623157e308', 1.7976931348623157e308],
      ['4.9e-324', 5e-324],
      ['1e-400', 0],
      ['0.013300656000000001', 0.013300656000000001],
      ['123456789012345678901234567890', 1.2345678901234568e29],
    ];
    for (const [text, value] of cases) {
      const s = sampleOf(`a ${text}`);
      expect(s.value, text).toBe(value);
      expect(s.valueText).toBe(text);
    }
    for (const bad of [
      'abc',
      '0x10',
      '0x1p-3',
      '1_000',
      '1e',
      '1e+',
      '.',
      '+',
      '-',
      'e5',
      '1.2.3',
      'Infinit',
      '+NaN',
      '-nan',
      '1,5',
      '1e400',
      '-1e400',
      '"1"',
    ]) {
      expect(parseError(`a ${bad}`).reason, bad).toMatch(/^(invalid value|value .* is out of the float64 range)/);
    }
  });

  it('converts decimal text exactly like Number() does', () => {
    // Fast path (<= 15 digits, small exponents) against the reference, over varied shapes.
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const lines: string[] = [];
    const texts: string[] = [];
    for (let k = 0; k < 5000; k++) {
      let t = rnd(3) === 0 ? '-' : '';
      const intDigits = rnd(12);
      for (let d = 0; d < intDigits; d++) t += String(rnd(10));
      if (intDigits === 0 || rnd(2) === 0) {
        t += '.';
        const fracDigits = rnd(12) + (intDigits === 0 ? 1 : 0);
        for (let d = 0; d < fracDigits; d++) t += String(rnd(10));
      }
      if (rnd(3) === 0) t += `e${rnd(2) ? '-' : '+'}${rnd(30)}`;
      texts.push(t);
      lines.push(`a{k="${k}"} ${t}`);
    }
    const got = parse(lines.join('\n'));
    got.samples.forEach((s, k) => expect(Object.is(s.value, Number(texts[k])), texts[k]).toBe(true));
  });

  it('rejects duplicate and misplaced metadata, naming the line', () => {
    expect(parseError('# TYPE a gauge\n# HELP a x\n# TYPE a counter\n')).toMatchObject({ line: 3, reason: 'second # TYPE for a' });
    expect(parseError('# HELP a x\n# HELP a y\n')).toMatchObject({ line: 2, reason: 'second # HELP for a' });
    expect(parseError('a 1\n# TYPE a gauge\n')).toMatchObject({ line: 2 });
    expect(parseError('a 1\n# TYPE a gauge\n').reason).toMatch(/# TYPE for a comes after its samples/);
  });

  it('rejects invalid TYPE lines', () => {
    expect(parseError('# TYPE a gaugehistogram\n').reason).toMatch(/invalid metric type "gaugehistogram" for a/);
    expect(parseError('# TYPE a\n').reason).toBe('# TYPE line for a has no type');
    expect(parseError('# TYPE a gauge extra\n').reason).toMatch(/unexpected text after the type/);
    expect(parseError('# TYPE 1a gauge\n').reason).toMatch(/invalid metric name "1a" in # TYPE line/);
    expect(parse('# TYPE a gauge \t\na 1').families[0].type).toBe('gauge');
  });

  it('rejects a family whose samples are not contiguous', () => {
    const err = parseError('a 1\nb 1\na 2\n');
    expect(err.line).toBe(3);
    expect(err.reason).toMatch(/family a already appeared at line 1/);
    expect(parseError('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nx 1\nh_count 1\n')).toMatchObject({ line: 4 });
    expect(parseError('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a again\n')).toMatchObject({ line: 5 });
  });

  it('rejects bad names, labels and values with the line and a useful reason', () => {
    const cases: [string, number, RegExp][] = [
      ['a 1\n0a 1\n', 2, /invalid metric name "0a"/],
      ['a-b 1\n', 1, /invalid character "-" in metric name "a-b"/],
      ['a{0x="1"} 1\n', 1, /invalid label name "0x" in a/],
      ['a{x-y="1"} 1\n', 1, /expected '=' after label name "x" in a, found "-"/],
      ['ok 1\n\na{a} 1\n', 3, /expected '=' after label name "a" in a/],
      ['a{a=1} 1\n', 1, /expected '"' to open the value of label "a" in a/],
      ['a{a="1} 1\n', 1, /unterminated value of label "a" in a/],
      ['a{a="1"\n', 1, /unterminated label set in a/],
      ['a{a="1" b="2"} 1\n', 1, /expected ',' or '}' after the value of label "a" in a, found "b"/],
      ['a{,} 1\n', 1, /invalid label name ","/],
      ['a{x="1",x="2"} 1\n', 1, /duplicate label name "x" in a/],
      ['a{y="1",x="2",y="3"} 1\n', 1, /duplicate label name "y" in a/],
      ['a\n', 1, /missing value for sample a/],
      ['a{x="1"}\n', 1, /missing value for sample a/],
      ['a abc\n', 1, /invalid value "abc" for sample a/],
      ['a 1 zz\n', 1, /invalid timestamp "zz" for sample a/],
      ['a 1\r\n', 1, /invalid value "1\\r" for sample a/],
    ];
    for (const [text, line, reason] of cases) {
      const err = parseError(text);
      expect(err.line, text).toBe(line);
      expect(err.reason, text).toMatch(reason);
      expect(err.message).toBe(`line ${line}: ${err.reason}`);
    }
  });

  it('shows UTF-8 text readably in error messages when the body was decoded as latin1', () => {
    const body = Buffer.from('a{x="é"} nope\n', 'utf8').toString('latin1');
    expect(parseError(body).reason).toBe('invalid value "nope" for sample a');
    expect(parseError(Buffer.from('é 1\n', 'utf8').toString('latin1')).reason).toBe('invalid metric name "é"');
  });
});

describe('OpenMetrics 1.0', () => {
  it('reports families with HELP, TYPE and UNIT, and samples', () => {
    const got = om(
      [
        '# TYPE req_seconds histogram',
        '# UNIT req_seconds seconds',
        '# HELP req_seconds Request \\"latency\\".\\nSecond line \\\\ \\q',
        'req_seconds_bucket{path="/a",le="0.5"} 1 # {trace_id="abc"} 0.3 1700000000.5',
        'req_seconds_bucket{path="/a",le="+Inf"} 2',
        'req_seconds_count{path="/a"} 2',
        'req_seconds_sum{path="/a"} 1.25',
        'req_seconds_created{path="/a"} 1.6e9',
        '# TYPE up gauge',
        'up 1',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(got.families).toEqual([
      { name: 'req_seconds', type: 'histogram', help: 'Request "latency".\nSecond line \\ \\q', unit: 'seconds' },
      { name: 'up', type: 'gauge', help: undefined, unit: undefined },
    ]);
    expect(got.samples[0]).toEqual({
      family: 'req_seconds',
      name: 'req_seconds_bucket',
      labels: ['path', '/a', 'le', '0.5'],
      value: 1,
      valueText: '1',
      timestampMs: undefined,
      timestampText: undefined,
      exemplar: '{trace_id="abc"} 0.3 1700000000.5',
    });
    expect(got.samples.map((s) => s.name)).toEqual([
      'req_seconds_bucket',
      'req_seconds_bucket',
      'req_seconds_count',
      'req_seconds_sum',
      'req_seconds_created',
      'up',
    ]);
    expect(got.samples[4].value).toBe(1.6e9);
  });

  it('converts timestamps from seconds to milliseconds as Prometheus does', () => {
    const ts = (t: string) => om(`a 1 ${t}\n# EOF\n`).samples[0];
    expect(ts('1.5')).toMatchObject({ timestampMs: 1500, timestampText: '1.5' });
    expect(ts('1700000000')).toMatchObject({ timestampMs: 1700000000000 });
    expect(ts('1700000000.123').timestampMs).toBe(Math.trunc(1700000000.123 * 1000));
    expect(ts('1.520879607789e9').timestampMs).toBe(Math.trunc(1.520879607789e9 * 1000));
    expect(ts('0.0005').timestampMs).toBe(0);
    expect(ts('-1.5').timestampMs).toBe(-1500);
    expect(ts('000').timestampMs).toBe(0);
    for (const t of ['1.5', '1520879607.789', '1e3', '12345678901234567890.1234567890']) {
      expect(Number.isInteger(ts(t).timestampMs), t).toBe(true);
    }
  });

  it('reads NaN and infinities, and rejects hex, underscores and stray spaces', () => {
    const values = om('a{x="1"} NaN\na{x="2"} +Inf\na{x="3"} -Inf\na{x="4"} Inf\na{x="5"} -1e3\na{x="6"} 1.0\n# EOF\n').samples;
    expect(values.map((s) => s.value)).toEqual([NaN, Infinity, -Infinity, Infinity, -1000, 1]);
    expect(values.map((s) => s.valueText)).toEqual(['NaN', '+Inf', '-Inf', 'Inf', '-1e3', '1.0']);
    for (const bad of ['a 0x1\n', 'a 1_0\n', 'a  1\n', 'a 1 \n', 'a 1\t\n', 'a\t1\n']) {
      expect(() => om(`${bad}# EOF\n`), bad).toThrow(ExpositionError);
    }
  });

  it('unescapes \\\\, \\" and \\n in label values and keeps other backslashes', () => {
    expect(om('a{x="b\\\\a\\z",y="q\\"\\n"} 1\n# EOF\n').samples[0].labels).toEqual(['x', 'b\\a\\z', 'y', 'q"\n']);
  });

  it('reports a family that has only metadata, and accepts an empty HELP and UNIT', () => {
    const got = om('# HELP a \n# UNIT a \n# TYPE b_bytes gauge\n# UNIT b_bytes bytes\n# EOF');
    expect(got.families).toEqual([
      { name: 'a', type: 'unknown', help: '', unit: undefined },
      { name: 'b_bytes', type: 'gauge', help: undefined, unit: 'bytes' },
    ]);
  });

  it('requires # EOF at the end and nothing after it', () => {
    expect(parseError('a 1\n', 'openmetrics')).toMatchObject({ line: 2, reason: expect.stringMatching(/^missing # EOF/) });
    expect(parseError('a 1', 'openmetrics')).toMatchObject({ line: 1, reason: expect.stringMatching(/^missing # EOF/) });
    expect(parseError('', 'openmetrics')).toMatchObject({ line: 1 });
    expect(parseError('a 1\n# EOF\n\n', 'openmetrics')).toMatchObject({ line: 3, reason: expect.stringMatching(/after # EOF/) });
    expect(parseError('a 1\n\n# EOF\n', 'openmetrics')).toMatchObject({ line: 2, reason: 'blank lines are not allowed in OpenMetrics' });
    expect(parseError('a 1\n# a comment\n# EOF\n', 'openmetrics').line).toBe(2);
  });

  it('validates samples against the family type', () => {
    const cases: [string, number, RegExp][] = [
      ['# TYPE a counter\na 1\n', 2, /sample name a is not valid for counter family a; expected a_total or a_created/],
      ['# TYPE a counter\na_total -1\n', 2, /a_total must not be negative/],
      ['# TYPE a counter\na_created 1\n', 2, /counter a has no a_total sample/],
      ['# TYPE a gauge\na 1 # {x="y"} 1\n', 2, /exemplars are allowed only on counter _total and histogram _bucket samples/],
      ['# TYPE a histogram\na_bucket{le="1"} 1\n', 2, /histogram a has no le="\+Inf" bucket/],
      ['# TYPE a histogram\na_bucket{x="1",le="+Inf"} 1\na_bucket{x="2",le="1"} 0\n', 3, /histogram a\{x="2"\} has no le="\+Inf" bucket/],
      ['# TYPE a histogram\na_bucket{le="+Inf"} 2\na_count 1\na_sum 1\n', 4, /_count is 1 but the \+Inf bucket is 2/],
      ['# TYPE a histogram\na_bucket{le="inf"} 1\n', 2, /invalid "le" label value "inf"/],
      ['# TYPE a summary\na{quantile="2"} 1\n', 2, /invalid "quantile" label value "2"/],
      ['# TYPE a info\na_info{v="1"} 0\n', 2, /info samples must have value 1/],
      ['# TYPE a stateset\na{a="x"} 0.5\n', 2, /states must be 0 or 1/],
      ['# TYPE a gauge\na{x="1"} 1\na{x="2"} 1\na{x="1"} 1\n', 4, /samples of a\{x="1"\} are not contiguous/],
      ['# TYPE a gauge\na{x="1",y="2"} 1\na{x="2",y="1"} 1\na{y="2",x="1"} 1\n', 4, /samples of a\{x="1",y="2"\} are not contiguous/],
      ['# TYPE a gauge\na 1 2\na 1 1\n', 3, /timestamps of a go backwards/],
      ['# TYPE a counter\n# TYPE b counter\n# TYPE a gauge\n', 3, /family a already appeared at line 1/],
      ['# TYPE a_total gauge\n# TYPE a counter\n', 2, /counter a would use the sample name a_total, which already belongs to family a_total/],
      ['# UNIT a_s s\n# TYPE a_s info\n', 2, /info a_s must not have a unit/],
      ['# UNIT a_seconds ds\n', 1, /unit "ds" is not a suffix of the metric name a_seconds/],
    ];
    for (const [text, line, reason] of cases) {
      const err = parseError(`${text}# EOF\n`, 'openmetrics');
      expect(err.reason, text).toMatch(reason);
      expect(err.line, text).toBe(line);
    }
  });

  it('treats the same label set in another order or escaping as the same series', () => {
    const got = om(
      '# TYPE a histogram\na_bucket{x="1",y="\\z",le="1"} 0\na_bucket{y="\\\\z",le="+Inf",x="1"} 1\na_count{y="\\z",x="1"} 1\na_sum{x="1",y="\\z"} 1\n# EOF\n',
    );
    expect(got.samples).toHaveLength(4);
  });

  it('limits exemplar labels to 128 characters, counting code points in UTF-8 bodies decoded as latin1', () => {
    const exemplar = (value: string) => `# TYPE a counter\na_total 1 # {v="${value}"} 1\n# EOF\n`;
    const wide = `☃${'x'.repeat(126)}`; // 1 + 127 = 128 code points, 130 bytes
    expect(om(Buffer.from(exemplar(wide), 'utf8').toString('latin1')).samples[0].exemplar).toMatch(/^\{v=/);
    expect(om(exemplar(wide)).samples).toHaveLength(1);
    expect(() => om(exemplar(`${wide}x`))).toThrow(/at most 128/);
    expect(() => om(Buffer.from(exemplar(`${wide}x`), 'utf8').toString('latin1'))).toThrow(/at most 128/);
  });
});

describe('escaped series', () => {
  function flags(text: string, format: ExpositionFormat): (boolean | undefined)[] {
    const out: (boolean | undefined)[] = [];
    parseExposition(text, format, { family() {}, sample: (s) => out.push(s.escaped) });
    return out;
  }

  it('says per OpenMetrics sample whether a label value had an escape, and is not tracked in text', () => {
    expect(flags('a{x="p\\q"} 1\na{x="pq"} 2\nb 3\nc{y="\\""} 4\n# EOF\n', 'openmetrics')).toEqual([true, false, false, true]);
    expect(flags('a{x="p\\q"} 1\na{x="pq"} 2\n', 'text')).toEqual([undefined, undefined]);
  });
});
