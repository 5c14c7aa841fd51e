// ./proxy's commands as a user runs them: exit codes, outputs and error texts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, writeTemp } from '../support/proxy.js';

describe('./proxy command line', () => {
  it('--version prints the version of package.json and the runtime', () => {
    const r = runCli(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r.stdout).toBe(`promfront, version ${pkg.version} (node${process.versions.node})\n`);
  });

  it('generate-config prints a sample that check-config accepts', () => {
    const gen = runCli(['generate-config']);
    expect(gen.code).toBe(0);
    expect(gen.stdout).toMatch(/^# promfront configuration/);
    const file = writeTemp('config.yaml', gen.stdout);
    const check = runCli(['check-config', `--config=${file}`]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/valid \(4 shards, 2 sources\)/);
  });

  it('check-config lists every problem with its path and exits 2, without a stack trace', () => {
    const file = writeTemp(
      'bad.yaml',
      ['listen: nowhere', 'shard:', '  num_shards: -1', '  scrape_interval: 10', '  sources:', '    - url: not-a-url', '      timeot: 5s', ''].join('\n'),
    );
    const r = runCli(['check-config', `--config=${file}`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^listen: must be host:port/),
        expect.stringMatching(/^shard\.num_shards: /),
        expect.stringMatching(/^shard\.scrape_interval: durations are written with a unit/),
        expect.stringMatching(/^shard\.sources\.0\.url: must be an absolute http/),
        expect.stringMatching(/^shard\.sources\.0: unknown field "timeot"/),
      ]),
    );
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('a missing config file or flag is a clear error with exit code 2', () => {
    const missing = runCli(['--config=/nonexistent/promfront.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/invalid config \/nonexistent\/promfront.yaml:\n {2}cannot read file: ENOENT/);
    const noFlag = runCli(['check-config']);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/--config=FILE is required/);
    const unknown = runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('scrape-config prints one scrape config per shard with one job name and honor_labels', () => {
    const file = writeTemp(
      'c.yaml',
      'listen: 127.0.0.1:9199\nshard:\n  num_shards: 3\n  job_name: ceph\n  scrape_interval: 30s\n  scrape_timeout: 20s\n  sources: [{url: "http://a:9283/metrics"}]\n',
    );
    const r = runCli(['scrape-config', `--config=${file}`]);
    expect(r.code).toBe(0);
    const docs = r.stdout.split(/^---$/m).map((d) => parse(d) as { scrape_configs: Record<string, unknown>[] });
    expect(docs).toHaveLength(3);
    docs.forEach((doc, k) => {
      expect(doc.scrape_configs).toEqual([
        {
          job_name: 'ceph',
          honor_labels: true,
          metrics_path: `/metrics/shard/${k}`,
          scrape_interval: '30s',
          scrape_timeout: '20s',
          static_configs: [{ targets: ['127.0.0.1:9199'] }],
        },
      ]);
    });
    const one = runCli(['scrape-config', `--config=${file}`, '--shard=2', '--target=proxy.example:9199']);
    expect(parse(one.stdout)).toEqual({
      scrape_configs: [expect.objectContaining({ metrics_path: '/metrics/shard/2', static_configs: [{ targets: ['proxy.example:9199'] }] })],
    });
    expect(runCli(['scrape-config', `--config=${file}`, '--shard=3']).code).toBe(2);
  });

  it('every command has --help', () => {
    for (const cmd of [[], ['generate-config'], ['check-config'], ['scrape-config']]) {
      const r = runCli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: proxy/);
    }
  });
});
