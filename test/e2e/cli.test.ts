// ./proxy's commands as a user runs them: exit codes, outputs and error texts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, writeTemp } from '../support/proxy.js';

describe('./proxy command line', () => {
  it('--version and `version` print the version of package.json, the revision and the runtime', () => {
    const r = runCli(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r.stdout).toMatch(new RegExp(`^promfront, version ${pkg.version.replace(/\./g, '\\.')} \\(revision: \\S+, node${process.versions.node}\\)\n$`));
    expect(runCli(['version'])).toEqual(r);
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
    expect(missing.stderr).toBe('invalid config /nonexistent/promfront.yaml:\n  cannot read the config file: no such file (ENOENT)\n');
    const noFlag = runCli(['check-config']);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/--config=FILE is required/);
    const unknown = runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('scrape-config prints one scrape config per shard with one job name, honor_labels and a per-shard instance', () => {
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
          static_configs: [{ targets: ['127.0.0.1:9199'], labels: { instance: `127.0.0.1:9199/shard/${k}` } }],
        },
      ]);
    });
    const one = runCli(['scrape-config', `--config=${file}`, '--shard=2', '--target=proxy.example:9199']);
    expect(parse(one.stdout)).toEqual({
      scrape_configs: [
        expect.objectContaining({
          metrics_path: '/metrics/shard/2',
          static_configs: [{ targets: ['proxy.example:9199'], labels: { instance: 'proxy.example:9199/shard/2' } }],
        }),
      ],
    });
    expect(runCli(['scrape-config', `--config=${file}`, '--shard=3']).code).toBe(2);
  });

  it('check-config names what would fail at start in plain words: port, zero timeout, misspelt field, YAML 1.1 boolean, YAML syntax', () => {
    const file = writeTemp(
      'plain.yaml',
      [
        'listen: 127.0.0.1:99999',
        'query:',
        '  timeout: 0s',
        '  server_groups:',
        '    - static_configs: [{targets: ["127.0.0.1:9090"]}]',
        '      ignore_error: yes',
        'shard:',
        '  num_shard: 2',
        '  sources: [{url: "http://127.0.0.1:9100/metrics"}]',
        '',
      ].join('\n'),
    );
    const r = runCli(['check-config', `--config=${file}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').slice(1, -1).sort()).toEqual(
      [
        '  listen: port must be from 0 to 65535',
        '  query.timeout: must be greater than 0',
        '  query.server_groups.0.ignore_error: must be true or false: "yes" is a boolean only in YAML 1.1; promfront reads YAML 1.2, so write true',
        '  shard.num_shards: required',
        '  shard: unknown field "num_shard": did you mean "num_shards"?',
      ].sort(),
    );
    // Running it is refused the same way, never a RangeError from listen().
    const run = runCli([`--config=${writeTemp('port.yaml', 'listen: 127.0.0.1:99999\n')}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^invalid config .*port\.yaml:\n {2}listen: port must be from 0 to 65535\n$/);
    const yaml = runCli(['check-config', `--config=${writeTemp('syntax.yaml', 'shard:\n  num_shards: 2\n   sources: []\n')}`]);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/\n {2}yaml: line 2, column \d+: .+: " {2}num_shards: 2"\n$/);
    const format = runCli([`--config=${writeTemp('ok.yaml', 'listen: 127.0.0.1:9099\n')}`, '--log.format=xml']);
    expect(format.code).toBe(2);
    expect(format.stderr).toBe('error: --log.format must be one of logfmt, json (got "xml")\n');
  }, 120_000);

  it('generate-config shows every section, remote_read, pushdown and stale_nan among the fields; --help points to it', () => {
    const gen = runCli(['generate-config']).stdout;
    for (const field of ['shard:', 'query:', 'server_groups:', 'remote_read:', 'pushdown:', 'stale_nan:', 'file_sd_configs:', 'dns_sd_configs:', 'sigv4:']) {
      expect(gen).toContain(field);
    }
    const help = runCli(['--help']).stdout;
    expect(help).toMatch(/every field is shown, commented, by "proxy generate-config"/);
    for (const flag of [
      '--config',
      '--log.level',
      '--log.format',
      '--web.config.file',
      '--web.enable-lifecycle',
      '--web.write-timeout',
      '--query.thread-heap-limit',
    ]) {
      expect(help).toContain(flag);
    }
    for (const text of [
      gen,
      help,
      readFileSync(new URL('../../README.md', import.meta.url), 'utf8'),
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ]) {
      expect(text).not.toMatch(/\(later\)|in progress/i);
    }
  });

  it('every command has --help', () => {
    for (const cmd of [[], ['generate-config'], ['check-config'], ['scrape-config'], ['version']]) {
      const r = runCli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: proxy/);
    }
  });
});
