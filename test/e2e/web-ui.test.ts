// The web UI in headless Chromium (Debian's chromium through playwright-core) against ./proxy in
// front of a real Prometheus 2.42 on backfilled data, the whole UI under --web.route-prefix: typed
// queries answer with the same table rows and graph series as the API, a parse error is shown, and
// every status page shows what /status and /api/v1/status/* hold. With PROMFRONT_UI_SCREENSHOTS=DIR
// it also saves the screenshots that docs/ and the README show.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { freePort, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startChromium, type HeadlessChromium } from '../../dev/chromium.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const PREFIX = '/pf';
const SECRET = 'UI-SECRET-PW-7';
const EXPORTER = `# HELP widget_count Widgets in stock.
# TYPE widget_count gauge
widget_count{kind="round"} 3
widget_count{kind="square"} 5
widget_count{kind="flat"} 8
`;
const SHOTS = process.env.PROMFRONT_UI_SCREENSHOTS;

/** How the UI prints a series (the test's own copy of the rule: name{a="x", b="y"}). */
function seriesName(m: Record<string, string>): string {
  const labels = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const name = m.__name__ ?? '';
  return labels.length === 0 && name !== '' ? name : `${name}{${labels.join(', ')}}`;
}

describe('web UI in headless Chromium', () => {
  let prom: PrometheusProcess | undefined;
  let upstream: Upstream | undefined;
  let proxy: ProxyProcess | undefined;
  let chrome: HeadlessChromium | undefined;
  let page: Page;
  let base: string;
  let deadPort: number;

  const api = async (path: string, params: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
    return (await res.json()) as any;
  };
  const shot = async (name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  };
  /** Types a query as a user would (brackets auto-close as they type), then closes the completion list. */
  const typeQuery = async (expr: string) => {
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.type(expr);
    await page.keyboard.press('Escape');
    expect(await page.locator('.cm-content').textContent()).toBe(expr);
  };
  const tableRows = () =>
    page.$$eval('#result-table table.result tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));

  beforeAll(async () => {
    const data = generateBackfillData();
    [prom, upstream, chrome, deadPort] = await Promise.all([startBackfilledPrometheus(data), startUpstream(EXPORTER), startChromium(), freePort()]);
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
shard:
  num_shards: 2
  scrape_interval: 2s
  sources:
    - url: ${upstream!.url}
      basic_auth: {username: scraper, password: ${SECRET}}
query:
  server_groups:
    - name: backfill
      static_configs: [{targets: ["${new URL(prom!.url).host}"]}]
    - name: gone
      ignore_error: true
      static_configs: [{targets: ["127.0.0.1:${deadPort}"]}]
`,
      {
        args: [`--web.route-prefix=${PREFIX}`],
        healthy: async (u) => (await fetch(`${u}${PREFIX}/-/ready`).catch(() => undefined))?.status === 200,
      },
    );
    base = `${proxy.url}${PREFIX}`;
    page = await chrome.context.newPage();
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await proxy?.stop();
    await upstream?.close();
    await prom?.stop();
  });

  it('serves the UI under the route prefix only, the root redirecting to the query page', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe(`${PREFIX}/graph`);
    expect((await fetch(`${proxy!.url}/graph`)).status).toBe(404);
    const index = await fetch(`${base}/graph`);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain(`<base href="${PREFIX}/"`);
  });

  it('an instant query typed in the editor shows the API answer as table rows, with its stats and warning', async () => {
    await page.goto(`${base}/graph`);
    await page.fill('#time', '2024-01-01T01:00:00Z');
    // Completion of metric names asks the proxy's own metadata API (under the prefix): only the
    // backfilled Prometheus behind it knows http_requests_total. Typed at a person's pace, as the
    // completion waits for typing to pause.
    await page.click('.cm-content');
    await page.keyboard.type('http_req', { delay: 60 });
    await page.locator('.cm-tooltip-autocomplete li', { hasText: 'http_requests_total' }).first().waitFor({ timeout: 20_000 });
    const expr = 'sum by (job, code) (rate(http_requests_total[5m]))';
    await typeQuery(expr);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#result-table table.result tbody tr');

    const want = await api('/api/v1/query', { query: expr, time: String(Date.UTC(2024, 0, 1, 1) / 1000) });
    expect(want.status).toBe('success');
    expect(want.data.result.length).toBe(4);
    const rows = await tableRows();
    expect(rows).toEqual(want.data.result.map((s: any) => [seriesName(s.metric), s.value[1]]));

    // The dead ignore_error group is a warning, shown as the API words it.
    expect(want.warnings?.length).toBeGreaterThan(0);
    const shownWarnings = await page.$$eval('#messages .alert-warning .alert-text', (els) => els.map((e) => e.textContent));
    expect(shownWarnings).toEqual(want.warnings);
    const stats = await page.textContent('#stats');
    expect(stats).toMatch(/Load time: \d+ ms/);
    expect(stats).toContain('Result series: 4');
    expect(stats).toContain('Groups asked: 2');
    expect(stats).toMatch(/Samples loaded: [1-9]\d*/);
    await expect.poll(() => new URL(page.url()).searchParams.get('expr')).toBe(expr);
  });

  it('a range query shows the API answer in the graph and the table', async () => {
    await page.selectOption('#mode', 'range');
    await page.fill('#time', '2024-01-01T02:00:00Z');
    await page.fill('#range', '1h');
    await page.fill('#step', '1m');
    const expr = 'sum by (job) (rate(http_requests_total[5m]))';
    await typeQuery(expr);
    await page.click('#execute');
    // Browser-side code: the page's globals, untyped here (the tests compile without the DOM library).
    await page.waitForFunction(() => {
      const w = globalThis as any;
      return w.promfrontPlot !== undefined && w.document.querySelector('#result-table table.result') !== null;
    });

    const end = Date.UTC(2024, 0, 1, 2) / 1000;
    const want = await api('/api/v1/query_range', { query: expr, start: String(end - 3600), end: String(end), step: '60' });
    expect(want.status).toBe('success');
    expect(want.data.result.length).toBe(2);

    const plotted: { labels: string[]; data: (number | null)[][] } = await page.evaluate(() => {
      const u = (globalThis as any).promfrontPlot;
      return { labels: u.series.slice(1).map((s: any) => s.label), data: u.data.map((d: any) => Array.from(d)) };
    });
    expect(plotted.labels).toEqual(want.data.result.map((s: any) => seriesName(s.metric)));
    const xs = plotted.data[0];
    want.data.result.forEach((s: any, i: number) => {
      const ys = plotted.data[i + 1];
      const points = xs.map((t, j) => [t, ys[j]]).filter(([, v]) => v !== null);
      expect(points).toEqual(s.values.map(([t, v]: [number, string]) => [t, Number(v)]));
    });
    expect(xs.length).toBe(61);

    const rows = await tableRows();
    expect(rows).toEqual(want.data.result.map((s: any) => [seriesName(s.metric), s.values.map(([t, v]: [number, string]) => `${v} @${t}`).join('\n')]));
    expect(await page.textContent('#stats')).toContain('Resolution: 1m');
    await shot('web-ui-graph');
  });

  it('a query that does not parse shows the API error and an inline mark in the editor', async () => {
    const expr = 'sum by (job) (1 +)';
    await typeQuery(expr);
    await page.click('#execute');
    await page.waitForSelector('#messages .alert-error');
    const want = await api('/api/v1/query_range', { query: expr, start: '1704067200', end: '1704070800', step: '60' });
    expect(want.status).toBe('error');
    expect(want.errorType).toBe('bad_data');
    expect(await page.textContent('#messages .alert-error strong')).toBe('bad_data');
    expect(await page.textContent('#messages .alert-error .alert-text')).toBe(want.error);
    expect(await page.$('#result-table table')).toBeNull();
    // The editor's own PromQL parser underlines the error without asking the server.
    await page.waitForSelector('.cm-lintRange-error', { timeout: 10_000 });
  });

  it('the targets page shows each server group and its targets as /status has them', async () => {
    await page.click('nav a[data-path="/targets"]');
    await page.waitForSelector('section.group[data-group="gone"] table.targets');
    expect(new URL(page.url()).pathname).toBe(`${PREFIX}/targets`);
    const status = (await (await fetch(`${base}/status`)).json()) as any;
    for (const g of status.query.groups) {
      const rows = await page.$$eval(`section.group[data-group="${g.name}"] table.targets tbody tr`, (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(rows.map((r) => r[0])).toEqual(g.targets.map((t: any) => t.url));
      expect(rows.map((r) => r[3])).toEqual(g.targets.map((t: any) => String(t.requests)));
    }
    const state = (group: string) => page.textContent(`section.group[data-group="${group}"] table.targets tbody tr td:nth-child(2)`);
    expect(await state('backfill')).toBe('UP');
    expect(await state('gone')).toBe('DOWN');
    expect(await page.textContent('section.group[data-group="gone"] .error-text')).toMatch(/\S/);
    expect(await page.textContent('section.group[data-group="backfill"] h2')).toContain('(1/1 up)');
    await shot('web-ui-targets');
  });

  it('the shards page shows the sources and every shard', async () => {
    await page.goto(`${base}/shards`);
    await page.waitForSelector('table.shards tbody tr');
    const status = (await (await fetch(`${base}/status`)).json()) as any;
    expect(await page.$$eval('table.sources tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual([upstream!.url]);
    expect(await page.textContent('table.sources tbody tr td:nth-child(2)')).toBe('UP');
    expect(await page.textContent('table.sources tbody tr td:nth-child(3)')).toBe('3');
    const shardSeries = await page.$$eval('table.shards tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    expect(shardSeries).toEqual(status.shards.map((s: any) => String(s.series)));
    expect(shardSeries.length).toBe(2);
    await shot('web-ui-shards');
  });

  it('the config page shows the running config with its secrets redacted', async () => {
    await page.goto(`${base}/config`);
    await page.waitForSelector('#config-yaml');
    const want = await api('/api/v1/status/config');
    const shown = await page.textContent('#config-yaml');
    expect(shown).toBe(want.data.yaml);
    expect(shown).toContain('<secret>');
    expect(shown).not.toContain(SECRET);
    expect(await page.content()).not.toContain(SECRET);
  });

  it('the flags and build-info pages show the command line and the version', async () => {
    await page.goto(`${base}/flags`);
    await page.waitForSelector('table.flags');
    const flags = await page.$$eval('table.flags tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(flags).toContainEqual(['web.route-prefix', PREFIX]);
    expect(flags).toContainEqual(['config', proxy!.configFile]);

    await page.goto(`${base}/buildinfo`);
    await page.waitForSelector('table.buildinfo');
    const info = await api('/api/v1/status/buildinfo');
    const rows = await page.$$eval('table.buildinfo tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toContainEqual(['version', info.data.version]);
  });

  it('the Pushgateway, fleet, rules and alerts pages say their section is not configured', async () => {
    for (const [path, key] of [
      ['pushgateways', 'push'],
      ['fleet', 'fleet'],
      ['rules', 'rules'],
      ['alerts', 'rules'],
    ]) {
      await page.click(`nav a[data-path="/${path}"]`);
      await page.waitForSelector(`main[data-page="${path}"] .page-body .empty`);
      expect(await page.textContent('main .page-body')).toContain(`No ${key} section in the config`);
    }
  });
});
