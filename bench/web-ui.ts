// Measures the web UI in headless Chromium: the bytes a browser downloads for the query page (raw
// and gzipped), the time from navigation until the PromQL editor takes input, and until a range
// query's graph is drawn; beside it, in the same run, the same range query asked of the Prometheus
// behind the proxy directly and through the proxy's API, so the UI's own share shows. (Debian's
// prometheus package ships no React UI, so its page is not a peer for the editor timings.) Run by
// hand (`npm run bench:web-ui`); results go to docs/performance.md.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { startChromium } from '../dev/chromium.js';
import { generateBackfillData, startBackfilledPrometheus } from '../dev/backfill.js';
import { answers200, freePort, terminate, waitFor } from '../dev/prometheus-process.js';

const RUNS = Number(process.env.RUNS ?? 5);

/** The query page's own files: the HTML and every script and stylesheet it names. */
async function pageBytes(pageUrl: string): Promise<{ raw: number; gzip: number; files: number }> {
  const html = await (await fetch(pageUrl)).text();
  const refs = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => new URL(m[1], pageUrl).toString());
  let raw = Buffer.byteLength(html);
  let gzip = gzipSync(html).length;
  for (const r of refs) {
    const body = Buffer.from(await (await fetch(r)).arrayBuffer());
    raw += body.length;
    gzip += gzipSync(body).length;
  }
  return { raw, gzip, files: refs.length + 1 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeToEditor(page: Page, url: string): Promise<number> {
  const t0 = performance.now();
  await page.goto(url);
  await page.waitForSelector('.cm-content[contenteditable="true"]');
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const prom = await startBackfilledPrometheus(generateBackfillData());
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-webui-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\nlog_level: warn\nquery:\n  server_groups:\n    - static_configs: [{targets: ["${new URL(prom.url).host}"]}]\n`,
  );
  const proxy = spawn('./proxy', [`--config=${config}`], { stdio: 'inherit' });
  const browser = await startChromium();
  const ctx = browser.context;
  try {
    const proxyUrl = `http://127.0.0.1:${port}`;
    await waitFor(() => answers200(`${proxyUrl}/-/ready`), 60_000, 'proxy ready');
    const ours = await pageBytes(`${proxyUrl}/graph`);
    const theirs = await pageBytes(`${prom.url}/graph`);
    console.log(
      `query page bytes: promfront ${ours.raw} raw / ${ours.gzip} gzip in ${ours.files} files; Prometheus 2.42 ${theirs.raw} / ${theirs.gzip} in ${theirs.files}`,
    );

    const page = await ctx.newPage();
    const editorOurs: number[] = [];
    const graphOurs: number[] = [];
    const apiProm: number[] = [];
    const apiProxy: number[] = [];
    const expr = 'sum by (job, instance) (rate(http_requests_total[5m]))';
    const end = Date.UTC(2024, 0, 1, 2) / 1000;
    const form = new URLSearchParams({ query: expr, start: String(end - 7200), end: String(end), step: '30' });
    const timed = async (u: string) => {
      const t0 = performance.now();
      const res = await fetch(u);
      if (!res.ok) throw new Error(`${u}: HTTP ${res.status}`);
      await res.arrayBuffer();
      return performance.now() - t0;
    };
    for (let i = 0; i < RUNS; i++) {
      apiProm.push(await timed(`${prom.url}/api/v1/query_range?${form}`));
      apiProxy.push(await timed(`${proxyUrl}/api/v1/query_range?${form}`));
      editorOurs.push(await timeToEditor(page, `${proxyUrl}/graph`));
      // The same range query (8 series x 241 points) in the UI's URL, until uPlot has drawn it.
      const q = new URLSearchParams({ expr, mode: 'range', time: '2024-01-01T02:00:00Z', range: '2h', step: '30s' });
      const t0 = performance.now();
      await page.goto(`${proxyUrl}/graph?${q}`);
      await page.waitForFunction(() => (globalThis as { promfrontPlot?: unknown }).promfrontPlot !== undefined);
      graphOurs.push(performance.now() - t0);
    }
    const ms = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    console.log(`range query (8 series x 241 points), ${RUNS} runs: Prometheus 2.42 API ${ms(apiProm)}; promfront API ${ms(apiProxy)}`);
    console.log(`UI: navigation to editor ready ${ms(editorOurs)}; navigation to that range graph drawn ${ms(graphOurs)}`);
  } finally {
    await browser.close();
    await terminate(proxy);
    await prom.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
