// RE2 regexes through re2js with Go's semantics and error texts, and the matcher fast paths.

import { describe, expect, it } from 'vitest';
import { compileLabelMatcher, compileMatcher, compileMatchers, getLabelValue, matchesLabels } from '../../../src/model/matchers.js';
import { clearRegexCache, compileRegex, expandTemplate, matchAnchored, regexCacheSize, replaceAnchored } from '../../../src/model/regex.js';
import { labelsFromRecord } from '../../../src/model/labels.js';
import { RegexError } from '../../../src/errors.js';

const S = { dotAll: true };
const N = { dotAll: false };

function errorOf(pattern: string): string {
  try {
    compileRegex(pattern, S);
  } catch (e) {
    expect(e).toBeInstanceOf(RegexError);
    return (e as Error).message;
  }
  throw new Error(`${pattern} compiled`);
}

describe('anchoring and flags', () => {
  it('matches the whole value only', () => {
    const m = compileRegex('fo[o]', S).matches;
    expect(m('foo')).toBe(true);
    expect(m('xfoo')).toBe(false);
    expect(m('foox')).toBe(false);
    // An alternation is anchored as a whole: ^(?:a|b)$, not ^a|b$.
    const alt = compileRegex('a|b+', S).matches;
    expect(alt('bbb')).toBe(true);
    expect(alt('abbb')).toBe(false);
    expect(alt('ab')).toBe(false);
  });

  it('the user pattern cannot escape the wrapper', () => {
    expect(errorOf('a)|(b')).toBe('error parsing regexp: unexpected ): `a)|(b`');
    // Unterminated \Q quotes to the end of the pattern.
    expect(compileRegex('\\Qa.b', S).matches('a.b')).toBe(true);
    expect(compileRegex('\\Qa.b', S).matches('axb')).toBe(false);
    expect(compileRegex('\\Qa.\\E.', S).matches('a.z')).toBe(true);
  });

  it('dot matches newline only with dotAll', () => {
    for (const p of ['a.b', 'a.*', '.*b', '.+', '.*', 'a.+b', 'x(.)y']) {
      const input = p === 'x(.)y' ? 'x\ny' : p.startsWith('a') ? 'a\nb' : '\nb';
      expect(compileRegex(p, S).matches(input), p).toBe(true);
      expect(compileRegex(p, N).matches(input), p).toBe(false);
    }
    expect(compileRegex('(?-s:a.b)', S).matches('a\nb')).toBe(false);
    expect(compileRegex('(?s)a.b', N).matches('a\nb')).toBe(true);
    // $ is end of text, not end of line.
    expect(compileRegex('a$', S).matches('a')).toBe(true);
    expect(compileRegex('(?m)a$\\n', S).matches('a\n')).toBe(true);
  });

  it('is RE2 syntax: named groups, classes, unicode', () => {
    expect(compileRegex('(?P<x>a)(?<y>b)', S).names).toEqual(['', 'x', 'y']);
    expect(compileRegex('[[:alpha:]]+\\d', S).matches('abc1')).toBe(true);
    expect(compileRegex('\\p{Greek}+', S).matches('αβγ')).toBe(true);
    expect(compileRegex('.', S).matches('😀')).toBe(true); // one rune, two UTF-16 units
    expect(compileRegex('(?i)FOO', S).matches('foo')).toBe(true);
  });
});

describe('invalid patterns give Go regexp/syntax errors', () => {
  it.each([
    ['(a', 'error parsing regexp: missing closing ): `(a`'],
    ['a)', 'error parsing regexp: unexpected ): `a)`'],
    ['[a', 'error parsing regexp: missing closing ]: `[a`'],
    ['*a', 'error parsing regexp: missing argument to repetition operator: `*`'],
    ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
    ['\\8', 'error parsing regexp: invalid escape sequence: `\\8`'],
    ['(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['x{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ['[z-a]', 'error parsing regexp: invalid character class range: `z-a`'],
    ['a\\', 'error parsing regexp: trailing backslash at end of expression: ``'],
  ])('%s', (pattern, message) => {
    expect(errorOf(pattern)).toBe(message);
    // Cached failures throw again.
    expect(errorOf(pattern)).toBe(message);
  });

  it('matchers surface the error', () => {
    expect(() => compileMatcher({ type: '=~', name: 'a', value: '(' }, S)).toThrow(/missing closing \)/);
    expect(() => compileMatcher({ type: '!~', name: 'a', value: '[' }, S)).toThrow(RegexError);
  });
});

describe('linear time', () => {
  it('(a+)+$ on a long non-matching input finishes fast', () => {
    const input = 'a'.repeat(100_000) + 'b';
    const t0 = performance.now();
    expect(compileRegex('(a+)+$', S).matches(input)).toBe(false);
    expect(compileRegex('(a|aa)+', S).matches(input)).toBe(false);
    expect(replaceAnchored('(a+)+$', input, '$1')).toBeUndefined();
    const ms = performance.now() - t0;
    console.log(`catastrophic patterns on ${input.length} chars: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(5000);
  });
});

describe('fast paths', () => {
  it('are chosen for the simple shapes', () => {
    expect(compileRegex('foo', S).strategy).toBe('literal');
    expect(compileRegex('foo\\.bar', S).strategy).toBe('literal');
    expect(compileRegex('', S).strategy).toBe('literal');
    expect(compileRegex('a|b|ccc', S).strategy).toBe('set');
    expect(compileRegex('a||b', S).strategy).toBe('set');
    for (const p of ['foo.*', '.*foo', '.*foo.*', '.*', '.+', 'foo.+', '.+foo.+']) {
      expect(compileRegex(p, S).strategy, p).toBe('dots');
      expect(compileRegex(p, N).strategy, p).toBe('dots');
    }
    for (const p of ['fo+', 'a|b.*', '[ab]', '(a)', '.*?', '.', 'a.b', '(?i)foo', '\\d', 'foo$', '^foo']) {
      expect(compileRegex(p, S).strategy, p).toBe('regex');
    }
  });

  it('agree with the regex engine on random inputs', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'b', 'o', 'f', '\n', '.', '|', '😀', 'é'];
    const word = (max: number) => {
      let s = '';
      const n = rnd(max + 1);
      for (let i = 0; i < n; i++) s += alphabet[rnd(alphabet.length)];
      return s;
    };
    const quote = (s: string) => s.replace(/[.|\\]/g, (c) => '\\' + c);
    const patterns = new Set<string>(['', '.*', '.+', '.*.*', '.+.*', '.+.+', 'a|', '|']);
    for (let i = 0; i < 300; i++) {
      const lit = quote(word(3));
      const dots = ['', '.*', '.+'];
      patterns.add(dots[rnd(3)] + lit + dots[rnd(3)]);
      patterns.add([quote(word(2)), quote(word(2)), quote(word(3))].join('|'));
    }
    let checked = 0;
    for (const p of patterns) {
      for (const opts of [S, N]) {
        const re = compileRegex(p, opts);
        const inputs = [word(0), word(2), word(5), word(8)];
        for (let i = 0; i < 30; i++) inputs.push(word(6));
        // Inputs built from the pattern's own literal are the interesting ones.
        const lit = p.replace(/\.\*|\.\+/g, '').replace(/\\(.)/g, '$1');
        inputs.push(lit, 'x' + lit, lit + 'x', 'x' + lit + 'y', '\n' + lit, lit + '\n', ...lit.split('|'));
        for (const v of inputs) {
          expect(re.matches(v), `${JSON.stringify(p)} dotAll=${opts.dotAll} on ${JSON.stringify(v)}`).toBe(re.re.testExact(v));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });
});

describe('cache', () => {
  it('is bounded and reuses compiled regexes', () => {
    clearRegexCache();
    const a = compileRegex('x+y', S);
    expect(compileRegex('x+y', S)).toBe(a);
    expect(compileRegex('x+y', N)).not.toBe(a);
    for (let i = 0; i < 1500; i++) compileRegex(`k${i}+`, S);
    expect(regexCacheSize()).toBe(1000);
    expect(compileRegex('x+y', S)).not.toBe(a); // evicted
  });
});

describe('template expansion (Go regexp.Expand)', () => {
  const m = { groups: ['whole', 'one', undefined, 'three'], names: ['', '', 'name', 'x_y'] };
  it.each([
    ['$1', 'one'],
    ['${1}', 'one'],
    ['$1x', ''], // the group named "1x": absent
    ['${1}x', 'onex'],
    ['$0', 'whole'],
    ['$3-$x_y', 'three-three'],
    ['$x_y.', 'three.'],
    ['$name', ''], // named but did not participate
    ['${name}', ''],
    ['$9', ''],
    ['$01', ''], // leading zero: a name, not a number
    ['$$', '$'],
    ['$$1', '$1'],
    ['a$', 'a$'], // malformed: literal $
    ['$-', '$-'],
    ['${1', '${1'], // missing brace: literal $
    ['${}', '${}'],
    ['cost: $ 5', 'cost: $ 5'],
    ['${3}${1}', 'threeone'],
    ['$é', ''], // letters are name characters
    ['no refs', 'no refs'],
  ])('%s -> %s', (template, want) => {
    expect(expandTemplate(template, m)).toBe(want);
  });

  it('first participating group of a name wins; no names means numbers only', () => {
    expect(expandTemplate('$n', { groups: ['w', undefined, 'b'], names: ['', 'n', 'n'] })).toBe('b');
    expect(expandTemplate('$n|$1', { groups: ['w', 'a'] })).toBe('|a');
  });
});

describe('replaceAnchored (label_replace)', () => {
  it('expands on a full match, undefined otherwise', () => {
    expect(replaceAnchored('(.*):(\\d+)', 'host:9090', '$2 on ${1}')).toBe('9090 on host');
    expect(replaceAnchored('(\\d+)', 'x123', '$1')).toBeUndefined(); // anchored
    expect(replaceAnchored('(?P<host>[^:]+):(?P<port>\\d+)', 'h:1', '$port/$host')).toBe('1/h');
    expect(replaceAnchored('(a)|(b)', 'b', '[$1][$2]')).toBe('[][b]');
    expect(replaceAnchored('(.*)', '', 'x$1')).toBe('x');
    expect(replaceAnchored('(.*)', 'a\nb', '$1')).toBe('a\nb');
    expect(replaceAnchored('(.*)', 'a\nb', '$1', N)).toBeUndefined();
    const re = compileRegex('(?P<a>x+)(y)?', S);
    expect(matchAnchored(re, 'xx')).toEqual({ groups: ['xx', 'xx', undefined], names: ['', 'a', ''] });
    expect(replaceAnchored(re, 'xxy', '$a$2')).toBe('xxy');
  });
});

describe('matchers', () => {
  const labels = labelsFromRecord({ __name__: 'up', job: 'api', instance: 'h:9090' });

  it('compile all four types', () => {
    expect(compileMatcher({ type: '=', name: 'job', value: 'api' }, S)('api')).toBe(true);
    expect(compileMatcher({ type: '!=', name: 'job', value: 'api' }, S)('api')).toBe(false);
    expect(compileMatcher({ type: '=~', name: 'job', value: 'a.*' }, S)('api')).toBe(true);
    expect(compileMatcher({ type: '=~', name: 'job', value: 'p' }, S)('api')).toBe(false);
    expect(compileMatcher({ type: '!~', name: 'job', value: 'a.*' }, S)('api')).toBe(false);
    expect(compileLabelMatcher({ type: '=~', name: 'x', value: '.*' }, S).matchesEmpty).toBe(true);
    expect(compileLabelMatcher({ type: '=~', name: 'x', value: '.+' }, S).matchesEmpty).toBe(false);
  });

  it('treat an absent label as ""', () => {
    const ok = (type: '=' | '!=' | '=~' | '!~', name: string, value: string) => matchesLabels(compileMatchers([{ type, name, value }], S), labels);
    expect(getLabelValue(labels, 'missing')).toBe('');
    expect(getLabelValue(labels, 'instance')).toBe('h:9090');
    expect(ok('=', 'missing', '')).toBe(true);
    expect(ok('!=', 'missing', '')).toBe(false);
    expect(ok('=~', 'missing', '.*')).toBe(true);
    expect(ok('=~', 'missing', '.+')).toBe(false);
    expect(ok('!~', 'missing', '.+')).toBe(true);
    expect(ok('=', 'job', '')).toBe(false);
    expect(ok('=~', '__name__', 'u.')).toBe(true);
    expect(
      matchesLabels(
        compileMatchers(
          [
            { type: '=', name: '__name__', value: 'up' },
            { type: '=~', name: 'instance', value: '.*:9090' },
            { type: '!=', name: 'job', value: 'web' },
          ],
          S,
        ),
        labels,
      ),
    ).toBe(true);
    expect(matchesLabels([], labels)).toBe(true);
  });
});
