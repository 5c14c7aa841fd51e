// The fleet live end to end: real Prometheus 2.42 members reading their share through /sd/fleet,
// small exporters registered in a real etcd, a second group joining so targets move between
// Prometheus servers, and a query through the query layer (whose server groups are the fleet's
// groups, found through http_sd_configs on /sd/fleet/members) across the move: one continuous
// series, no doubled samples, and the hand-over overlap visible in the two Prometheus servers' data.
import { afterAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../../src/fleet/fleet.js';
import { FleetTestbed } from '../support/fleet-testbed.js';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { etcdPut, startEtcdCluster, type EtcdCluster } from '../support/etcd.js';

const INTERVAL_S = 2;
const OVERLAP_S = 6;

let etcd: EtcdCluster | undefined;
let proxy: ProxyProcess | undefined;
const bed = new FleetTestbed();
const proms = bed.proms;

afterAll(() => bed.stop(proxy, etcd));

const exporter = (i: number): Promise<string> => bed.exporter(`# TYPE demo_value gauge\ndemo_value ${i}\n`);

const register = (endpoint: string, group: string, address: string): Fleet => bed.register(endpoint, group, address);

const sdUrl = (group: string, path = '/sd/fleet'): string => `${proxy!.url}${path}?group=${group}`;
async function sdInstances(group: string): Promise<{ own: string[]; handover: string[] }> {
  const list = (await (await fetch(sdUrl(group))).json()) as { targets: string[]; labels: Record<string, string> }[];
  return {
    own: list.filter((x) => x.labels.__meta_promfront_handover === 'false').map((x) => x.targets[0]),
    handover: list.filter((x) => x.labels.__meta_promfront_handover === 'true').map((x) => x.targets[0]),
  };
}

/** Raw sample timestamps (seconds) of demo_value for `instance` over the last `rangeS`, as `base` answers. */
async function rawTimes(base: string, instance: string, rangeS: number): Promise<number[]> {
  const q = `demo_value{instance="${instance}"}[${rangeS}s]`;
  const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: q, time: String(Date.now() / 1000) })}`);
  const body = (await r.json()) as { status: string; data: { result: { values: [number, string][] }[] } };
  expect(body.status).toBe('success');
  expect(body.data.result.length).toBeLessThanOrEqual(1);
  return body.data.result[0]?.values.map(([t]) => t) ?? [];
}

describe('fleet live with Prometheus members and the query layer', () => {
  it('moves targets to a joining group with an overlap, and a query across the move is continuous without doubled samples', async () => {
    etcd = await startEtcdCluster(1);
    const ep = etcd.endpoints[0];
    const targets = await Promise.all([0, 1, 2, 3, 4, 5].map(exporter));
    for (const t of targets) await etcdPut(ep, `/registry/demo/${t}`);
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
fleet:
  etcd: {endpoints: ["${ep}"], lease_ttl: 3s}
  targets: {etcd_prefix: /registry}
  handover_overlap: ${OVERLAP_S}s
query:
  server_groups:
${['a', 'b']
  .map(
    (g) => `    - name: ${g}
      anti_affinity: 1500ms
      http_sd_configs: [{url: "http://${listen}/sd/fleet/members?group=${g}", refresh_interval: 1s}]`,
  )
  .join('\n')}
`,
    );
    const promFor = (g: string): Promise<PrometheusProcess> =>
      startPrometheus({
        configYaml: `
global: {scrape_interval: ${INTERVAL_S}s, evaluation_interval: ${INTERVAL_S}s}
scrape_configs:
  - job_name: fleet
    honor_labels: true
    http_sd_configs: [{url: "${sdUrl(g)}", refresh_interval: 1s}]
`,
      });
    const [promA, promB] = await Promise.all([promFor('a'), promFor('b')]);
    proms.push(promA, promB);

    // Only group a: it gets every target.
    await register(ep, 'a', `127.0.0.1:${promA.port}`).start();
    await waitFor(async () => (await promA.query('count(up == 1)'))[0]?.value[1] === String(targets.length), 20_000, 'a scraping all targets');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_S * 1000));

    // Group b joins: about half the targets move to it; a keeps them for the overlap.
    const joinedAt = Date.now() / 1000;
    await register(ep, 'b', `127.0.0.1:${promB.port}`).start();
    let moved: string[] = [];
    await waitFor(
      async () => {
        const b = await sdInstances('b');
        moved = b.own;
        return moved.length > 0;
      },
      10_000,
      'targets assigned to b',
    );
    expect(moved.length).toBeGreaterThanOrEqual(1);
    expect(moved.length).toBeLessThan(targets.length);
    const a = await sdInstances('a');
    expect(a.handover.sort()).toEqual([...moved].sort());
    expect(a.own.length + moved.length).toBe(targets.length);
    // The query layer finds b's member through /sd/fleet/members.
    expect(await (await fetch(sdUrl('b', '/sd/fleet/members'))).json()).toEqual([
      { targets: [`127.0.0.1:${promB.port}`], labels: { __meta_promfront_group: 'b' } },
    ]);

    // After the overlap a's list drops them, and a's Prometheus stops scraping them.
    await waitFor(async () => (await sdInstances('a')).handover.length === 0, (OVERLAP_S + 5) * 1000, 'hand-over over');
    // a's Prometheus drops the moved targets at its next discovery refresh, which a loaded machine
    // can delay by seconds: wait for that, then for B to scrape on alone for a while.
    const scrapedByA = async (): Promise<string[]> => {
      const t = (await (await fetch(`${promA.url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: { instance: string } }[] } };
      return t.data.activeTargets.map((x) => x.labels.instance);
    };
    await waitFor(async () => !(await scrapedByA()).includes(moved[0]), 30_000, "a's Prometheus no longer scraping the moved target");
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_S * 1000));

    const span = Math.ceil(Date.now() / 1000 - joinedAt) + 6 * INTERVAL_S;
    const m = moved[0];
    const inA = await rawTimes(promA.url, m, span);
    const inB = await rawTimes(promB.url, m, span);
    // B started before A stopped: their samples overlap in time.
    expect(inB.length).toBeGreaterThan(0);
    expect(inB[0]).toBeLessThan(inA[inA.length - 1]);
    // A stopped: its last sample is well before now, B's continues.
    expect(inB[inB.length - 1]).toBeGreaterThan(inA[inA.length - 1] + INTERVAL_S);

    // Through the query layer: one series from before the move to now, no gap, no doubled samples.
    const merged = await rawTimes(proxy.url, m, span);
    expect(merged[0]).toBeLessThanOrEqual(inA[0] + 0.001);
    expect(merged[merged.length - 1]).toBeGreaterThanOrEqual(inB[inB.length - 1] - 0.001);
    for (let i = 1; i < merged.length; i++) {
      const d = merged[i] - merged[i - 1];
      expect(d, `samples ${merged[i - 1]} and ${merged[i]}`).toBeGreaterThan(INTERVAL_S / 2);
      expect(d, `gap between ${merged[i - 1]} and ${merged[i]}`).toBeLessThan(INTERVAL_S * 2 + 0.5);
    }
    // Fewer samples than A and B hold together: the overlap was merged, not doubled.
    expect(merged.length).toBeLessThan(inA.length + inB.length);
  });
});
