// Access control on the proxy's listener (--web.config.file, --web.enable-lifecycle) end to end,
// with Prometheus 2.42 as the client: it scrapes /metrics/shard/0 through a TLS + basic-auth proxy
// (scheme https, tls_config.ca_file, basic_auth), remote-reads through it, and scrapes a proxy that
// requires client certificates with and without one. Direct HTTP(S) requests check 401s, the
// configured headers, the lifecycle endpoints, /-/quit, and reloads of the web config (a new user,
// a broken file, a new certificate) over /-/reload and SIGHUP.

import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { loadWebSettings } from '../../src/server/web-config.js';
import { makeCert, type CertFiles } from '../support/certs.js';
import { spawnSync } from 'node:child_process';
import { runCli, startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The server certificate's fingerprint (HTTPS only). */
  fingerprint?: string;
}

interface Ask {
  method?: string;
  auth?: string;
  ca?: string;
  cert?: CertFiles;
}

/** One request on a fresh connection (so each sees the listener's current TLS settings). */
function ask(url: string, opts: Ask = {}): Promise<Answer> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const common = { method: opts.method ?? 'GET', headers, agent: false as const, timeout: 10_000 };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, {
            ...common,
            ca: opts.ca ? readFileSync(opts.ca) : undefined,
            cert: opts.cert ? readFileSync(opts.cert.cert) : undefined,
            key: opts.cert ? readFileSync(opts.cert.key) : undefined,
          })
        : httpRequest(u, common);
    req.on('response', (res) => {
      const fingerprint = u.protocol === 'https:' ? (res.socket as TLSSocket).getPeerCertificate().fingerprint256 : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, fingerprint }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const hash = (pw: string) => bcrypt.hashSync(pw, 4);

async function promValue(prom: PrometheusProcess, expr: string): Promise<Record<string, string>[]> {
  const result = (await prom.query(expr)) as { metric: Record<string, string>; value: [number, string] }[];
  return result.map((r) => ({ ...r.metric, value: r.value[1] }));
}

describe('the proxy behind --web.config.file, with Prometheus as its client', () => {
  let dir: string;
  let serverCert: CertFiles;
  let mtlsCert: CertFiles;
  let clientCert: CertFiles;
  let upstream: Upstream;
  let tlsProxy: ProxyProcess; // TLS + basic auth + headers, no lifecycle flag
  let mtlsProxy: ProxyProcess; // TLS, RequireAndVerifyClientCert
  let scraper: PrometheusProcess; // scrapes both proxies
  let reader: PrometheusProcess; // remote-reads through tlsProxy, scrapes nothing
  let tlsWeb: string;

  const ALICE = 'alice:alice-secret-pw';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promfront-web-e2e-'));
    serverCert = makeCert(dir, 'server', 'IP:127.0.0.1');
    // The mTLS proxy has a certificate of its own: the other one is renewed by a test below.
    mtlsCert = makeCert(dir, 'mtls-server', 'IP:127.0.0.1');
    clientCert = makeCert(dir, 'client', 'DNS:prometheus.client');
    upstream = await startUpstream('# TYPE web_e2e_metric gauge\nweb_e2e_metric{kind="a"} 1\nweb_e2e_metric{kind="b"} 2\n');

    tlsWeb = join(dir, 'web-tls.yml');
    writeFileSync(
      tlsWeb,
      [
        'tls_server_config:',
        '  cert_file: server.crt', // relative: taken from the web config's folder
        '  key_file: server.key',
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: deny',
        '    Strict-Transport-Security: max-age=63072000',
        'basic_auth_users:',
        `  alice: ${hash('alice-secret-pw')}`,
      ].join('\n'),
    );
    const mtlsWeb = join(dir, 'web-mtls.yml');
    writeFileSync(
      mtlsWeb,
      [
        'tls_server_config:',
        `  cert_file: ${mtlsCert.cert}`,
        `  key_file: ${mtlsCert.key}`,
        '  client_auth_type: RequireAndVerifyClientCert',
        `  client_ca_file: ${clientCert.cert}`,
      ].join('\n'),
    );

    const scraperPort = await freePort();
    const shardSection = `
shard:
  num_shards: 1
  job_name: web
  scrape_interval: 1s
  sources:
    - url: ${upstream.url}
`;
    const healthyVia = (a: Ask) => async (url: string) => (await ask(`${url}/-/healthy`, a).catch(() => ({ status: 0 }))).status === 200;
    tlsProxy = await startProxy(
      (listen) =>
        `listen: ${listen}\nlog_level: warn\n${shardSection}query:\n  server_groups:\n    - static_configs: [{targets: ["127.0.0.1:${scraperPort}"]}]\n`,
      { args: [`--web.config.file=${tlsWeb}`], scheme: 'https', healthy: healthyVia({ ca: serverCert.cert, auth: ALICE }) },
    );
    mtlsProxy = await startProxy((listen) => `listen: ${listen}\nlog_level: warn\n${shardSection}`, {
      args: [`--web.config.file=${mtlsWeb}`],
      scheme: 'https',
      healthy: healthyVia({ ca: mtlsCert.cert, cert: clientCert }),
    });

    const job = (name: string, port: number, extra: Record<string, unknown>) => ({
      job_name: name,
      scheme: 'https',
      metrics_path: '/metrics/shard/0',
      honor_labels: true,
      static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { via: name } }],
      ...extra,
    });
    const scrapeConfig = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1m' },
      scrape_configs: [
        job('auth', tlsProxy.port, { tls_config: { ca_file: serverCert.cert }, basic_auth: { username: 'alice', password: 'alice-secret-pw' } }),
        job('wrongpw', tlsProxy.port, { tls_config: { ca_file: serverCert.cert }, basic_auth: { username: 'alice', password: 'not-it' } }),
        job('mtls', mtlsProxy.port, { tls_config: { ca_file: mtlsCert.cert, cert_file: clientCert.cert, key_file: clientCert.key } }),
        job('nocert', mtlsProxy.port, { tls_config: { ca_file: mtlsCert.cert } }),
      ],
    };
    const readerConfig = {
      global: { scrape_interval: '1m', evaluation_interval: '1m' },
      remote_read: [
        {
          url: `https://127.0.0.1:${tlsProxy.port}/api/v1/read`,
          read_recent: true,
          basic_auth: { username: 'alice', password: 'alice-secret-pw' },
          tls_config: { ca_file: serverCert.cert },
        },
      ],
    };
    [scraper, reader] = await Promise.all([
      startPrometheus({ configYaml: JSON.stringify(scrapeConfig), port: scraperPort, extraArgs: ['--log.level=warn'] }),
      startPrometheus({ configYaml: JSON.stringify(readerConfig), extraArgs: ['--log.level=warn'] }),
    ]);
    // Up to 5 s until Prometheus's first scrapes, then a few 1 s rounds.
    await waitFor(
      async () => (await promValue(scraper, 'count_over_time(up[1m]) >= 3')).length === 4 && (await promValue(scraper, 'web_e2e_metric')).length === 4,
      40_000,
      'three scrapes of all four jobs',
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all([scraper?.stop(), reader?.stop(), tlsProxy?.stop(), mtlsProxy?.stop(), upstream?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('Prometheus scrapes /metrics/shard/0 over TLS with basic auth: up is 1 and the upstream series arrive; a wrong password gives up 0', async () => {
    const up = await promValue(scraper, 'up');
    const byJob = Object.fromEntries(up.map((m) => [m.job, m.value]));
    expect(byJob).toMatchObject({ auth: '1', wrongpw: '0' });
    const series = await promValue(scraper, 'web_e2e_metric{via="auth"}');
    expect(series.map((s) => [s.kind, s.value]).sort()).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(await promValue(scraper, 'web_e2e_metric{via="wrongpw"}')).toEqual([]);
    // The refused scrapes are counted.
    const metrics = await ask(`${tlsProxy.url}/metrics`, { ca: serverCert.cert, auth: ALICE });
    const invalid = /promfront_web_auth_failures_total\{reason="invalid"\} (\d+)/.exec(metrics.body);
    expect(Number(invalid?.[1])).toBeGreaterThanOrEqual(3);
  });

  it('Prometheus remote-reads through the authenticated TLS proxy (remote_read with basic_auth and tls_config)', async () => {
    let got: Record<string, string>[] = [];
    await waitFor(
      async () => {
        got = await promValue(reader, 'web_e2e_metric{via="auth"}');
        return got.length === 2;
      },
      20_000,
      'remote-read series',
    );
    expect(got.map((s) => [s.kind, s.value]).sort()).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    // The same request without credentials is refused.
    const anon = await ask(`${tlsProxy.url}/api/v1/read`, { method: 'POST', ca: serverCert.cert });
    expect(anon.status).toBe(401);
  });

  it('client certificates (RequireAndVerifyClientCert): Prometheus with a certificate scrapes, without one it cannot', async () => {
    const up = Object.fromEntries((await promValue(scraper, 'up')).map((m) => [m.job, m.value]));
    expect(up).toMatchObject({ mtls: '1', nocert: '0' });
    expect((await promValue(scraper, 'web_e2e_metric{via="mtls"}')).length).toBe(2);
    // Directly: the handshake fails without a certificate, and with one not signed by the client CA.
    await expect(ask(`${mtlsProxy.url}/-/healthy`, { ca: mtlsCert.cert })).rejects.toThrow();
    const stranger = makeCert(dir, 'stranger', 'DNS:stranger');
    await expect(ask(`${mtlsProxy.url}/-/healthy`, { ca: mtlsCert.cert, cert: stranger })).rejects.toThrow();
    const ok = await ask(`${mtlsProxy.url}/-/healthy`, { ca: mtlsCert.cert, cert: clientCert });
    expect(ok.status).toBe(200);
    const metrics = await ask(`${mtlsProxy.url}/metrics`, { ca: mtlsCert.cert, cert: clientCert });
    expect(Number(/promfront_web_tls_refused_total\{reason="handshake"\} (\d+)/.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('answers 401 with WWW-Authenticate without or with wrong credentials, on every path; sets the configured headers', async () => {
    for (const path of ['/-/healthy', '/metrics/shard/0', '/metrics', '/status', '/api/v1/query?query=1', '/federate?match[]=up']) {
      for (const auth of [undefined, 'alice:wrong', 'mallory:alice-secret-pw']) {
        const res = await ask(`${tlsProxy.url}${path}`, { ca: serverCert.cert, auth });
        expect(res.status, `${path} as ${auth}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Basic');
        expect(res.headers['x-frame-options']).toBe('deny');
      }
    }
    const shard = await ask(`${tlsProxy.url}/metrics/shard/0`, { ca: serverCert.cert, auth: ALICE });
    expect(shard.status).toBe(200);
    // The source's job and instance are added to its series (docs/shard-identity.md).
    expect(shard.body).toMatch(/^web_e2e_metric\{[^}\n]*kind="a"[^}\n]*\} 1$/m);
    expect(shard.headers['x-frame-options']).toBe('deny');
    expect(shard.headers['strict-transport-security']).toBe('max-age=63072000');
    // Plain HTTP to the TLS port gets nothing served.
    const plain = await ask(tlsProxy.url.replace('https:', 'http:') + '/-/healthy').catch((e: Error) => e);
    expect(plain instanceof Error || plain.status === 400).toBe(true);
    // No password in the logs.
    expect(tlsProxy.logs()).not.toContain('alice-secret-pw');
  });

  it('without --web.enable-lifecycle /-/reload and /-/quit answer 403, yet SIGHUP reloads the web config with new certificates', async () => {
    for (const path of ['/-/reload', '/-/quit']) {
      for (const method of ['POST', 'PUT']) {
        const res = await ask(`${tlsProxy.url}${path}`, { method, ca: serverCert.cert, auth: ALICE });
        expect(res.status).toBe(403);
        expect(res.body).toBe('Lifecycle API is not enabled.');
      }
    }
    const before = await ask(`${tlsProxy.url}/-/healthy`, { ca: serverCert.cert, auth: ALICE });
    // A new certificate under the same file names; a SIGHUP re-reads them with the web config.
    const renewed = makeCert(mkdtempSync(join(tmpdir(), 'promfront-web-renew-')), 'server', 'IP:127.0.0.1');
    const newCa = join(dir, 'renewed-ca.crt');
    writeFileSync(newCa, readFileSync(renewed.cert));
    writeFileSync(serverCert.cert, readFileSync(renewed.cert));
    writeFileSync(serverCert.key, readFileSync(renewed.key));
    tlsProxy.child.kill('SIGHUP');
    await waitFor(
      async () => (await ask(`${tlsProxy.url}/-/healthy`, { ca: newCa, auth: ALICE }).catch(() => ({ status: 0 }))).status === 200,
      10_000,
      'the renewed certificate',
    );
    const after = await ask(`${tlsProxy.url}/-/healthy`, { ca: newCa, auth: ALICE });
    expect(after.fingerprint).not.toBe(before.fingerprint);
    // Prometheus, whose ca_file is that same path, keeps scraping.
    const t = Date.now() / 1000;
    await waitFor(
      async () => (await promValue(scraper, `timestamp(up{job="auth"}) > ${t} and up{job="auth"} == 1`)).length === 1,
      15_000,
      'a scrape after the renewal',
    );
  });
});

describe('reloading the web config and the lifecycle endpoints with --web.enable-lifecycle', () => {
  let proxy: ProxyProcess;
  let webFile: string;
  let dir: string;
  const write = (users: Record<string, string>) =>
    writeFileSync(
      webFile,
      [
        'http_server_config:',
        '  headers: {X-Content-Type-Options: nosniff}',
        'basic_auth_users:',
        ...Object.entries(users).map(([u, pw]) => `  ${u}: ${hash(pw)}`),
      ].join('\n'),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promfront-web-reload-'));
    webFile = join(dir, 'web.yml');
    write({ alice: 'alice-pw' });
    proxy = await startProxy((listen) => `listen: ${listen}\nlog_level: info\n`, {
      args: [`--web.config.file=${webFile}`, '--web.enable-lifecycle'],
      healthy: async (url) => (await ask(`${url}/-/healthy`, { auth: 'alice:alice-pw' }).catch(() => ({ status: 0 }))).status === 200,
    });
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a reload with a changed web config lets the new user in and refuses the removed one', async () => {
    expect((await ask(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(401);
    write({ bob: 'bob-pw' });
    const res = await ask(`${proxy.url}/-/reload`, { method: 'POST', auth: 'alice:alice-pw' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect((await ask(`${proxy.url}/-/healthy`, { auth: 'bob:bob-pw' })).status).toBe(200);
    expect((await ask(`${proxy.url}/-/healthy`, { auth: 'alice:alice-pw' })).status).toBe(401);
    expect(proxy.logs()).toMatch(/"changed":\["web_config"\]/);
  });

  it('a broken web config is refused with the reason, and the one in service stays', async () => {
    writeFileSync(webFile, 'basic_auth_users:\n  carol: not-a-hash\nhttp_server_config:\n  headers: {Server: x}\n');
    const res = await ask(`${proxy.url}/-/reload`, { method: 'PUT', auth: 'bob:bob-pw' });
    expect(res.status).toBe(500);
    expect(res.body).toBe(
      `failed to reload config: invalid config ${webFile}:\n` +
        '  http_server_config.headers: HTTP header "Server" can not be configured (allowed: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)\n' +
        '  basic_auth_users.carol: not a bcrypt hash (expected $2y$<cost>$ and 53 characters of salt and hash, as "htpasswd -nBC 10" makes)\n',
    );
    const still = await ask(`${proxy.url}/-/healthy`, { auth: 'bob:bob-pw' });
    expect(still.status).toBe(200);
    expect(still.headers['x-content-type-options']).toBe('nosniff');
    const metrics = await ask(`${proxy.url}/metrics`, { auth: 'bob:bob-pw' });
    expect(metrics.body).toMatch(/^promfront_config_last_reload_successful 0$/m);
    // A certificate that cannot be read refuses the reload too.
    writeFileSync(webFile, `tls_server_config: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}\n`);
    const unreadable = await ask(`${proxy.url}/-/reload`, { method: 'POST', auth: 'bob:bob-pw' });
    expect(unreadable.status).toBe(500);
    expect(unreadable.body).toContain('tls_server_config.cert_file: cannot read /nonexistent.crt: ENOENT');
    // Turning TLS on needs a restart: refused, with the reason.
    makeCert(dir, 'late', 'IP:127.0.0.1');
    writeFileSync(webFile, `tls_server_config: {cert_file: late.crt, key_file: late.key}\n`);
    const tls = await ask(`${proxy.url}/-/reload`, { method: 'POST', auth: 'bob:bob-pw' });
    expect(tls.status).toBe(500);
    expect(tls.body).toBe(
      `failed to reload config: invalid config ${webFile}:\n  tls_server_config: TLS cannot be turned on while the listener is running; restart promfront to apply it\n`,
    );
    expect((await ask(`${proxy.url}/-/healthy`, { auth: 'bob:bob-pw' })).status).toBe(200);
  });

  it('/-/quit says goodbye and the process exits cleanly', async () => {
    const exited = once(proxy.child, 'exit');
    const res = await ask(`${proxy.url}/-/quit`, { method: 'POST', auth: 'bob:bob-pw' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('Requesting termination... Goodbye!');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(proxy.logs()).toMatch(/"signal":"\/-\/quit".*shutting down/);
  });
});

describe('client-certificate policies Node checks after the handshake, and reloads that change the policy', () => {
  let proxy: ProxyProcess;
  let dir: string;
  let webFile: string;
  let server: CertFiles;
  let client: CertFiles;
  let stranger: CertFiles;
  const write = (lines: string[]) => writeFileSync(webFile, ['tls_server_config:', '  cert_file: server.crt', '  key_file: server.key', ...lines].join('\n'));
  const healthy = async (cert?: CertFiles) => (await ask(`${proxy.url}/-/healthy`, { ca: server.cert, cert }).catch(() => ({ status: 0 }))).status;
  const reloaded = async () => {
    const before = (proxy.logs().match(/completed loading of configuration file/g) ?? []).length;
    proxy.child.kill('SIGHUP');
    await waitFor(async () => (proxy.logs().match(/completed loading of configuration file/g) ?? []).length > before, 10_000, 'SIGHUP reload');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promfront-web-policy-'));
    webFile = join(dir, 'web.yml');
    server = makeCert(dir, 'server', 'IP:127.0.0.1');
    client = makeCert(dir, 'client', 'DNS:prometheus.client');
    stranger = makeCert(dir, 'stranger', 'DNS:stranger.example');
    write(['  client_auth_type: RequireAnyClientCert', '  client_allowed_sans: [prometheus.client]']);
    proxy = await startProxy((listen) => `listen: ${listen}\nlog_level: info\n`, {
      args: [`--web.config.file=${webFile}`],
      scheme: 'https',
      healthy: async (url) => (await ask(`${url}/-/healthy`, { ca: server.cert, cert: client }).catch(() => ({ status: 0 }))).status === 200,
    });
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RequireAnyClientCert with client_allowed_sans: no certificate and a certificate without an allowed SAN are refused, an unverified one with it passes', async () => {
    expect(await healthy()).toBe(0);
    expect(await healthy(stranger)).toBe(0);
    // Self-signed and in no CA: RequireAnyClientCert does not verify, only the SAN list decides.
    expect(await healthy(client)).toBe(200);
    const metrics = await ask(`${proxy.url}/metrics`, { ca: server.cert, cert: client });
    expect(metrics.body).toMatch(/^promfront_web_tls_refused_total\{reason="client_certificate"\} 2$/m);
  });

  it('a reload to NoClientCert admits clients without a certificate; one to RequireAndVerifyClientCert refuses them again in the handshake', async () => {
    write([]);
    await reloaded();
    expect(await healthy()).toBe(200);
    write(['  client_auth_type: RequireAndVerifyClientCert', '  client_ca_file: client.crt']);
    await reloaded();
    expect(await healthy()).toBe(0);
    expect(await healthy(stranger)).toBe(0);
    expect(await healthy(client)).toBe(200);
  });
});

describe('check-config --web.config.file and start-up with a broken web config', () => {
  it('validates the web config with its certificates and exits 2 naming every problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-web-check-'));
    try {
      const cert = makeCert(dir, 'srv', 'IP:127.0.0.1');
      const good = join(dir, 'good.yml');
      writeFileSync(good, `tls_server_config: {cert_file: srv.crt, key_file: srv.key}\nbasic_auth_users: {alice: '${hash('x')}'}\n`);
      const ok = runCli(['check-config', `--web.config.file=${good}`]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe(`${good}: valid web config (TLS, client_auth_type NoClientCert, basic auth for 1 user)\n`);
      // A key that does not belong to the certificate.
      const other = makeCert(dir, 'other', 'IP:127.0.0.1');
      const mismatch = join(dir, 'mismatch.yml');
      writeFileSync(mismatch, `tls_server_config: {cert_file: ${cert.cert}, key_file: ${other.key}}\n`);
      const bad = runCli(['check-config', `--web.config.file=${mismatch}`]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(new RegExp(`^invalid config ${mismatch}:\\n  tls_server_config: cannot use the certificate and key: .*key values mismatch`));
      expect(bad.stderr).not.toContain('PRIVATE KEY');
      // The proxy refuses to start with it, also exit 2.
      const config = join(dir, 'config.yaml');
      writeFileSync(config, 'listen: 127.0.0.1:0\n');
      const run = runCli([`--config=${config}`, `--web.config.file=${mismatch}`]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('key values mismatch');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('check-config --web.config.file agrees with promtool check web-config (Prometheus 2.42)', () => {
  it('accepts and refuses the same files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-web-promtool-'));
    try {
      makeCert(dir, 'srv', 'IP:127.0.0.1');
      const other = makeCert(dir, 'other', 'IP:127.0.0.1');
      const tls = 'tls_server_config:\n  cert_file: srv.crt\n  key_file: srv.key\n';
      const cases: Record<string, string> = {
        empty: '',
        tls,
        'tls and users': `${tls}basic_auth_users:\n  alice: '${hash('pw')}'\n`,
        'headers allowed': 'http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n    Content-Security-Policy: "default-src \'self\'"\n',
        'versions, ciphers, curves': `${tls}  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\n`,
        'client CA with a policy': `${tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: other.crt\n`,
        'plain text password': 'basic_auth_users:\n  alice: pw\n',
        'header not allowed': 'http_server_config:\n  headers:\n    Server: x\n',
        'header value not allowed': 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n',
        'client CA without a policy': `${tls}  client_ca_file: other.crt\n`,
        'unknown policy': `${tls}  client_auth_type: Sometimes\n`,
        'unknown cipher': `${tls}  cipher_suites: [TLS_FAKE]\n`,
        'unknown TLS version': `${tls}  min_version: TLS14\n`,
        'unknown field': 'basic_auth: {}\n',
        'missing key': 'tls_server_config:\n  cert_file: srv.crt\n',
        'missing cert file': 'tls_server_config:\n  cert_file: nope.crt\n  key_file: srv.key\n',
        'key of another certificate': `tls_server_config:\n  cert_file: srv.crt\n  key_file: ${other.key}\n`,
        'not YAML': 'basic_auth_users: [\n',
      };
      const verdicts: Record<string, [boolean, boolean]> = {};
      for (const [name, text] of Object.entries(cases)) {
        const file = join(dir, `${name.replace(/\W+/g, '-')}.yml`);
        writeFileSync(file, text);
        // In-process (what check-config runs) rather than ./proxy per file: the same verdict, seconds sooner.
        let ours = true;
        try {
          loadWebSettings(file);
        } catch {
          ours = false;
        }
        const theirs = spawnSync('promtool', ['check', 'web-config', file], { encoding: 'utf8' });
        if (theirs.error) throw new Error(`promtool is needed for this test: ${theirs.error.message}`);
        verdicts[name] = [ours, theirs.status === 0];
      }
      const disagree = Object.entries(verdicts).filter(([, [ours, theirs]]) => ours !== theirs);
      expect(disagree).toEqual([]);
      // Both sides of the table are exercised.
      expect(Object.values(verdicts).filter(([ours]) => ours).length).toBe(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
