// The HA fixture the exact-* e2e files share: a reference Prometheus 2.42 holding the complete data,
// two replicas holding their own copies (gaps, skew or lag as the test makes them), and ./proxy
// with the default config and one server group of the two replicas. A test asks the reference and
// the proxy the same and compares.
import { startBackfilledPrometheus, type BackfillDataSet } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { askApi, type Body } from './api-answer.js';
import { startProxy, type ProxyProcess } from './proxy.js';

export interface HaFixture {
  reference: PrometheusProcess;
  replicas: [PrometheusProcess, PrometheusProcess];
  proxy: ProxyProcess;
  /** Stops the proxy and every Prometheus (also after a partial start). */
  stop(): Promise<void>;
}

/** The reference and both replicas from their data, and the proxy over the replicas (group "ha", semantics prometheus-2). */
export async function startHaFixture(reference: BackfillDataSet, replicaA: BackfillDataSet, replicaB: BackfillDataSet): Promise<HaFixture> {
  const started = await Promise.allSettled([reference, replicaA, replicaB].map(startBackfilledPrometheus));
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(servers.map((p) => p.stop()));
    throw failed.reason;
  }
  const [ref, a, b] = servers;
  let proxy: ProxyProcess;
  try {
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - name: ha
      static_configs: [{targets: ["127.0.0.1:${a.port}", "127.0.0.1:${b.port}"]}]
`,
    );
  } catch (err) {
    await Promise.all(servers.map((p) => p.stop()));
    throw err;
  }
  return {
    reference: ref,
    replicas: [a, b],
    proxy,
    stop: async () => {
      await proxy.stop();
      await Promise.all(servers.map((p) => p.stop()));
    },
  };
}

/** An API answer's body, its JSON checked strictly (30 s bound). */
export async function askBody(base: string, path: string, params: Record<string, string>): Promise<Body> {
  return (await askApi(base, path, params, { timeoutMs: 30_000, strictJson: true })).body;
}
