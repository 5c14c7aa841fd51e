// The config schema and loader: defaults, every problem listed with its path, the sample config valid.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { resolvedTimings } from '../../../src/config/schema.js';
import { SAMPLE_CONFIG } from '../../../src/server/sample-config.js';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';
import { ConfigError } from '../../../src/errors.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('durations', () => {
  it('parses Prometheus durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '5', '1.5s', '30m1h', 's', '1h1h', '-1s']) expect(() => parseDuration(bad)).toThrow();
  });
  it('formats like Prometheus', () => {
    expect(formatDuration(15_000)).toBe('15s');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(1_500)).toBe('1s500ms');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('config', () => {
  it('configs/example.yaml is the generated sample, kept in step', () => {
    expect(readFileSync(new URL('../../../configs/example.yaml', import.meta.url), 'utf8')).toBe(SAMPLE_CONFIG);
  });

  it('accepts the generated sample and resolves defaults', () => {
    const c = parseConfigText(SAMPLE_CONFIG);
    expect(c.shard!.num_shards).toBe(4);
    expect(c.shard!.sources[0].labels).toEqual({ cluster: 'ceph-a' });
    const minimal = parseConfigText('shard:\n  num_shards: 2\n  scrape_interval: 10s\n  sources: [{url: "http://a:1/metrics"}]\n');
    expect(minimal.listen).toBe('127.0.0.1:9099');
    expect(resolvedTimings(minimal.shard!)).toEqual({ intervalMs: 10_000, timeoutMs: 10_000, maxStaleMs: 50_000 });
  });

  it('lists every mistake with its path', () => {
    const p = problems(`
listen: nope
log_level: loud
bogus: 1
shard:
  num_shards: 0
  scrape_interval: 15
  max_stale: 5 minutes
  sources:
    - url: ftp://x
      labels: {"bad-name": x}
      bearer_token: a
      basic_auth: {username: u, password: p}
    - url: http://ok:1/metrics
      timeout: 1h
`);
    const joined = p.join('\n');
    expect(joined).toMatch(/^listen: /m);
    expect(joined).toMatch(/^log_level: /m);
    expect(joined).toMatch(/unknown field "bogus"/);
    expect(joined).toMatch(/^shard\.num_shards: /m);
    expect(joined).toMatch(/^shard\.scrape_interval: durations are written with a unit/m);
    expect(joined).toMatch(/^shard\.max_stale: not a valid duration/m);
    expect(joined).toMatch(/^shard\.sources\.0\.url: must be an absolute http/m);
    expect(joined).toMatch(/^shard\.sources\.0\.labels\.bad-name: invalid label name/m);
    expect(joined).toMatch(/^shard\.sources\.0: at most one of basic_auth, bearer_token/m);
    expect(p.length).toBeGreaterThanOrEqual(9);
  });

  it('reports YAML syntax errors and checks the query section', () => {
    expect(problems('shard: [\n')[0]).toMatch(/^yaml: /);
    expect(problems('query: {}\n').join('\n')).toMatch(/^query\.server_groups: /m);
    const p = problems(
      'query:\n  semantics: prometheus-4\n  server_groups:\n    - static_configs: [{targets: ["no-port"]}]\n      anti_affinity: 10\n      bogus: 1\n',
    ).join('\n');
    expect(p).toMatch(/^query\.semantics: /m);
    expect(p).toMatch(/^query\.server_groups\.0\.static_configs\.0\.targets\.0: must be host:port/m);
    expect(p).toMatch(/^query\.server_groups\.0\.anti_affinity: durations are written with a unit/m);
    expect(p).toMatch(/^query\.server_groups\.0: unknown field "bogus"/m);
    const ok = parseConfigText('query:\n  server_groups:\n    - static_configs: [{targets: ["127.0.0.1:9090", "127.0.0.1:9091"]}]\n').query!;
    expect(ok.server_groups[0]).toMatchObject({ scheme: 'http', anti_affinity: 10_000, ignore_error: false });
    expect(ok).toMatchObject({ lookback_delta: 300_000, timeout: 120_000, semantics: 'prometheus-3' });
  });

  it('checks timeouts against the interval', () => {
    const p = problems('shard:\n  num_shards: 1\n  scrape_interval: 10s\n  scrape_timeout: 20s\n  sources: [{url: "http://a/"}]\n');
    expect(p).toEqual(['shard.scrape_timeout: must not be longer than scrape_interval']);
  });
});
