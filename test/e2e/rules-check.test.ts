// `./proxy check-config` and `promtool check rules` (Prometheus 2.42) on the same rule files: both
// accept the good ones, both refuse the bad ones, and every error line promtool prints (with its
// yaml line:column) is printed by check-config too.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPromtool } from '../../dev/backfill.js';
import { runCli } from '../support/proxy.js';

const GOOD: Record<string, string> = {
  'recording-and-alerting': `groups:
  - name: fleet
    interval: 30s
    limit: 100
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {tier: fleet}
      - alert: TargetDown
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: "{{ if gt $value 0.0 }}page{{ else }}ticket{{ end }}"}
        annotations:
          summary: '{{ $labels.instance }} of {{ .Labels.job }} is down ({{ $value | humanize }}, {{ humanizeDuration 3661 }})'
          description: '{{ printf "%.2f" $value }} {{ humanizePercentage 0.25 }} {{ toUpper "x" }} {{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}'
`,
  'empty-groups': 'groups: []\n',
  'two-groups': `groups:
  - name: a
    rules:
      - record: a:x
        expr: vector(1)
  - name: b
    rules:
      - record: b:x
        expr: a:x * 2
`,
};

const BAD: Record<string, string> = {
  'parse-and-fields': `groups:
  - name: g1
    rules:
      - record: job:up:sum
        expr: sum by (job) (up
      - record: "bad name"
        expr: up
      - alert: A
        expr: up == 0
        labels:
          "bad-label": z
        annotations:
          summary: "{{ $labels.instance "
      - record: r
        alert: a
        expr: up
      - expr: up
      - record: rr
        expr: up
        for: 5m
        annotations:
          a: b
  - name: g1
    rules: []
  - name: ""
    rules: []
`,
  'bad-duration': `groups:
  - name: g
    interval: 10x
    rules: []
`,
  'unknown-fields': `groups:
  - name: g
    foo: bar
    rules:
      - record: x
        expr: up
        unknown: 1
`,
  'unknown-template-function': `groups:
  - name: g
    rules:
      - alert: x
        expr: up
        annotations:
          d: "{{ $value | nosuch }}"
`,
  'missing-expr': `groups:
  - name: g
    rules:
      - record: x
      - alert: y
        expr: 'rate(up[5m]'
`,
};

function promtool(file: string): { code: number; out: string } {
  const r = spawnSync(findPromtool(), ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** promtool's error lines (after "FAILED:"), each prefixed by the file name. */
function promtoolErrors(out: string): string[] {
  const i = out.indexOf('FAILED:');
  return out
    .slice(i + 'FAILED:'.length)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function check(ruleFile: string): { code: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-rules-check-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `rule_files: [${JSON.stringify(ruleFile)}]\n`);
  const r = runCli(['check-config', `--config=${config}`]);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe('check-config and promtool check rules agree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-rules-'));
  it('promtool is installed', () => {
    expect(() => execFileSync(findPromtool(), ['--version'])).not.toThrow();
  });
  for (const [name, text] of Object.entries(GOOD)) {
    it(`accept ${name}`, () => {
      const f = join(dir, `${name}.yml`);
      writeFileSync(f, text);
      const p = promtool(f);
      const c = check(f);
      expect(p.code, p.out).toBe(0);
      expect(c.code, c.out).toBe(0);
    });
  }
  for (const [name, text] of Object.entries(BAD)) {
    it(`refuse ${name} with promtool's errors`, () => {
      const f = join(dir, `${name}.yml`);
      writeFileSync(f, text);
      const p = promtool(f);
      const c = check(f);
      expect(p.code).toBe(1);
      expect(c.code, c.out).toBe(2);
      const lines = promtoolErrors(p.out);
      expect(lines.length).toBeGreaterThan(0);
      const ours = c.out.split('\n').map((l) => l.trim());
      for (const l of lines) expect(ours, `promtool said: ${l}\ncheck-config said:\n${c.out}`).toContain(l);
    });
  }
});
