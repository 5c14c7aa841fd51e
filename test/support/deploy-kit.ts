// The deployment kit's PromQL expressions (the Grafana dashboard's and the alerting rules'), with
// Grafana's variables replaced by values, and the metric names each one reads; shared by the unit
// test (names against the source) and the e2e test (names against a live /metrics).

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseExpr } from '../../src/promql/parser.js';
import { walkExpr } from '../../src/promql/ast.js';

export const DASHBOARD = new URL('../../deploy/grafana-dashboard.json', import.meta.url);
export const ALERTS = new URL('../../deploy/promfront-alerts.yml', import.meta.url);

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

// Grafana's variables as a query sees them once Grafana filled them in.
const VARIABLES: [RegExp, string][] = [
  [/\$__rate_interval\b/g, '1m'],
  [/\$__interval\b/g, '15s'],
  [/\$__range\b/g, '1h'],
  [/\$\{?job\}?/g, '.*'],
  [/\$\{?instance\}?/g, '.*'],
];

export function grafanaToPromql(expr: string): string {
  let out = expr;
  for (const [re, v] of VARIABLES) out = out.replace(re, v);
  return out;
}

/** Every expression of the dashboard's panels (rows' panels too), as `where: expr`. */
export function dashboardExprs(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const out: { where: string; expr: string }[] = [];
  const visit = (p: Panel) => {
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: grafanaToPromql(t.expr) });
    for (const c of p.panels ?? []) visit(c);
  };
  dash.panels.forEach(visit);
  return out;
}

export function alertExprs(): { where: string; expr: string }[] {
  const doc = parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })));
}

/** The metric names an expression reads (parsing it with our parser; throws when it does not parse). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  walkExpr(parseExpr(expr), (e) => {
    if (e.type === 'VectorSelector') {
      const name = e.name ?? e.matchers.find((m) => m.name === '__name__' && m.type === '=')?.value;
      if (name) names.add(name);
    }
  });
  return [...names];
}

/** Whether `name` is one of `exported` families, a histogram's _bucket, _sum or _count included. */
export function isExported(name: string, exported: ReadonlySet<string>): boolean {
  return exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, ''));
}
