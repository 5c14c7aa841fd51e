// Keys to members and targets: valid ones kept, every bad one listed with its reason, never thrown;
// and the member's Prometheus job printed by `scrape-config --fleet`.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../../src/config/load.js';
import type { KeyValue } from '../../../src/fleet/etcd-client.js';
import { federateTargets, parseMembers, parseTargets, type Invalid } from '../../../src/fleet/view.js';
import { renderFleetScrapeConfig } from '../../../src/server/scrape-config.js';

let rev = 0;
const kv = (key: string, value = ''): KeyValue => ({ key, value, createRevision: ++rev, modRevision: rev, lease: '0' });

describe('fleet keys', () => {
  it('keeps valid members grouped and refuses garbage, bad addresses, bad values and a second claim of an address', () => {
    const invalid: Invalid[] = [];
    const groups = parseMembers(
      '/pf',
      [
        kv('/pf/members/g1/10.0.0.2:9090', '{"id":"a"}'),
        kv('/pf/members/g1/10.0.0.1:9090', '{"id":"b"}'),
        kv('/pf/members/g2/10.0.0.3:9090', '{"id":"c"}'),
        kv('/pf/members/g3/10.0.0.1:9090', '{"id":"d"}'),
        kv('/pf/other', 'x'),
        kv('/pf/members/g4/10.0.0.9:99999', '{"id":"e"}'),
        kv('/pf/members/g5/nohost', '{"id":"e"}'),
        kv('/pf/members/g6/10.0.0.6:9090', 'not json'),
        kv('/pf/members/g 7/10.0.0.7:9090', '{}'),
      ],
      invalid,
    );
    expect([...groups.keys()]).toEqual(['g1', 'g2']);
    expect(groups.get('g1')!.map((m) => m.address)).toEqual(['10.0.0.1:9090', '10.0.0.2:9090']);
    expect(invalid.map((i) => `${i.reason} ${i.key}`).sort()).toEqual([
      'address /pf/members/g4/10.0.0.9:99999',
      'address /pf/members/g5/nohost',
      'duplicate /pf/members/g3/10.0.0.1:9090',
      'key /pf/members/g 7/10.0.0.7:9090',
      'key /pf/other',
      'value /pf/members/g6/10.0.0.6:9090',
    ]);
  });

  it('reads registry targets with service, address, optional path and labels', () => {
    const invalid: Invalid[] = [];
    const ts = parseTargets(
      '/reg',
      [
        kv('/reg/node/10.0.0.1:9100', '10.0.0.1:9100'),
        kv('/reg/ceph/10.0.0.2:9283/metrics/shard/3', '{"labels": {"rack": "r1"}}'),
        kv('/reg/node'),
        kv('/reg/node/x'),
        kv('/reg/node/10.0.0.3:9100', '{"labels": {"__x": "1"}}'),
      ],
      invalid,
    );
    expect(ts).toEqual([
      { key: 'node/10.0.0.1:9100', service: 'node', address: '10.0.0.1:9100', metricsPath: undefined, labels: {}, source: 'etcd' },
      {
        key: 'ceph/10.0.0.2:9283/metrics/shard/3',
        service: 'ceph',
        address: '10.0.0.2:9283',
        metricsPath: '/metrics/shard/3',
        labels: { rack: 'r1' },
        source: 'etcd',
      },
    ]);
    expect(invalid.map((i) => i.reason).sort()).toEqual(['address', 'key', 'value']);
  });

  it('prints the member job for scrape-config --fleet', () => {
    const config = parseConfigText(`
listen: 0.0.0.0:9099
fleet:
  etcd: {endpoints: ["http://127.0.0.1:2379"]}
  register: {address: 127.0.0.1:9090, group: shard-2}
`);
    const doc = parse(renderFleetScrapeConfig(config)) as { scrape_configs: Record<string, unknown>[] };
    expect(doc.scrape_configs[0]).toEqual({
      job_name: 'fleet',
      honor_labels: true,
      http_sd_configs: [{ url: 'http://127.0.0.1:9099/sd/fleet?group=shard-2', refresh_interval: '5s' }],
    });
  });

  it('refuses a fleet config with a bad group, a non-URL endpoint or a lease under 2 s, naming the field', () => {
    expect(() =>
      parseConfigText(`
fleet:
  etcd: {endpoints: ["127.0.0.1:2379"], lease_ttl: 1s}
  register: {address: 127.0.0.1:9090, group: "a/b"}
`),
    ).toThrow(/fleet\.etcd\.endpoints\.0: must be an http[\s\S]*fleet\.etcd\.lease_ttl: must be whole seconds[\s\S]*fleet\.register\.group: must be letters/);
  });

  it('levels: the members of a lower fleet become federate targets with /federate as path, its group in a meta label', () => {
    const invalid: Invalid[] = [];
    const lower = parseMembers('/l1', [kv('/l1/members/a/10.0.1.1:9090', '{"id":"x"}'), kv('/l1/members/b/10.0.1.2:9090', '{"id":"y"}')], invalid);
    expect(invalid).toEqual([]);
    expect(federateTargets('/l1', 'level1', lower)).toEqual([
      {
        key: 'level1@federate/10.0.1.1:9090',
        service: 'level1',
        address: '10.0.1.1:9090',
        metricsPath: '/federate',
        labels: { __meta_promfront_fleet: '/l1', __meta_promfront_member_group: 'a' },
        source: 'federate',
        job: 'level1',
      },
      {
        key: 'level1@federate/10.0.1.2:9090',
        service: 'level1',
        address: '10.0.1.2:9090',
        metricsPath: '/federate',
        labels: { __meta_promfront_fleet: '/l1', __meta_promfront_member_group: 'b' },
        source: 'federate',
        job: 'level1',
      },
    ]);
  });

  it('levels: scrape-config --fleet prints one federate job per lower fleet with match[] and honor_labels', () => {
    const config = parseConfigText(`
listen: 127.0.0.1:9099
fleet:
  etcd: {endpoints: ["http://127.0.0.1:2379"], prefix: /level2}
  register: {address: 127.0.0.1:9090, group: g1}
  targets:
    federate:
      - fleet_prefix: /level1
        match: ['{__name__=~"level1:.*"}']
      - {fleet_prefix: /dc/edge, job_name: edge-agg, match: ['{job="x"}', 'up']}
`);
    const doc = parse(renderFleetScrapeConfig(config)) as { scrape_configs: Record<string, unknown>[] };
    expect(doc.scrape_configs.slice(1)).toEqual([
      {
        job_name: 'level1',
        honor_labels: true,
        metrics_path: '/federate',
        params: { 'match[]': ['{__name__=~"level1:.*"}'] },
        http_sd_configs: [{ url: 'http://127.0.0.1:9099/sd/fleet?group=g1&federate=level1', refresh_interval: '5s' }],
      },
      {
        job_name: 'edge-agg',
        honor_labels: true,
        metrics_path: '/federate',
        params: { 'match[]': ['{job="x"}', 'up'] },
        http_sd_configs: [{ url: 'http://127.0.0.1:9099/sd/fleet?group=g1&federate=edge-agg', refresh_interval: '5s' }],
      },
    ]);
  });

  it('levels: refuses a federate entry naming this fleet, a job named twice or "fleet", and one without match[]', () => {
    expect(() =>
      parseConfigText(`
fleet:
  etcd: {endpoints: ["http://127.0.0.1:2379"], prefix: /l2}
  targets:
    federate:
      - {fleet_prefix: /l2, job_name: a, match: [up]}
      - {fleet_prefix: /x/a, match: [up]}
      - {fleet_prefix: /fleet, match: [up]}
      - {fleet_prefix: /y, match: []}
`),
    ).toThrow(
      /fleet\.targets\.federate\.3\.match: at least one match[\s\S]*fleet\.targets\.federate\.0\.fleet_prefix: is this fleet itself[\s\S]*fleet\.targets\.federate\.1\.job_name: "a" is used twice[\s\S]*fleet\.targets\.federate\.2\.job_name: "fleet" is the name/,
    );
  });
});
