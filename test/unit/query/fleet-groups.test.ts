// Server groups that follow a fleet: the groups a /sd/fleet/members answer names, a template group
// expanded into one server group per fleet group (targets through http_sd_configs on ?group=G), and
// the watcher asking for a rebuild only when the set of groups changes, keeping the last groups when
// the fleet does not answer.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { configToYaml } from '../../../src/server/config-yaml.js';
import { HttpDiscovery } from '../../../src/query/discovery/http-sd.js';
import { expandFleetGroups, fleetGroupNames, FleetGroupWatcher } from '../../../src/query/discovery/fleet-groups.js';

const member = (g: string, ...targets: string[]) => ({ targets, labels: { __meta_promfront_group: g } });

describe('fleet groups', () => {
  it('reads the group names of a members answer and refuses one without the group label', () => {
    expect(fleetGroupNames(JSON.stringify([member('b', '1.1.1.1:9090'), member('a', '1.1.1.2:9090'), member('b', '1.1.1.3:9090')]))).toEqual(['a', 'b']);
    expect(fleetGroupNames('[]')).toEqual([]);
    expect(() => fleetGroupNames(JSON.stringify([{ targets: ['x:1'], labels: {} }]))).toThrow(/target group 0: no __meta_promfront_group label/);
    expect(() => fleetGroupNames('{}')).toThrow(/not a list/);
  });

  it('expands a template group into one group per fleet group, keeping its settings and the other groups', () => {
    const q = parseConfigText(`
query:
  server_groups:
    - name: static
      static_configs: [{targets: ["10.0.0.1:9090"]}]
    - anti_affinity: 3s
      labels: {dc: eu}
      fleet_sd_configs: [{url: "http://127.0.0.1:9099/sd/fleet/members", refresh_interval: 2s}]
    - name: other
      fleet_sd_configs: [{url: "http://127.0.0.1:9098/sd/fleet/members?x=1"}]
`).query!;
    const { query, skipped } = expandFleetGroups(
      q,
      new Map([
        ['http://127.0.0.1:9099/sd/fleet/members', ['g1', 'static']],
        ['http://127.0.0.1:9098/sd/fleet/members?x=1', []],
      ]),
    );
    expect(skipped).toEqual(['static']);
    expect(query.server_groups.map((g) => g.name)).toEqual(['static', 'g1', 'other']);
    const g1 = query.server_groups[1];
    expect(g1.anti_affinity).toBe(3000);
    expect(g1.labels).toEqual({ dc: 'eu' });
    expect(g1.fleet_sd_configs).toEqual([]);
    expect(g1.http_sd_configs).toEqual([{ url: 'http://127.0.0.1:9099/sd/fleet/members?group=g1', refresh_interval: 2000 }]);
    // No group in that fleet yet: one group without targets stays, so the layer still plans it.
    expect(query.server_groups[2]).toMatchObject({ name: 'other', fleet_sd_configs: [], http_sd_configs: [] });
    // Names prefixed by a named template.
    const named = expandFleetGroups(q, new Map([['http://127.0.0.1:9098/sd/fleet/members?x=1', ['a', 'b']]])).query;
    expect(named.server_groups.map((g) => g.name)).toEqual(['static', undefined, 'other-a', 'other-b']);
    expect(named.server_groups[2].http_sd_configs[0].url).toBe('http://127.0.0.1:9098/sd/fleet/members?x=1&group=a');
  });

  it('hides the secrets of http_sd_configs and fleet_sd_configs in the config shown by status/config', () => {
    const config = parseConfigText(`
query:
  server_groups:
    - http_sd_configs: [{url: "https://sd.example:8443/sd", basic_auth: {username: u, password: hunter2-http}}]
      fleet_sd_configs: [{url: "https://user:pw-in-url@sd.example/sd/fleet/members", authorization: {credentials: tok-fleet}}]
`);
    const yaml = configToYaml(config);
    for (const secret of ['hunter2-http', 'tok-fleet', 'pw-in-url']) expect(yaml).not.toContain(secret);
    expect(yaml).toContain('<secret>');
    expect(yaml).toContain('username: u');
  });

  it('never shows a password written in an SD URL in failures or status', async () => {
    const url = 'http://u:pw-in-url-9@127.0.0.1:1/sd/fleet/members';
    const d = new HttpDiscovery({ name: 'http_sd_configs[0]', url, refreshIntervalMs: 60_000 });
    await d.start(() => {});
    d.stop();
    expect(d.errors).toBe(1);
    expect(JSON.stringify([...d.failures()])).not.toContain('pw-in-url-9');
    const w = new FleetGroupWatcher(() => {});
    await w.configure(parseConfigText(`query:\n  server_groups:\n    - fleet_sd_configs: [{url: "${url}"}]\n`).query);
    expect(w.errors).toBe(1);
    expect(w.status()[0].url).toBe('http://u:%3Csecret%3E@127.0.0.1:1/sd/fleet/members');
    expect(JSON.stringify(w.status())).not.toContain('pw-in-url-9');
    w.stop();
  });

  describe('watcher', () => {
    let server: Server | undefined;
    let watcher: FleetGroupWatcher | undefined;
    afterEach(async () => {
      watcher?.stop();
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
    });

    it('asks for a rebuild only when the groups change, and keeps the last groups while the fleet fails', async () => {
      let answer: { status: number; body: unknown } = { status: 200, body: [member('a', 'x:1')] };
      let hits = 0;
      server = createServer((_req, res) => {
        hits++;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sd/fleet/members`;
      const q = parseConfigText(`query:\n  server_groups:\n    - fleet_sd_configs: [{url: "${url}", refresh_interval: 50ms}]\n`).query!;
      let rebuilds = 0;
      watcher = new FleetGroupWatcher(() => rebuilds++);
      await watcher.configure(q);
      expect(watcher.found().get(url)).toEqual(['a']);
      // Two more polls answered with the current answer (timers, not sleeps: the machine may be slow).
      const settle = async (): Promise<void> => {
        const from = hits;
        while (hits < from + 3) await new Promise((r) => setTimeout(r, 20));
      };
      await settle();
      expect(rebuilds).toBe(0);
      answer = { status: 200, body: [member('a', 'x:1', 'x:2')] };
      await settle();
      expect(rebuilds).toBe(0);
      answer = { status: 200, body: [member('a', 'x:1'), member('b', 'x:3')] };
      await settle();
      expect(rebuilds).toBe(1);
      expect(watcher.found().get(url)).toEqual(['a', 'b']);
      answer = { status: 503, body: { status: 'error' } };
      await settle();
      expect(rebuilds).toBe(1);
      expect(watcher.found().get(url)).toEqual(['a', 'b']);
      expect(watcher.errors).toBeGreaterThan(0);
      expect(watcher.status()[0].last_error).toMatch(/HTTP status 503/);
      expect(watcher.metrics()).toMatch(/promfront_fleet_sd_failures_total [1-9]/);
      answer = { status: 200, body: [member('b', 'x:3')] };
      await settle();
      expect(rebuilds).toBe(2);
      expect(watcher.status()[0]).toEqual({ url, groups: ['b'], last_error: null });
    });
  });
});
