// The Go-template subset of rule labels and annotations: Prometheus's functions print what
// Prometheus prints (values taken from Prometheus's template_test.go and Go's fmt), and what is
// not implemented is refused at parse time with a message naming it.

import { describe, expect, it } from 'vitest';
import { Template, expand, goG, goShortest, goSprintf } from '../../../src/rules/template.js';

const data = (value: number, labels: Record<string, string> = { instance: 'host:9100', job: 'node' }) => ({
  labels,
  externalLabels: { dc: 'eu' },
  externalURL: 'http://promfront:9099',
  value,
});
const run = (t: string, value = 1, labels?: Record<string, string>) => Template.parse('__alert_x', t).execute(data(value, labels));

describe('rule templates', () => {
  it('reads labels and value both ways', () => {
    expect(run('{{ $labels.instance }} {{ .Labels.job }} {{ $value }} {{ .Value }} {{ $externalLabels.dc }}', 0.5)).toBe('host:9100 node 0.5 0.5 eu');
    expect(run('{{ $labels.missing }}|')).toBe('|');
  });
  it('humanizes as Prometheus', () => {
    expect(run('{{ humanize 1234567.0 }} {{ humanize 0.0012 }} {{ humanize 0 }} {{ humanize 12 }}')).toBe('1.235M 1.2m 0 12');
    expect(run('{{ humanize1024 1048576.0 }} {{ humanize1024 1 }}')).toBe('1Mi 1');
    expect(
      run('{{ humanizeDuration 3661 }} {{ humanizeDuration 90061 }} {{ humanizeDuration 1.5 }} {{ humanizeDuration 0.0015 }} {{ humanizeDuration 0 }}'),
    ).toBe('1h 1m 1s 1d 1h 1m 1s 1.5s 1.5ms 0s');
    expect(run('{{ humanizePercentage 0.1234 }}')).toBe('12.34%');
    expect(run('{{ humanizeTimestamp 1435065584.128 }}')).toBe('2015-06-23 13:19:44.128 +0000 UTC');
    expect(run('{{ $value | humanize }}', 12345678)).toBe('12.35M');
  });
  it('formats like Go', () => {
    expect(goShortest(123456789)).toBe('1.23456789e+08');
    expect(goShortest(100)).toBe('100');
    expect(goShortest(1e6)).toBe('1e+06');
    expect(goShortest(0.0001)).toBe('0.0001');
    expect(goShortest(0.00001)).toBe('1e-05');
    expect(goG(12346, 4)).toBe('1.235e+04');
    expect(goG(0.5, 4)).toBe('0.5');
    expect(goSprintf('%.2f|%d|%s|%5s|%-3s|%%|%v', [3.14159, 42, 'a', 'b', 'c', 2.5])).toBe('3.14|42|a|    b|c  |%|2.5');
  });
  it('runs if/else and range', () => {
    const t = '{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}';
    expect([run(t, 11), run(t, 6), run(t, 1)]).toEqual(['high', 'mid', 'low']);
    expect(run('{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}')).toBe('instance=host:9100;job=node;');
    expect(run('{{ toUpper "ab" }}{{ toLower "CD" }} {{ title "hello world" }} {{- " trimmed" }}')).toBe('ABcd Hello World trimmed');
  });
  it('refuses what it does not implement, and Go syntax errors, as Go words them', () => {
    expect(() => Template.parse('__alert_x', '{{ query "up" }}')).toThrow(/function "query" is not supported by promfront/);
    expect(() => Template.parse('__alert_x', '{{ with $labels }}x{{ end }}')).toThrow(/\{\{with\}\} is not supported/);
    expect(() => Template.parse('__alert_x', '{{ nosuch }}')).toThrow('template: __alert_x:1: function "nosuch" not defined');
    expect(() => Template.parse('__alert_x', 'a\n{{ $labels.x ')).toThrow('template: __alert_x:2: unclosed action');
    expect(() => Template.parse('__alert_x', '{{ if true }}x')).toThrow(/unexpected EOF/);
  });
  it('expand puts the error in the text, as Prometheus does', () => {
    expect(expand('__alert_x', '{{ $nope }}', data(1))).toMatch(/^<error expanding template: .*undefined variable "\$nope"/);
    expect(expand('__alert_x', 'plain', data(1))).toBe('plain');
  });
});
