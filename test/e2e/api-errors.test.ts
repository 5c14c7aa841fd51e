// Refused requests answered byte for byte as Prometheus 2.42 answers them: parameter errors of
// every endpoint (texts, error types, status codes), RE2 errors quoting the anchored regex, parse
// errors of range queries without a prefix, a known path asked with a wrong method (405 with the
// router's body and Allow header), OPTIONS (204), and `limit`, which 2.42 ignores. The proxy runs
// in prometheus-2 mode over one Prometheus, asked the same request right after it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

interface Case {
  method?: string;
  path: string;
  params?: Record<string, string>;
}

const RANGE = { query: 'up', start: '1', end: '100', step: '10' };

const CASES: Case[] = [
  // query_range: every check in api.go's order
  { path: '/query_range', params: { query: 'up', end: '2', step: '1' } },
  { path: '/query_range', params: { ...RANGE, end: '2015-13-01T00:00:00Z' } },
  { path: '/query_range', params: { ...RANGE, start: '200' } },
  { path: '/query_range', params: { ...RANGE, step: '1x' } },
  { path: '/query_range', params: { ...RANGE, step: '0' } },
  { path: '/query_range', params: { ...RANGE, step: '-5s' } },
  { path: '/query_range', params: { ...RANGE, end: '200000' } },
  { path: '/query_range', params: { ...RANGE, timeout: 'soon' } },
  { path: '/query_range', params: { ...RANGE, query: 'sum(up' } },
  { path: '/query_range', params: { ...RANGE, query: 'up[5m]' } },
  { path: '/query_range', params: { ...RANGE, query: '{job=~"("}' } },
  { path: '/query_range', params: { ...RANGE, query: '' } },
  { path: '/query_range', params: { ...RANGE, query: '"a string"' } },
  // query
  { path: '/query', params: { query: 'up', time: 'yesterday' } },
  { path: '/query', params: { query: 'up', timeout: '1h1h' } },
  { path: '/query', params: { query: 'rate(up[5m]' } },
  { path: '/query', params: { query: 'up{a=~"[z-a]"}' } },
  { path: '/query', params: { query: 'up{a!~"a**"}' } },
  { path: '/query', params: {} },
  { method: 'POST', path: '/query', params: { query: 'sum by (x (up)' } },
  // series, labels, values
  { path: '/series', params: {} },
  { path: '/series', params: { 'match[]': '{a=~"("}' } },
  { path: '/series', params: { 'match[]': '{a=""}' } },
  { path: '/series', params: { 'match[]': 'up', start: 'x' } },
  { path: '/labels', params: { 'match[]': '{a=~"(b"}' } },
  { path: '/labels', params: { end: 'never' } },
  { path: '/label/0bad/values', params: {} },
  { path: '/label/job/values', params: { 'match[]': 'up{', start: '1' } },
  // limit: 2.42 ignores it, whatever its value
  { path: '/labels', params: { limit: 'abc' } },
  { path: '/series', params: { 'match[]': 'up', limit: '-1' } },
  { path: '/label/job/values', params: { limit: '1' } },
  // others
  { path: '/format_query', params: { query: 'sum(' } },
  { path: '/query_exemplars', params: { query: '{a=~"("}' } },
  { path: '/rules', params: { type: 'nope' } },
  { path: '/targets/metadata', params: { limit: '1.5' } },
  // wrong methods on known paths
  { method: 'POST', path: '/rules' },
  { method: 'POST', path: '/alerts' },
  { method: 'DELETE', path: '/targets' },
  { method: 'POST', path: '/scrape_pools' },
  { method: 'PUT', path: '/status/config' },
  { method: 'POST', path: '/status/buildinfo' },
  { method: 'POST', path: '/status/flags' },
  { method: 'POST', path: '/status/runtimeinfo' },
  { method: 'POST', path: '/status/tsdb' },
  { method: 'POST', path: '/metadata' },
  { method: 'POST', path: '/label/job/values' },
  { method: 'PUT', path: '/query' },
  { method: 'DELETE', path: '/series' },
  { method: 'PATCH', path: '/labels' },
  { method: 'GET', path: '/read' },
  { method: 'OPTIONS', path: '/query' },
  { method: 'OPTIONS', path: '/rules' },
];

interface Got {
  status: number;
  contentType: string | null;
  allow: string | null;
  body: string;
}

async function ask(base: string, c: Case): Promise<Got> {
  const method = c.method ?? 'GET';
  const params = new URLSearchParams(c.params ?? {});
  const url = method === 'GET' || method === 'OPTIONS' ? `${base}/api/v1${c.path}?${params.toString()}` : `${base}/api/v1${c.path}`;
  const body = method === 'GET' || method === 'OPTIONS' || method === 'DELETE' ? undefined : params;
  const res = await fetch(url, { method, body, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, contentType: res.headers.get('content-type'), allow: res.headers.get('allow'), body: await res.text() };
}

describe('refusals and methods byte for byte as Prometheus 2.42', () => {
  let prom: PrometheusProcess;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    prom = await startPrometheus({ configYaml: 'global: {scrape_interval: 1h}\n' });
    proxy = await startProxy(
      (listen) =>
        `listen: ${listen}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  server_groups:\n    - name: only\n      static_configs: [{targets: ["127.0.0.1:${prom.port}"]}]\n`,
    );
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await prom?.stop();
  });

  it('answers every case with Prometheus 2.42\u2019s status, content type, Allow header and body', async () => {
    const diffs: string[] = [];
    for (const c of CASES) {
      const ref = await ask(prom.url, c);
      const got = await ask(proxy.url, c);
      if (JSON.stringify(got) !== JSON.stringify(ref))
        diffs.push(`${c.method ?? 'GET'} ${c.path} ${JSON.stringify(c.params ?? {})}\n  want ${JSON.stringify(ref)}\n  got  ${JSON.stringify(got)}`);
    }
    expect(diffs.join('\n')).toBe('');
    // The cases are refusals, methods and ignored limits, not all 200s.
    const statuses = new Set(await Promise.all(CASES.map(async (c) => (await ask(prom.url, c)).status)));
    expect([...statuses].sort()).toEqual([200, 204, 400, 405, 500]);
  });
});
