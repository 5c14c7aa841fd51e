// Fleet levels end to end: a level-1 fleet of real Prometheus 2.42 members (each scraping a small
// exporter and recording level1:* series) registered under /level1, and a level-2 fleet of real
// Prometheus members under /level2 whose jobs come from `./proxy scrape-config --fleet`: each
// level-1 member is federated (match[], honor_labels) by exactly one level-2 group, the level-2
// data equals the level-1 data with its labels kept, and when a level-2 group leaves, its level-1
// member is federated by the remaining group.
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Fleet } from '../../src/fleet/fleet.js';
import { FleetTestbed } from '../support/fleet-testbed.js';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { runCli, startProxy, writeTemp, type ProxyProcess } from '../support/proxy.js';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster | undefined;
let proxy: ProxyProcess | undefined;
const bed = new FleetTestbed();
const proms = bed.proms;

afterAll(() => bed.stop(proxy, etcd));

const exporter = (value: number): Promise<string> =>
  bed.exporter(`# TYPE demo_requests_total counter\ndemo_requests_total{path="/a"} ${value}\ndemo_requests_total{path="/b"} ${value * 10}\n`);

const register = (endpoint: string, prefix: string, group: string, address: string): Fleet => bed.register(endpoint, group, address, prefix);

type Sample = { metric: Record<string, string>; value: [number, string] };
const byL1 = (rs: Sample[]): Record<string, string> => Object.fromEntries(rs.map((r) => [r.metric.l1, r.value[1]]));

describe('fleet levels', () => {
  it("a level-2 fleet federates the level-1 members, each by one level-2 group, and takes over a leaving group's members", async () => {
    etcd = await startEtcdCluster(1);
    const ep = etcd.endpoints[0];
    const rules = writeTemp(
      'level1.rules.yml',
      'groups:\n  - name: level1\n    rules:\n      - record: level1:demo_requests:sum\n        expr: sum without (path) (demo_requests_total)\n',
    );
    const level1 = await Promise.all(
      (['a', 'b'] as const).map(async (g, i) =>
        startPrometheus({
          configYaml: `
global: {scrape_interval: 1s, evaluation_interval: 1s, external_labels: {l1: ${g}}}
rule_files: ["${rules}"]
scrape_configs:
  - job_name: exp
    static_configs: [{targets: ["${await exporter(i + 1)}"]}]
`,
        }),
      ),
    );
    proms.push(...level1);
    await Promise.all(level1.map((p, i) => register(ep, '/level1', ['a', 'b'][i], `127.0.0.1:${p.port}`).start()));

    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
fleet:
  etcd: {endpoints: ["${ep}"], prefix: /level2, lease_ttl: 3s}
  handover_overlap: 2s
  targets:
    federate:
      - fleet_prefix: /level1
        match: ['{__name__=~"level1:.*"}']
`,
    );
    // Each level-2 member's jobs, as the operator gets them: scrape-config --fleet of its config.
    const jobsFor = (group: string): string => {
      const file = writeTemp(
        'l2.yaml',
        `listen: ${proxy!.url.slice('http://'.length)}\nfleet:\n  etcd: {endpoints: ["${ep}"], prefix: /level2}\n  register: {address: 127.0.0.1:9090, group: ${group}}\n  targets:\n    federate: [{fleet_prefix: /level1, match: ['{__name__=~"level1:.*"}']}]\n`,
      );
      const r = runCli(['scrape-config', '--fleet', `--config=${file}`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const jobs = (parse(r.stdout) as { scrape_configs: { job_name: string; params?: unknown }[] }).scrape_configs;
      expect(jobs.map((j) => j.job_name)).toEqual(['fleet', 'level1']);
      expect(jobs[1].params).toEqual({ 'match[]': ['{__name__=~"level1:.*"}'] });
      return r.stdout;
    };
    const level2 = await Promise.all(
      ['x', 'y'].map((g) => startPrometheus({ configYaml: `global: {scrape_interval: 1s, evaluation_interval: 1s}\n${jobsFor(g)}` })),
    );
    proms.push(...level2);
    const [fx, fy] = level2.map((p, i) => register(ep, '/level2', ['x', 'y'][i], `127.0.0.1:${p.port}`));
    await Promise.all([fx.start(), fy.start()]);

    // Two level-1 members over two level-2 groups: one each (the bounded assignment), served only
    // to the federate job, never as a plain target.
    // A group's own share (not what it still keeps for the hand-over overlap after y joined).
    const sd = async (group: string, q = ''): Promise<{ targets: string[]; labels: Record<string, string> }[]> => {
      const r = await fetch(`${proxy!.url}/sd/fleet?group=${group}${q}`);
      if (r.status !== 200) return [];
      const list = (await r.json()) as { targets: string[]; labels: Record<string, string> }[];
      return list.filter((t) => t.labels.__meta_promfront_handover === 'false');
    };
    await waitFor(
      async () => (await sd('x', '&federate=level1')).length + (await sd('y', '&federate=level1')).length === 2,
      15_000,
      'level-1 members assigned',
    );
    const [onX, onY] = [await sd('x', '&federate=level1'), await sd('y', '&federate=level1')];
    expect(onX.length).toBe(1);
    expect(onY.length).toBe(1);
    expect([...onX, ...onY].map((t) => t.targets[0]).sort()).toEqual(level1.map((p) => `127.0.0.1:${p.port}`).sort());
    expect(onX[0].labels).toMatchObject({ __metrics_path__: '/federate', __meta_promfront_fleet: '/level1', __meta_promfront_source: 'federate' });
    expect(await sd('x')).toEqual([]);
    expect((await fetch(`${proxy.url}/sd/fleet?group=x&federate=nope`)).status).toBe(400);
    const l1GroupOf = (t: { labels: Record<string, string> }): string => t.labels.__meta_promfront_member_group;

    // Level 2 holds the level-1 recorded series, labels kept (job and external label of level 1),
    // and only what match[] selected.
    const expected = { a: String(1 + 10), b: String(2 + 20) };
    const l2 = async (p: PrometheusProcess): Promise<Sample[]> => (await p.query('level1:demo_requests:sum')) as Sample[];
    await waitFor(
      async () => Object.keys(byL1(await l2(level2[0]))).length === 1 && Object.keys(byL1(await l2(level2[1]))).length === 1,
      30_000,
      'level-2 members federating',
    );
    const [x, y] = [await l2(level2[0]), await l2(level2[1])];
    expect(byL1(x)).toEqual({ [l1GroupOf(onX[0])]: expected[l1GroupOf(onX[0]) as 'a' | 'b'] });
    expect(byL1(y)).toEqual({ [l1GroupOf(onY[0])]: expected[l1GroupOf(onY[0]) as 'a' | 'b'] });
    for (const s of [...x, ...y]) expect(s.metric).toEqual({ __name__: 'level1:demo_requests:sum', job: 'exp', instance: s.metric.instance, l1: s.metric.l1 });
    for (const p of level2) expect(await p.query('demo_requests_total')).toEqual([]);
    // The level-2 series equal the level-1 ones at the same moment.
    for (const [i, p] of level1.entries()) {
      const own = (await p.query('level1:demo_requests:sum')) as Sample[];
      expect(own.map((s) => s.value[1])).toEqual([expected[i === 0 ? 'a' : 'b']]);
    }

    // Group y leaves (clean stop: its member key goes at once): x federates both level-1 members.
    await fy.stop();
    await waitFor(async () => (await sd('x', '&federate=level1')).length === 2, 10_000, 'x owning both');
    await waitFor(async () => Object.keys(byL1(await l2(level2[0]))).length === 2, 20_000, 'x federating both level-1 members');
    expect(byL1(await l2(level2[0]))).toEqual(expected);
  }, 180_000); // four Prometheus servers, started on a machine that may be loaded
});
