// The query layer follows the fleet's groups without naming them: one server group with
// fleet_sd_configs (the fleet's /sd/fleet/members) becomes a server group per fleet group. With real
// etcd and real Prometheus members: a group registering later is queried without any reload, and a
// group leaving is dropped.
import { afterAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../../src/fleet/fleet.js';
import { FleetTestbed } from '../support/fleet-testbed.js';
import { startPrometheus, waitFor } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster | undefined;
let proxy: ProxyProcess | undefined;
const bed = new FleetTestbed();
const proms = bed.proms;

afterAll(() => bed.stop(proxy, etcd));

const exporter = (name: string): Promise<string> => bed.exporter(`# TYPE demo_value gauge\ndemo_value{exp="${name}"} 1\n`);

const register = (endpoint: string, group: string, address: string): Fleet => bed.register(endpoint, group, address);

describe('query server groups from the fleet (fleet_sd_configs)', () => {
  it('queries a group that registers after start without a reload, and drops a group that leaves', async () => {
    etcd = await startEtcdCluster(1);
    const ep = etcd.endpoints[0];
    const [promA, promB] = await Promise.all(
      ['a', 'b'].map(async (g) =>
        startPrometheus({
          configYaml: `
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ["${await exporter(g)}"]}]
`,
        }),
      ),
    );
    proms.push(promA, promB);
    await register(ep, 'a', `127.0.0.1:${promA.port}`).start();
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
fleet:
  etcd: {endpoints: ["${ep}"], lease_ttl: 3s}
query:
  server_groups:
    - anti_affinity: 1500ms
      remote_read: false
      fleet_sd_configs: [{url: "http://${listen}/sd/fleet/members", refresh_interval: 1s}]
`,
    );
    const exps = async (): Promise<string[]> => {
      const r = await fetch(`${proxy!.url}/api/v1/query?query=demo_value`);
      const body = (await r.json()) as { status: string; data?: { result: { metric: Record<string, string> }[] } };
      return body.status === 'success' ? body.data!.result.map((s) => s.metric.exp).sort() : [];
    };
    const groups = async (): Promise<string[]> => {
      const st = (await (await fetch(`${proxy!.url}/status`)).json()) as { query?: { groups: { name: string }[] } };
      return (st.query?.groups ?? []).map((g) => g.name).sort();
    };
    await waitFor(async () => (await exps()).join() === 'a', 20_000, 'group a queried');
    expect(await groups()).toEqual(['a']);

    const reloadedAt = async (): Promise<string | undefined> =>
      /^promfront_config_last_reload_success_timestamp_seconds (\S+)$/m.exec(await (await fetch(`${proxy!.url}/metrics`)).text())?.[1];
    const loadedAt = await reloadedAt();
    expect(loadedAt).toBeDefined();

    // Group b registers: a server group of its own appears and is queried, no reload asked.
    await register(ep, 'b', `127.0.0.1:${promB.port}`).start();
    await waitFor(async () => (await exps()).join() === 'a,b', 20_000, 'group b queried');
    expect(await groups()).toEqual(['a', 'b']);
    const st = (await (await fetch(`${proxy.url}/status`)).json()) as { query: { fleet_sd: { groups: string[]; last_error: string | null }[] } };
    expect(st.query.fleet_sd).toEqual([{ url: expect.stringMatching(/\/sd\/fleet\/members$/) as string, groups: ['a', 'b'], last_error: null }]);
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toMatch(/^promfront_fleet_sd_group_changes_total [1-9]/m);
    expect(await reloadedAt()).toBe(loadedAt);

    // Group b leaves (clean stop): its server group goes.
    await bed.fleets[1].stop();
    await waitFor(async () => (await groups()).join() === 'a', 20_000, 'group b dropped');
    expect(await exps()).toEqual(['a']);
  }, 120_000);
});
