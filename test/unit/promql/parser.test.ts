// The PromQL parser: grammar, type checks, Prometheus's error texts and positions, printing back.

import { describe, expect, test } from 'vitest';
import { parseExpr, formatExpr } from '../../../src/promql/parser.js';
import { valueTypeOf, type Expr } from '../../../src/promql/ast.js';
import { PromQLParseError } from '../../../src/errors.js';

// [input, expected formatExpr output] — output equal to input when omitted.
const VALID: Array<[string, string?]> = [
  ['1'],
  ['1.5'],
  ['.5', '0.5'],
  ['5.', '5'],
  ['1e3', '1000'],
  ['1E-2', '0.01'],
  ['0x1f', '31'],
  ['0X1F', '31'],
  ['010', '8'],
  ['09', '9'],
  ['1_000', '1000'],
  ['Inf', '+Inf'],
  ['+inf', '+Inf'],
  ['-Inf', '-Inf'],
  ['NaN'],
  ['nan', 'NaN'],
  ['-1'],
  ['+1', '1'],
  ['- -1', '1'],
  ['1e100', '1' + '0'.repeat(100)],
  ['5m'],
  ['1h30m'],
  ['-5m'],
  ['time() - 1d'],
  ['"foo"'],
  ["'foo'", '"foo"'],
  ['`raw\\n`', '"raw\\\\n"'],
  ['"a\\nb\\tc"'],
  ['"\\x41\\101\\u00e9\\U0001F600"', '"AAé😀"'],
  ["'it\\'s'", '"it\'s"'],
  ['"say \\"hi\\""'],
  ['"\\a\\b\\f\\v\\r\\\\"'],
  ['"\\xc3\\xa9"', '"é"'],
  ['foo'],
  ['foo:bar'],
  [':foo'],
  ['foo{}', 'foo'],
  ['foo{a="b"}'],
  ['foo{a="b",}', 'foo{a="b"}'],
  ['foo{b="1", a="2"}', 'foo{a="2",b="1"}'],
  ['foo{a!="b", c=~"d.*", e!~"f"}', 'foo{a!="b",c=~"d.*",e!~"f"}'],
  ["foo{a='b'}", 'foo{a="b"}'],
  ['foo{a=`b\\`}', 'foo{a="b\\\\"}'],
  ['{__name__="foo"}'],
  ['{__name__=~"foo.*"}'],
  ['{a="b"}'],
  ['{a=~".+"}'],
  ['{"my.metric"}', '{__name__="my.metric"}'],
  ['{"my.metric", "label.name"="x"}', '{"label.name"="x",__name__="my.metric"}'],
  ['foo{"label.name"="x"}', 'foo{"label.name"="x"}'],
  ['foo{on="x", by="y", bool="z", sum="w"}', 'foo{bool="z",by="y",on="x",sum="w"}'],
  ['sum'],
  ['sum{a="b"}'],
  ['offset'],
  ['by'],
  ['without'],
  ['start'],
  ['end'],
  ['and'],
  ['sum(sum)'],
  ['avg + sum', 'avg + sum'],
  ['foo offset 5m'],
  ['foo offset -5m'],
  ['foo OFFSET 1h30m', 'foo offset 1h30m'],
  ['foo offset 60', 'foo offset 1m'],
  ['foo @ 1609746000', 'foo @ 1609746000.000'],
  ['foo @ -100.5', 'foo @ -100.500'],
  ['foo @ 1m', 'foo @ 60.000'],
  ['foo @ start()'],
  ['foo @ end()'],
  ['foo offset 5m @ end()', 'foo @ end() offset 5m'],
  ['foo @ 10 offset -1m', 'foo @ 10.000 offset -1m'],
  ['foo[5m]'],
  ['foo[300]', 'foo[5m]'],
  ['foo[1.5]', 'foo[1s500ms]'],
  ['foo[1h30m]'],
  ['foo[500ms]'],
  ['foo[1d]'],
  ['foo[1w]'],
  ['foo[1y]'],
  ['foo[7d]', 'foo[1w]'],
  ['foo[5m] offset 1m'],
  ['foo[5m] @ 100 offset 1m', 'foo[5m] @ 100.000 offset 1m'],
  ['foo[5m] offset 1m @ start()', 'foo[5m] @ start() offset 1m'],
  ['foo[5m:1m]'],
  ['foo[5m:]'],
  ['foo[5m:1m] offset 2m @ 3', 'foo[5m:1m] @ 3.000 offset 2m'],
  ['rate(foo[5m])[30m:1m]'],
  ['foo offset 5m [10m:1m]', 'foo offset 5m[10m:]'.replace('[10m:]', '[10m:1m]')],
  ['(foo + bar)[5m:]'],
  ['sum(rate(foo[5m]))[1h:] offset 1h'],
  ['1 + 2 * 3'],
  ['(1 + 2) * 3'],
  ['1 - 2 - 3'],
  ['2 ^ 3 ^ 2'],
  ['-2 ^ 2'],
  ['-foo * 2'],
  ['a * b + c / d % e'],
  ['a + b * c ^ d'],
  ['a or b and c unless d'],
  ['a == b and c'],
  ['a < b + c'],
  ['foo atan2 bar'],
  ['a + -b'],
  ['a ^ -b * c'],
  ['a + b offset 1h'],
  ['-foo offset 5m'],
  ['foo > bool 1'],
  ['1 > bool 2'],
  ['foo == bool bar'],
  ['foo != bool on (a) bar'],
  ['foo * on(a) group_left(b) bar', 'foo * on (a) group_left (b) bar'],
  ['foo / ignoring(a) group_right bar', 'foo / ignoring (a) group_right () bar'],
  ['foo + on() bar', 'foo + on () bar'],
  ['foo + ignoring() bar', 'foo + bar'],
  ['foo and on(a) bar', 'foo and on (a) bar'],
  ['foo - on(bool, by, sum) bar', 'foo - on (bool, by, sum) bar'],
  ['foo - on("a.b") bar', 'foo - on ("a.b") bar'],
  ['foo * on(a,) group_left(b,) bar', 'foo * on (a) group_left (b) bar'],
  ['foo + on() 1', 'foo + 1'],
  ['sum(foo)'],
  ['sum by (a, b) (foo)'],
  ['sum(foo) by (a, b)', 'sum by (a, b) (foo)'],
  ['sum without (a) (foo)'],
  ['sum(foo) without (a)', 'sum without (a) (foo)'],
  ['sum without () (foo)'],
  ['sum by () (foo)', 'sum(foo)'],
  ['SUM(foo)', 'sum(foo)'],
  ['avg(foo)'],
  ['min(foo)'],
  ['max(foo)'],
  ['group(foo)'],
  ['stddev(foo)'],
  ['stdvar(foo)'],
  ['count(foo)'],
  ['topk(5, foo)'],
  ['bottomk(5, foo)'],
  ['quantile(0.9, foo)'],
  ['count_values("x", foo)'],
  ['limitk(2, foo)'],
  ['limit_ratio(0.5, foo)'],
  ['topk by (a) (scalar(bar), foo)'],
  ['sum by ("a.b") (foo)'],
  ['sum by (a,) (foo)', 'sum by (a) (foo)'],
  ['rate(foo[5m])'],
  ['histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))'],
  ['label_join(foo, "a", ",", "b", "c")'],
  ['label_replace(foo, "a", "$1", "b", "(.*)")'],
  ['round(foo)'],
  ['round(foo, 0.5)'],
  ['hour()'],
  ['hour(foo)'],
  ['time()'],
  ['pi()'],
  ['vector(1)'],
  ['clamp(foo, 0, 1)'],
  ['quantile_over_time(0.5, foo[5m])'],
  ['predict_linear(foo[5m], 3600)'],
  ['absent(nonexistent{job="x"})'],
  ['double_exponential_smoothing(foo[5m], 0.5, 0.5)'],
  ['sort_by_label(foo, "a", "b")'],
  ['holt_winters(foo[5m], 0.5, 0.5)'],
  ['mad_over_time(foo[5m])'],
  ['histogram_fraction(0, 0.2, foo)'],
  ['timestamp(foo)'],
  ['day_of_week()'],
  ['foo # a comment', 'foo'],
  ['foo\n+\nbar', 'foo + bar'],
];

// [input, expected message or regex on it]
const INVALID: Array<[string, string | RegExp]> = [
  ['', 'no expression found in input'],
  ['1+', '1:3: parse error: unexpected end of input'],
  ['(', 'unclosed left parenthesis'],
  [')', "1:1: parse error: unexpected right parenthesis ')'"],
  ['1 and 1', 'set operator "and" not allowed in binary scalar expression'],
  ['1 == 1', '1:3: parse error: comparisons between scalars must use BOOL modifier'],
  ['1 or 1', 'set operator "or" not allowed in binary scalar expression'],
  ['1 unless 1', 'set operator "unless" not allowed in binary scalar expression'],
  ['1 !~ 1', "1:3: parse error: unexpected character after '!': '~'"],
  ['1 =~ 1', "1:3: parse error: unexpected character after '=': '~'"],
  ['-"string"', 'unary expression only allowed on expressions of type scalar or instant vector, got "string"'],
  ['-test[5m]', 'unary expression only allowed on expressions of type scalar or instant vector, got "range vector"'],
  ['*test', '1:1: parse error: unexpected <op:*>'],
  ['1 offset 1d', '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery'],
  ['foo offset 1s offset 2s', 'offset may not be set multiple times'],
  ['a - on(b) ignoring(c) d', '1:11: parse error: unexpected <ignoring>'],
  ['foo and 1', 'set operator "and" not allowed in binary scalar expression'],
  ['1 and foo', 'set operator "and" not allowed in binary scalar expression'],
  ['foo and on(bar) group_left(baz) bar', 'no grouping allowed for "and" operation'],
  ['foo and on(bar) group_right(baz) bar', 'no grouping allowed for "and" operation'],
  ['foo or on(bar) group_left(baz) bar', 'no grouping allowed for "or" operation'],
  ['foo unless on(bar) group_left(baz) bar', 'no grouping allowed for "unless" operation'],
  ['http_requests + on(instance) group_left(job,instance) cpu_count', 'label "instance" must not occur in ON and GROUP clause at once'],
  ['foo + bool bar', 'bool modifier can only be used on comparison operators'],
  ['foo + bool 10', 'bool modifier can only be used on comparison operators'],
  ['foo and bool 10', 'bool modifier can only be used on comparison operators'],
  ['foo + on(a) 1', 'vector matching only allowed between instant vectors'],
  ['{', 'unexpected end of input inside braces'],
  ['}', "1:1: parse error: unexpected character: '}'"],
  ['some{', 'unexpected end of input inside braces'],
  ['some}', "unexpected character: '}'"],
  ['some_metric{a=b}', 'unexpected identifier "b" in label matching, expected string'],
  ['some_metric{a:b="b"}', "unexpected character inside braces: ':'"],
  ['foo{a*"b"}', "unexpected character inside braces: '*'"],
  ['foo{a>="b"}', "unexpected character inside braces: '>'"],
  ['foo{gibberish}', '1:14: parse error: unexpected "}" in label matching, expected label matching operator'],
  ['foo{1}', "unexpected character inside braces: '1'"],
  ['{}', 'vector selector must contain at least one non-empty matcher'],
  ['{x=""}', 'vector selector must contain at least one non-empty matcher'],
  ['{x=~".*"}', 'vector selector must contain at least one non-empty matcher'],
  ['{x!~".+"}', 'vector selector must contain at least one non-empty matcher'],
  ['{x!="a"}', 'vector selector must contain at least one non-empty matcher'],
  ['foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"'],
  ['foo{"bar"}', 'metric name must not be set twice: "foo" or "bar"'],
  ['foo{__name__= =}', '1:15: parse error: unexpected "=" in label matching, expected string'],
  ['foo{,}', 'unexpected "," in label matching, expected identifier or "}"'],
  ['foo{__name__ == "bar"}', '1:15: parse error: unexpected "=" in label matching, expected string'],
  ['foo{__name__="bar" lol}', 'unexpected identifier "lol" in label matching, expected "," or "}"'],
  ['foo{a=~"("}', /error parsing regexp: missing closing \): `\(`/],
  ['foo[5mm]', 'bad number or duration syntax: "5mm"'],
  ['foo[5m1]', 'bad number or duration syntax: "5m1]"'],
  ['foo[0m]', 'duration must be greater than 0'],
  ['foo[1.5m]', 'not a valid duration string: "1.5m"'],
  ['foo["5m"]', 'unexpected string "\\"5m\\"" in subquery selector, expected number or duration'],
  ['foo[]', 'unexpected "]" in subquery selector, expected number or duration'],
  ['foo[5m', 'unclosed left bracket'],
  ['foo]', "unexpected right bracket ']'"],
  ['foo[5m] OFFSET', 'unexpected end of input in offset, expected number or duration'],
  ['foo[5m] OFFSET 1mm', 'bad number or duration syntax: "1mm"'],
  ['foo OFFSET 1m[5m]', '1:14: parse error: no offset modifiers allowed before range'],
  ['foo @ 123 [5m]', '1:11: parse error: no @ modifiers allowed before range'],
  ['(foo + bar)[5m]', '1:12: parse error: ranges only allowed for vector selectors'],
  ['rate(foo[1m])[1h]', 'ranges only allowed for vector selectors'],
  ['foo[5m][5m:1m]', '1:1: parse error: subquery is only allowed on instant vector, got matrix'],
  ['foo[5m:1m][10m:5s]', 'subquery is only allowed on instant vector, got matrix'],
  ['"x"[5m:]', 'subquery is only allowed on instant vector, got string'],
  ['foo[5m:1m 2m]', 'unexpected duration "2m" in subquery selector, expected "]"'],
  ['foo[5m 1m]', 'unexpected duration "1m" in subquery or range, expected ":" or "]"'],
  ['foo[5m::]', "unexpected colon ':'"],
  ['sum some_metric by (test)', 'unexpected identifier "some_metric" in aggregation'],
  ['sum (some_metric) by test', 'unexpected identifier "test" in grouping opts, expected "("'],
  ['sum () by (test)', 'no arguments for aggregate expression provided'],
  ['MIN keep_common (some_metric)', '1:5: parse error: unexpected identifier "keep_common" in aggregation'],
  ['MIN (some_metric) keep_common', 'unexpected identifier "keep_common"'],
  ['sum (some_metric) without (test) by (test)', 'unexpected <by>'],
  ['sum without (test) (some_metric) by (test)', 'unexpected <by>'],
  ['sum by (1) (foo)', 'unexpected number "1" in grouping opts, expected label'],
  ['topk(some_metric)', 'wrong number of arguments for aggregate expression provided, expected 2, got 1'],
  ['sum(a, b)', 'wrong number of arguments for aggregate expression provided, expected 1, got 2'],
  ['topk(some_metric,)', 'trailing commas not allowed in function call args'],
  ['topk(some_metric, other_metric)', '1:6: parse error: expected type scalar in aggregation parameter, got instant vector'],
  ['count_values(5, other_metric)', '1:14: parse error: expected type string in aggregation parameter, got scalar'],
  ['sum(1)', 'expected type instant vector in aggregation expression, got scalar'],
  ['floor()', 'expected 1 argument(s) in call to "floor", got 0'],
  ['floor(some_metric, other_metric)', 'expected 1 argument(s) in call to "floor", got 2'],
  ['floor(1)', 'expected type instant vector in call to function "floor", got scalar'],
  ['hour(some_metric, some_metric, some_metric)', 'expected at most 1 argument(s) in call to "hour", got 3'],
  ['time(some_metric)', 'expected 0 argument(s) in call to "time", got 1'],
  ['label_join(foo, "a")', 'expected at least 3 argument(s) in call to "label_join", got 2'],
  ['label_join(foo, "a", ",", 1)', 'expected type string in call to function "label_join", got scalar'],
  ['non_existent_function_far_bar()', '1:1: parse error: unknown function with name "non_existent_function_far_bar"'],
  ['rate(some_metric)', '1:6: parse error: expected type range vector in call to function "rate", got instant vector'],
  ['rate(foo[5m], )', 'trailing commas not allowed in function call args'],
  ['a>b()', 'unknown function with name "b"'],
  ['++-++-+-+-<', 'unexpected <op:<>'],
  ['e-+=/(0)', 'unexpected "="'],
  ['a + sum(', 'unclosed left parenthesis'],
  ['foo @ +Inf', '1:1: parse error: timestamp out of bounds for @ modifier: +Inf'],
  ['foo @ -Inf', 'timestamp out of bounds for @ modifier: -Inf'],
  ['foo @ NaN', 'timestamp out of bounds for @ modifier: NaN'],
  ['foo @ 1 @ 2', '@ <timestamp> may not be set multiple times'],
  ['foo @ start() @ end()', '@ <timestamp> may not be set multiple times'],
  ['(foo) @ 2', '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery'],
  ['foo @ bar', 'unexpected identifier "bar" in @, expected timestamp'],
  ['foo offset bar', 'unexpected identifier "bar" in offset, expected number or duration'],
  ['"foo" + 1', 'binary expression must contain only scalar and instant vector types'],
  ['foo[5m] + 1', 'binary expression must contain only scalar and instant vector types'],
  ['"unterminated', 'unterminated quoted string'],
  ['`unterminated', 'unterminated raw string'],
  ['"a\\qb"', "unknown escape sequence U+0071 'q'"],
  ['"a\\\'b"', "unknown escape sequence U+0027 '''"],
  ['"\\xZZ"', "illegal character U+005A 'Z' in escape sequence"],
  ['"\\uD800"', 'escape sequence is an invalid Unicode code point'],
  ['foo !bar', "unexpected character after '!': 'b'"],
  ['foo bar', 'unexpected identifier "bar"'],
  ['()', 'unexpected ")"'],
  ['foo on bar', 'unexpected <on>'],
  ['bool', 'unexpected <bool>'],
  ['foo ; bar', "unexpected character: ';'"],
  ['foo{a="b"}\n + \n$', "3:1: parse error: unexpected character: '$'"],
  ['sum(foo) by (a) by (b)', 'unexpected <by>'],
  ['foo * on(a) group_left (b)', 'unexpected end of input'],
];

function shape(e: Expr): unknown {
  // Printing sorts matchers, so compare them order-independently.
  return JSON.parse(
    JSON.stringify(e, (k, v) => {
      if (k === 'pos') return undefined;
      if (k === 'matchers') return [...v].map((m: unknown) => JSON.stringify(m)).sort();
      return v;
    }),
  );
}

describe('PromQL parser: valid expressions', () => {
  test.each(VALID.map(([q, out]) => [q, out ?? q] as const))('%j', (q, out) => {
    const e = parseExpr(q);
    expect(formatExpr(e)).toBe(out);
    // Round trip: the printed form parses to the same AST.
    expect(shape(parseExpr(formatExpr(e)))).toEqual(shape(e));
  });
  test('AST shapes and value types', () => {
    const e = parseExpr('-2 ^ 2');
    expect(e.type).toBe('UnaryExpr');
    const vs = parseExpr('foo{a="b"} offset -5m @ start()');
    expect(vs).toMatchObject({
      type: 'VectorSelector',
      name: 'foo',
      offsetMs: -300000,
      startOrEnd: 'start',
      matchers: [
        { type: '=', name: 'a', value: 'b' },
        { type: '=', name: '__name__', value: 'foo' },
      ],
    });
    expect(parseExpr('foo @ 1.5')).toMatchObject({ timestampMs: 1500 });
    expect(parseExpr('foo[5m:]')).toMatchObject({ type: 'SubqueryExpr', rangeMs: 300000, stepMs: 0 });
    const bin = parseExpr('a * on(x) group_left(y) b');
    expect(bin).toMatchObject({ type: 'BinaryExpr', op: '*', vectorMatching: { card: 'many-to-one', on: true, matchingLabels: ['x'], include: ['y'] } });
    expect(parseExpr('a and b')).toMatchObject({ vectorMatching: { card: 'many-to-many' } });
    expect((parseExpr('a + 1') as { vectorMatching?: unknown }).vectorMatching).toBeUndefined();
    expect(parseExpr('limitk(1, a)')).toMatchObject({ experimental: true });
    expect(parseExpr('mad_over_time(a[5m])')).toMatchObject({ func: { experimental: true } });
    expect(parseExpr('rate(a[5m])')).toMatchObject({ func: { experimental: false, returnType: 'vector' } });
    expect(valueTypeOf(parseExpr('1 + 1'))).toBe('scalar');
    expect(valueTypeOf(parseExpr('a[5m]'))).toBe('matrix');
    expect(valueTypeOf(parseExpr('"s"'))).toBe('string');
    expect(valueTypeOf(parseExpr('scalar(a) * 2'))).toBe('scalar');
    const err = (() => {
      try {
        parseExpr('foo{a="é"} + $');
      } catch (e) {
        return e as PromQLParseError;
      }
    })()!;
    expect(err.positionStart).toBe(13);
    expect(err.message).toBe("1:15: parse error: unexpected character: '$'"); // Go counts UTF-8 bytes
  });
  test('table sizes', () => {
    expect(VALID.length).toBeGreaterThanOrEqual(120);
    expect(INVALID.length).toBeGreaterThanOrEqual(60);
  });
});

describe('PromQL parser: invalid expressions', () => {
  test.each(INVALID)('%j', (q, msg) => {
    let err: unknown;
    try {
      parseExpr(q);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PromQLParseError);
    const m = (err as Error).message;
    if (msg === undefined) expect(m).toMatch(/^\d+:\d+: parse error: /);
    else if (typeof msg === 'string') expect(m.endsWith(msg) || m === msg).toBe(true);
    else expect(m).toMatch(msg);
    expect(m).toMatch(/^(\d+:\d+:|invalid position:) parse error: /);
  });
});
