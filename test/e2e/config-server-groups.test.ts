// Server group discovery and http_client settings in the config: promxy's field names and
// defaults, every mistake reported with its path, and check-config (exit 2) for files that are
// named but not usable.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { queryConfigFileProblems } from '../../src/server/query-layer.js';
import { runCli } from '../support/proxy.js';
import { ConfigError } from '../../src/errors.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

const group = (body: string): string => `query:\n  server_groups:\n    - ${body.trim().split('\n').join('\n      ')}\n`;

const tmp = mkdtempSync(join(tmpdir(), 'promfront-cfg-sg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('server group discovery fields', () => {
  it('accepts a promxy server_groups block with file_sd, dns_sd and http_client, and fills the defaults', () => {
    const q = parseConfigText(
      group(`
name: shard-0
file_sd_configs:
  - files: [/etc/promfront/sd/*.json, /etc/promfront/sd/extra.yml]
dns_sd_configs:
  - names: [_prometheus._tcp.example.internal]
  - names: [prom.example.internal]
    type: a
    port: 9090
    refresh_interval: 1m
http_client:
  dial_timeout: 1s
  tls_config:
    ca_file: /etc/ssl/ca.pem
    insecure_skip_verify: false
  basic_auth:
    username: promxy
    password_file: /etc/promfront/pass
scheme: https
`),
    ).query!;
    const g = q.server_groups[0];
    expect(g.static_configs).toEqual([]);
    expect(g.file_sd_configs).toEqual([{ files: ['/etc/promfront/sd/*.json', '/etc/promfront/sd/extra.yml'], refresh_interval: 300_000 }]);
    expect(g.dns_sd_configs).toEqual([
      { names: ['_prometheus._tcp.example.internal'], type: 'SRV', refresh_interval: 30_000 },
      { names: ['prom.example.internal'], type: 'A', port: 9090, refresh_interval: 60_000 },
    ]);
    expect(g.http_client).toEqual({
      dial_timeout: 1000,
      tls_config: { ca_file: '/etc/ssl/ca.pem', insecure_skip_verify: false },
      basic_auth: { username: 'promxy', password_file: '/etc/promfront/pass' },
    });
  });

  it("defaults http_client to promxy's 200ms dial timeout and no TLS or auth; static targets take labels", () => {
    const g = parseConfigText(group('static_configs: [{targets: ["127.0.0.1:9090"], labels: {dc: east}}]')).query!.server_groups[0];
    expect(g.http_client).toEqual({ dial_timeout: 200 });
    expect(g.static_configs).toEqual([{ targets: ['127.0.0.1:9090'], labels: { dc: 'east' } }]);
    expect(g.file_sd_configs).toEqual([]);
    expect(g.dns_sd_configs).toEqual([]);
  });

  it('accepts authorization, bearer_token and bearer_token_file', () => {
    const auth = parseConfigText(group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {authorization: {credentials_file: /t}}')).query!;
    expect(auth.server_groups[0].http_client.authorization).toEqual({ type: 'Bearer', credentials_file: '/t' });
    const bt = parseConfigText(group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {bearer_token: abc}')).query!;
    expect(bt.server_groups[0].http_client.bearer_token).toBe('abc');
    const btf = parseConfigText(group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {bearer_token_file: /run/token}')).query!;
    expect(btf.server_groups[0].http_client.bearer_token_file).toBe('/run/token');
  });

  it('needs at least one of static_configs, file_sd_configs, dns_sd_configs, http_sd_configs and fleet_sd_configs', () => {
    expect(problems(group('name: empty'))).toEqual([
      'query.server_groups.0: at least one of static_configs, file_sd_configs, dns_sd_configs, http_sd_configs and fleet_sd_configs is needed',
    ]);
  });

  it('reports each mistake in the discovery blocks with its path', () => {
    const p = problems(
      group(`
file_sd_configs:
  - files: [/etc/sd/targets.txt]
  - files: []
    refresh_interval: 0s
  - files: ["/etc/*/x.json"]
dns_sd_configs:
  - names: [a.example]
    type: A
  - names: []
  - names: [b.example]
    type: MX
    port: 70000
  - names: [c.example]
    bogus: 1
`),
    ).join('\n');
    expect(p).toMatch(/^query\.server_groups\.0\.file_sd_configs\.0\.files\.0: must name \.json, \.yml or \.yaml files/m);
    expect(p).toMatch(/^query\.server_groups\.0\.file_sd_configs\.1\.files: at least one file pattern is needed$/m);
    expect(p).toMatch(/^query\.server_groups\.0\.file_sd_configs\.1\.refresh_interval: must be greater than 0$/m);
    expect(p).toMatch(/^query\.server_groups\.0\.file_sd_configs\.2\.files\.0: must name .* with "\*" only in the file name$/m);
    expect(p).toMatch(/^query\.server_groups\.0\.dns_sd_configs\.0\.port: is required for type A/m);
    expect(p).toMatch(/^query\.server_groups\.0\.dns_sd_configs\.1\.names: at least one name is needed$/m);
    expect(p).toMatch(/^query\.server_groups\.0\.dns_sd_configs\.2\.type: /m);
    expect(p).toMatch(/^query\.server_groups\.0\.dns_sd_configs\.2\.port: /m);
    expect(p).toMatch(/^query\.server_groups\.0\.dns_sd_configs\.3: unknown field "bogus"$/m);
  });

  it('reports each mistake in http_client with its path', () => {
    const p = problems(
      group(`
static_configs: [{targets: ["a:1"]}]
http_client:
  dial_timeout: 5
  tls_config: {cert_file: /c.pem, verify: true}
  basic_auth: {username: u, password: p1, password_file: /p}
  bearer_token: t
  proxy_url: http://proxy:3128
`),
    ).join('\n');
    expect(p).toMatch(/^query\.server_groups\.0\.http_client\.dial_timeout: durations are written with a unit/m);
    expect(p).toMatch(/^query\.server_groups\.0\.http_client\.tls_config: unknown field "verify"$/m);
    expect(p).toMatch(/^query\.server_groups\.0\.http_client\.basic_auth: at most one of password and password_file/m);
    expect(p).toMatch(/^query\.server_groups\.0\.http_client: unknown field "proxy_url"$/m);
    const both = problems(group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {basic_auth: {username: u, password: p}, bearer_token: t}')).join('\n');
    expect(both).toBe(
      'query.server_groups.0.http_client: at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set (found basic_auth, bearer_token)',
    );
    const authz = problems(group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {authorization: {type: Basic}}')).join('\n');
    expect(authz).toMatch(/^query\.server_groups\.0\.http_client\.authorization: credentials or credentials_file is needed$/m);
    expect(authz).toMatch(/^query\.server_groups\.0\.http_client\.authorization\.type: use basic_auth/m);
    const header = problems(group('static_configs: [{targets: ["a:1"]}]\nhttp_headers: {Authorization: x}\nhttp_client: {bearer_token: t}'));
    expect(header).toEqual(['query.server_groups.0.http_headers.Authorization: conflicts with the authentication set in http_client']);
  });

  it('never echoes a configured secret in a validation problem', () => {
    const p = problems(
      group('static_configs: [{targets: ["a:1"]}]\nhttp_client: {basic_auth: {username: u, password: hunter2-secret}, bearer_token: tok-secret-42}'),
    ).join('\n');
    expect(p).not.toContain('hunter2-secret');
    expect(p).not.toContain('tok-secret-42');
  });
});

describe('files named in http_client', () => {
  const missing = join(tmp, 'missing.pem');
  const empty = join(tmp, 'empty.pass');
  const garbage = join(tmp, 'garbage.pem');
  const unreadable = join(tmp, 'unreadable.pass');
  writeFileSync(empty, '\n');
  writeFileSync(garbage, 'not a certificate\n');
  writeFileSync(unreadable, 'secret-in-file\n');
  chmodSync(unreadable, 0o000);
  const asRoot = process.getuid?.() === 0;

  const config = (client: string): string => group(`static_configs: [{targets: ["127.0.0.1:9090"]}]\nhttp_client: ${client}`);

  it('lists every unusable file with its config path', () => {
    const q = parseConfigText(config(`{tls_config: {ca_file: ${missing}}, basic_auth: {username: u, password_file: ${empty}}}`)).query!;
    expect(queryConfigFileProblems(q)).toEqual([
      `query.server_groups.0.http_client.tls_config.ca_file: cannot read ${missing}: ENOENT`,
      `query.server_groups.0.http_client.basic_auth.password_file: ${empty} is empty`,
    ]);
    const bad = parseConfigText(config(`{tls_config: {ca_file: ${garbage}}}`)).query!;
    expect(queryConfigFileProblems(bad)).toEqual([`query.server_groups.0.http_client.tls_config.ca_file: no PEM certificate in ${garbage}`]);
  });

  it('check-config exits 2 naming a missing CA file and an unreadable password file, without their content', () => {
    const file = join(tmp, 'bad.yaml');
    const pw = asRoot ? empty : unreadable; // root reads any file; an empty one is the unusable file then
    writeFileSync(file, config(`{tls_config: {ca_file: ${missing}}, basic_auth: {username: u, password_file: ${pw}}}`));
    const r = runCli(['check-config', `--config=${file}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`query.server_groups.0.http_client.tls_config.ca_file: cannot read ${missing}: ENOENT`);
    expect(r.stderr).toMatch(
      asRoot
        ? /query\.server_groups\.0\.http_client\.basic_auth\.password_file: .* is empty/
        : /query\.server_groups\.0\.http_client\.basic_auth\.password_file: cannot read .*unreadable\.pass: EACCES/,
    );
    expect(r.stderr).not.toContain('secret-in-file');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('the proxy refuses to start on the same problems (exit 2), and scrape-config does not need the files', () => {
    const file = join(tmp, 'start.yaml');
    writeFileSync(file, `shard:\n  num_shards: 2\n  sources: [{url: "http://127.0.0.1:9/metrics"}]\n${config(`{tls_config: {ca_file: ${missing}}}`)}`);
    const r = runCli([`--config=${file}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`query.server_groups.0.http_client.tls_config.ca_file: cannot read ${missing}: ENOENT`);
    const sc = runCli(['scrape-config', `--config=${file}`]);
    expect(sc.stderr).toBe('');
    expect(sc.code).toBe(0);
  });

  it('check-config accepts the config once the files are there', () => {
    const pass = join(tmp, 'good.pass');
    writeFileSync(pass, 'pw\n');
    const file = join(tmp, 'good.yaml');
    writeFileSync(file, config(`{basic_auth: {username: u, password_file: ${pass}}}`));
    const r = runCli(['check-config', `--config=${file}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
