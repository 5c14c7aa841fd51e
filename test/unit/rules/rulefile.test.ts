// Rule files parsed and checked as promtool check rules does (the e2e test rules-check compares
// with promtool itself; these cover the parsed result and positions without it).

import { describe, expect, it } from 'vitest';
import { type RuleFileError, parseRuleFile } from '../../../src/rules/rulefile.js';

describe('rule files', () => {
  it('parses groups and rules with their fields', () => {
    const groups = parseRuleFile(
      `groups:
  - name: g
    interval: 30s
    limit: 5
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {a: b}
      - alert: Down
        expr: up == 0
        for: 1m
        keep_firing_for: 2m
        annotations: {s: "{{ $labels.job }}"}
`,
      '/r.yml',
    );
    expect(groups).toHaveLength(1);
    const g = groups[0];
    expect([g.name, g.file, g.intervalMs, g.limit]).toEqual(['g', '/r.yml', 30_000, 5]);
    expect(g.rules.map((r) => [r.kind, r.name, r.forMs, r.keepFiringForMs, r.labels, r.annotations])).toEqual([
      ['record', 'job:up:sum', 0, 0, { a: 'b' }, {}],
      ['alert', 'Down', 60_000, 120_000, {}, { s: '{{ $labels.job }}' }],
    ]);
  });
  it('lists every problem with its position', () => {
    let err: RuleFileError | undefined;
    try {
      parseRuleFile(`groups:\n  - name: g\n    rules:\n      - record: x y\n        expr: up\n      - alert: a\n        expr: 'up +'\n`, 'f.yml');
    } catch (e) {
      err = e as RuleFileError;
    }
    expect(err?.problems).toEqual([
      '4:17: group "g", rule 1, "x y": invalid recording rule name: x y',
      '7:15: group "g", rule 2, "a": could not parse expression: 1:5: parse error: unexpected end of input',
    ]);
  });
  it('an empty file has no groups', () => {
    expect(parseRuleFile('', 'e.yml')).toEqual([]);
  });
});
