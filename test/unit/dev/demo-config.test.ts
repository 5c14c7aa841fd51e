// The files `npm run demo` generates are accepted by promfront's own config and rule-file parsers,
// with every peer installed and with only Prometheus (or nothing but the exporter), and each
// installed peer turns into its section.

import { describe, expect, it } from 'vitest';
import { centralConfig, DEMO, DEMO_RULES, edgeConfig, type CentralConfigInput } from '../../../dev/demo-config.js';
import { parseConfigText } from '../../../src/config/load.js';
import { parseRuleFile } from '../../../src/rules/rulefile.js';

const core: CentralConfigInput = { listen: '127.0.0.1:9099', shards: 3, scrapeIntervalS: 5, exporterUrl: 'http://127.0.0.1:9100/metrics' };
const servers = [
  ['127.0.0.1:9090', '127.0.0.1:9091'],
  ['127.0.0.1:9092', '127.0.0.1:9093'],
  ['127.0.0.1:9094', '127.0.0.1:9095'],
];
const everything: CentralConfigInput = {
  ...core,
  natsUrl: 'nats://127.0.0.1:4222',
  pushgateways: ['127.0.0.1:9191', '127.0.0.1:9192', '127.0.0.1:9193'],
  etcdEndpoint: 'http://127.0.0.1:2379',
  fleetMember: servers[0][0],
  servers,
  rules: { file: 'rules.yml', remoteWrite: servers[0].map((s) => `http://${s}/api/v1/write`), alertmanagers: ['127.0.0.1:9093'] },
};

describe('the demo config', () => {
  it('with every peer: one section per capability, each as promfront parses it', () => {
    const c = parseConfigText(centralConfig(everything));
    expect(c.shard?.num_shards).toBe(3);
    expect(c.shard?.sources).toHaveLength(2);
    expect(c.query?.server_groups.map((g) => g.name)).toEqual(['shard-0', 'shard-1', 'shard-2']);
    expect(c.push).toBeDefined();
    expect(c.fleet?.register?.address).toBe('127.0.0.1:9090');
    expect(c.fleet?.register?.group).toBe(DEMO.fleetGroup);
    expect(c.rule_files).toEqual(['rules.yml']);
    expect(c.remote_write?.map((r) => r.url.toString())).toEqual(['http://127.0.0.1:9090/api/v1/write', 'http://127.0.0.1:9091/api/v1/write']);
    expect(c.alerting?.alertmanagers).toHaveLength(1);
  });

  it('with only Prometheus: the core and the rules, no section for a missing peer', () => {
    const text = centralConfig({ ...core, servers, rules: everything.rules && { ...everything.rules, alertmanagers: [] } });
    const c = parseConfigText(text);
    expect(c.shard?.sources).toHaveLength(1);
    expect(c.query?.server_groups).toHaveLength(3);
    expect(c.push).toBeUndefined();
    expect(c.fleet).toBeUndefined();
    expect(c.alerting).toBeUndefined();
    expect(text).not.toMatch(/nats|push:|fleet:|alerting:/);
  });

  it('without Prometheus: no query layer and no rules, which would have nothing to ask', () => {
    const c = parseConfigText(centralConfig({ ...core, rules: everything.rules }));
    expect(c.query).toBeUndefined();
    expect(c.rule_files ?? []).toEqual([]);
    expect(c.shard?.num_shards).toBe(3);
  });

  it('the edge config publishes its targets to the stream the centre subscribes to', () => {
    const edge = parseConfigText(edgeConfig('127.0.0.1:9200', 'nats://127.0.0.1:4222', ['127.0.0.1:9100'], 5));
    expect(edge.publish?.nats.stream).toBe(DEMO.stream);
    expect(edge.shard).toBeUndefined();
    const centre = centralConfig(everything);
    expect(centre).toContain(`subjects: ["${DEMO.subjectPrefix}.>"]`);
  });

  it('the rule file parses as promtool would check it: one recording rule, one alert', () => {
    const groups = parseRuleFile(DEMO_RULES, 'rules.yml');
    expect(groups).toHaveLength(1);
    const rules = groups[0].rules;
    expect(rules.map((r) => `${r.kind} ${r.name}`)).toEqual([`record ${DEMO.record}`, `alert ${DEMO.alert}`]);
  });
});
