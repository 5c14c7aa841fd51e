// Staleness through a VictoriaMetrics downstream (`stale_nan: true`). A real Prometheus 2.42
// scrapes a small exporter and remote-writes everything to VictoriaMetrics 1.79; then one series
// disappears from the exporter, so Prometheus writes a staleness marker for it, which
// VictoriaMetrics stores and later returns as a "NaN" sample. Through the proxy, that NaN must end
// the series exactly as the marker ends it in Prometheus itself.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startVictoriaMetrics, type VictoriaMetricsProcess } from '../../dev/victoria-metrics.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

type Vector = { metric: Record<string, string>; value: [number, string] }[];

async function instant(base: string, query: string, timeSec: number): Promise<Vector> {
  const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(timeSec) })}`);
  const body = (await res.json()) as { status: string; data: { result: Vector }; error?: string };
  if (body.status !== 'success') throw new Error(`${base}: ${query}: ${body.error}`);
  return body.data.result.map((s) => ({ metric: s.metric, value: s.value })).sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}

const BOTH = '# TYPE flappy gauge\nflappy{a="1"} 7\n# TYPE steady gauge\nsteady 3\n';
const STEADY_ONLY = '# TYPE steady gauge\nsteady 3\n';

describe('a staleness marker stored by VictoriaMetrics, read with stale_nan', () => {
  let exporter: Upstream;
  let vm: VictoriaMetricsProcess;
  let prom: PrometheusProcess;
  let withFlag: ProxyProcess;
  let without: ProxyProcess;
  /** A time (s) just after the marker, inside the lookback window of flappy's last real sample. */
  let afterMarker = 0;

  beforeAll(async () => {
    exporter = await startUpstream(BOTH);
    vm = await startVictoriaMetrics();
    prom = await startPrometheus({
      configYaml: `
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: ["${new URL(exporter.url).host}"]}]
    metrics_path: ${new URL(exporter.url).pathname}
remote_write:
  - url: ${vm.url}/api/v1/write
    queue_config: {batch_send_deadline: 1s}
`,
    });
    const proxyConfig = (staleNan: boolean) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - name: vm
      static_configs: [{targets: ["${new URL(vm.url).host}"]}]
      stale_nan: ${staleNan}
`;
    [withFlag, without] = await Promise.all([startProxy(proxyConfig(true)), startProxy(proxyConfig(false))]);

    // A few scrapes with both series, then flappy goes away: Prometheus marks it stale.
    await waitFor(
      async () => (await instant(prom.url, 'count_over_time(flappy[1m])', Date.now() / 1000))[0]?.value[1] === '3',
      30_000,
      'three scrapes of flappy',
    );
    exporter.body = STEADY_ONLY;
    // The marker has reached VictoriaMetrics when its raw samples of flappy end in a NaN.
    await waitFor(
      async () => {
        await vm.flush();
        const res = await fetch(`${vm.url}/api/v1/query?${new URLSearchParams({ query: 'flappy[1m]', time: String(Date.now() / 1000) })}`);
        const body = (await res.json()) as { data: { result: { values: [number, string][] }[] } };
        const values = body.data.result[0]?.values ?? [];
        const last = values[values.length - 1];
        if (last?.[1] !== 'NaN') return false;
        afterMarker = last[0] + 0.5;
        return true;
      },
      30_000,
      'the staleness marker stored by VictoriaMetrics',
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all([withFlag?.stop(), without?.stop()]);
    await prom?.stop();
    await vm?.stop();
    await exporter?.close();
  });

  it('Prometheus itself ends the series at the marker', async () => {
    expect(await instant(prom.url, 'flappy', afterMarker)).toEqual([]);
    expect((await instant(prom.url, 'steady', afterMarker)).length).toBe(1);
  });

  it('the proxy with stale_nan answers as Prometheus does', async () => {
    for (const query of ['flappy', 'steady', 'count_over_time(flappy[1m])', 'last_over_time(flappy[1m])', 'max_over_time(flappy[1m])', 'absent(flappy)']) {
      expect(await instant(withFlag.url, query, afterMarker), query).toEqual(await instant(prom.url, query, afterMarker));
    }
  });

  it('without stale_nan the marker shows as a NaN sample (why the option exists)', async () => {
    const got = await instant(without.url, 'flappy', afterMarker);
    expect(got.map((s) => s.value[1])).toEqual(['NaN']);
  });
});
