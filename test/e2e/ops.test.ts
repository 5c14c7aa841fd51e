// What an operator sees of a running ./proxy: the start-up lines in logfmt, a failing source logged
// once and its recovery once, /status with version, uptime, config file and transport per target,
// /metrics with build info and process metrics, and the deployment kit checked against the real
// thing (promtool on the rules and the compose fleet's configs, every dashboard and alert metric in
// a live /metrics).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPromtool } from '../../dev/backfill.js';
import { freePort, waitFor } from '../../dev/prometheus-process.js';
import { alertExprs, dashboardExprs, isExported, metricNames } from '../support/deploy-kit.js';
import { runCli, startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const deploy = (f: string) => fileURLToPath(new URL(`../../deploy/${f}`, import.meta.url));

describe('operator view of a running proxy', () => {
  let upstream: Upstream;
  let proxy: ProxyProcess;
  let deadPort: number;

  beforeAll(async () => {
    upstream = await startUpstream('# TYPE big gauge\nbig{i="1"} 1\nbig{i="2"} 2\nbig{i="3"} 3\n');
    deadPort = await freePort();
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
shard:
  num_shards: 2
  scrape_interval: 1s
  sources: [{url: "${upstream.url}"}]
query:
  server_groups:
    - name: gone
      static_configs: [{targets: ["127.0.0.1:${deadPort}"]}]
      ignore_error: true
      remote_read: false
`,
      // The default format, said explicitly: the test helper starts proxies with JSON logs otherwise.
      { args: ['--log.format=logfmt'] },
    );
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  const get = async (path: string) => (await fetch(`${proxy.url}${path}`)).text();

  it('logs the start in logfmt: version, config file, listen address and the sections in use', async () => {
    await waitFor(async () => proxy.logs().includes('msg="promfront listening"'), 10_000, 'the listening line');
    const lines = proxy.logs().split('\n');
    const start = lines.find((l) => l.includes('msg="starting promfront"'))!;
    expect(start).toMatch(/^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info msg="starting promfront" version=\d+\.\d+\.\d+ revision=\S+ /);
    expect(start).toContain(` config_file=${proxy.configFile} log_format=logfmt`);
    const listening = lines.find((l) => l.includes('msg="promfront listening"'))!;
    expect(listening).toContain(` listen=127.0.0.1:${proxy.port} sections="[\\"shard\\",\\"query\\"]"`);
  });

  it('logs a source that keeps failing once, and once when it recovers', async () => {
    await waitFor(async () => (await get('/-/ready')).includes('Ready'), 20_000, 'first cycle');
    upstream.mode = '500';
    await waitFor(async () => (await get('/metrics')).includes('reason="http_status"'), 10_000, 'the failure in /metrics');
    const failuresBefore = upstream.requests;
    await waitFor(async () => upstream.requests >= failuresBefore + 3, 20_000, 'three more failed scrapes');
    upstream.mode = 'good';
    await waitFor(async () => proxy.logs().includes('msg="scrape succeeded again"'), 10_000, 'the recovery line');
    const lines = proxy.logs().split('\n');
    expect(lines.filter((l) => l.includes('msg="scrape failed"'))).toEqual([
      expect.stringMatching(/ level=warn .* reason=http_status err="server returned HTTP status 500/),
    ]);
    expect(lines.filter((l) => l.includes('msg="scrape succeeded again"'))).toEqual([expect.stringMatching(/ level=info .* failures=[4-9]\d* /)]);
  });

  it('/status has version, uptime, config file, and per target the transport', async () => {
    await fetch(`${proxy.url}/api/v1/query?query=up`);
    const status = JSON.parse(await get('/status')) as Record<string, unknown> & { query: { groups: { targets: { transport: unknown }[] }[] } };
    expect(status).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), config_file: proxy.configFile, num_shards: 2 });
    expect(status.uptime_secs).toBeGreaterThanOrEqual(0);
    expect(status.query.groups[0].targets[0].transport).toEqual({ configured: 'json', in_use: null });
  });

  it('/metrics has build info with the revision, process and Node.js metrics, timestamps instead of ages', async () => {
    const text = await get('/metrics');
    expect(text).toMatch(/^promfront_build_info\{version="\d+\.\d+\.\d+",revision="[^"]+",nodejs="v\d+\.\d+\.\d+"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+$/m);
    expect(text).toMatch(/^promfront_query_thread_heap_used_bytes \d+$/m);
    const ts = /^promfront_source_last_success_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(text);
    expect(Math.abs(Number(ts![1]) - Date.now() / 1000)).toBeLessThan(60);
    expect(text).not.toMatch(/_age_seconds|\+Inf$/m);
  });

  it('every metric of the dashboard and the alerting rules is in a live /metrics', async () => {
    const text = await get('/metrics');
    const live = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const missing = [...dashboardExprs(), ...alertExprs()].flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !isExported(n, live))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it('promtool accepts the alerting rules and the compose fleet configs; check-config accepts its promfront config', () => {
    const promtool = findPromtool();
    const rules = spawnSync(promtool, ['check', 'rules', deploy('promfront-alerts.yml')], { encoding: 'utf8' });
    expect(rules.stdout + rules.stderr).toMatch(/SUCCESS: 10 rules found/);
    expect(rules.status).toBe(0);
    for (const k of [0, 1, 2]) {
      const r = spawnSync(promtool, ['check', 'config', deploy(`compose/prometheus-shard-${k}.yml`)], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
    const check = runCli(['check-config', `--config=${deploy('compose/promfront.yml')}`]);
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(/valid \(3 shards, 1 sources\)/);
  });
});
