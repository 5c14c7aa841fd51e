// The deployment kit stays in step with the program: the Grafana dashboard is valid JSON, and every
// expression of it and of the alerting rules parses with our PromQL parser and reads only metrics
// that promfront's source exports (the e2e test ops.test.ts checks them against a live /metrics).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alertExprs, dashboardExprs, DASHBOARD, isExported, metricNames } from '../../support/deploy-kit.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

/** Every metric family name written in the source as a string. */
function namesInSource(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/['`\s](promfront_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)\b/g)) names.add(m[1]);
    }
  };
  walk(SRC);
  return names;
}

describe('deployment kit', () => {
  it('the dashboard is valid JSON with panels for queries, downstreams, shards and reloads', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; uid: string; panels: { title: string }[] };
    expect(dash.uid).toBe('promfront-overview');
    const titles = dash.panels.map((p) => p.title).join('\n');
    for (const t of [
      /Query latency by type/,
      /Downstream errors by group and target/,
      /Downstream latency by group and target/,
      /Scrape cycle duration/,
      /Series per shard/,
      /Shard body size/,
      /Config reloads/,
    ]) {
      expect(titles).toMatch(t);
    }
  });

  it('every dashboard and alert expression parses with our parser and reads only metrics promfront exports', () => {
    const exported = namesInSource();
    expect(exported.has('promfront_query_duration_seconds')).toBe(true);
    const exprs = [...dashboardExprs(), ...alertExprs()];
    expect(exprs.length).toBeGreaterThan(40);
    const unknown: string[] = [];
    for (const { where, expr } of exprs) {
      let names: string[];
      try {
        names = metricNames(expr);
      } catch (err) {
        throw new Error(`${where}: ${expr}: ${(err as Error).message}`, { cause: err });
      }
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const n of names) if (!isExported(n, exported)) unknown.push(`${where}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });

  it('would catch a misspelt metric or a broken expression', () => {
    const exported = namesInSource();
    expect(metricNames('rate(promfront_query_duration_seconds_bucket[1m])').every((n) => isExported(n, exported))).toBe(true);
    expect(metricNames('rate(promfront_query_durations_seconds_bucket[1m])').every((n) => isExported(n, exported))).toBe(false);
    expect(() => metricNames('sum by (type (rate(x[1m]))')).toThrow();
  });
});
