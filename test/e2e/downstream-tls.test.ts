// Downstream HTTP client settings (a server group's http_client) against real Prometheus 2.42
// servers behind --web.config.file: TLS with certificates made by openssl, basic auth checked by
// Prometheus against a bcrypt hash, client certificates; bearer/authorization headers against a
// local HTTPS server; and secrets never appearing in an error message.
//
// The bcrypt hash of the test-only password is made at run time with perl's crypt(), which uses
// the system's libcrypt ($2b$ is bcrypt there).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { httpClientSchema } from '../../src/config/schema.js';
import { BACKFILL_START_MS, backfillTsdb, generateBackfillData, loadIntoMemory } from '../../dev/backfill.js';
import { startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { DownstreamClient } from '../../src/client/http-client.js';
import { JsonApiTarget } from '../../src/query/downstream/json-api-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { type Series } from '../../src/storage/interface.js';
import { labelsToRecord } from '../../src/model/labels.js';
import { createQueryLayer } from '../../src/server/query-layer.js';
import { startApiServer, type ApiServer } from '../support/api-server.js';
import { DownstreamError } from '../../src/errors.js';
import { makeCert } from '../support/certs.js';

const USER = 'promfront';
const PASSWORD = 'tls-test-only-p4ss'; // test-only; its bcrypt hash is made below
const MIN = 60_000;
const START = BACKFILL_START_MS;
const END = BACKFILL_START_MS + 30 * MIN;
const METRIC: LabelMatcher[] = [{ type: '=', name: '__name__', value: 'http_requests_total' }];

const tmp = mkdtempSync(join(tmpdir(), 'promfront-tls-'));

function run(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(
      `${what}: \`${cmd}\` failed or is missing (${r.error?.message ?? r.stderr.trim()}); install it (Debian: apt-get install ${cmd === 'perl' ? 'perl' : 'openssl'}) and rerun`,
    );
  }
  return r.stdout;
}

function bcryptHash(password: string): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = Array.from(randomBytes(22), (b) => alphabet[b % 64]).join('');
  const hash = run(
    'perl',
    ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`],
    'the basic auth test hashes its password with perl crypt()',
  ).trim();
  if (!/^\$2b\$05\$[./A-Za-z0-9]{53}$/.test(hash))
    throw new Error(`perl crypt() made no bcrypt hash (got ${JSON.stringify(hash)}); the system libcrypt lacks bcrypt`);
  return hash;
}

/** GET /-/ready over TLS with the given credentials; true on 200. */
function httpsReady(port: number, opts: https.RequestOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/-/ready', timeout: 2000, ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function summary(ss: Series[]): { labels: Record<string, string>; ts: number[]; vs: number[] }[] {
  return ss.map((s) => ({ labels: labelsToRecord(s.labels), ts: Array.from(s.timestamps), vs: Array.from(s.values) }));
}

let server: { cert: string; key: string };
let other: { cert: string; key: string };
let clientCert: { cert: string; key: string };
let authProm: PrometheusProcess;
let mtlsProm: PrometheusProcess;
const data = generateBackfillData({ endMs: END });
const memory = loadIntoMemory(data);

function target(port: number, httpClient: object, timeoutMs = 10_000, scheme = 'https'): JsonApiTarget {
  const client = new DownstreamClient(httpClientSchema.parse(httpClient), { requestTimeoutMs: timeoutMs, fileCheckEveryMs: 0 });
  return new JsonApiTarget({ url: `${scheme}://127.0.0.1:${port}`, timeoutMs, client });
}

async function failure(p: Promise<unknown>): Promise<DownstreamError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DownstreamError)) throw new Error(`expected a DownstreamError, got ${String(err)}`);
  return err;
}

function expectNoSecret(message: string, ...secrets: string[]): void {
  for (const s of secrets) {
    expect(message).not.toContain(s);
    expect(message).not.toContain(Buffer.from(s).toString('base64'));
  }
  expect(message).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
}

beforeAll(async () => {
  server = makeCert(tmp, 'server', 'IP:127.0.0.1,DNS:localhost,DNS:prom.example.internal');
  other = makeCert(tmp, 'other', 'IP:127.0.0.1,DNS:localhost');
  clientCert = makeCert(tmp, 'client', 'DNS:promfront.client');
  const authWeb = join(tmp, 'web-auth.yml');
  writeFileSync(
    authWeb,
    [
      'tls_server_config:',
      `  cert_file: ${server.cert}`,
      `  key_file: ${server.key}`,
      'basic_auth_users:',
      `  ${USER}: ${JSON.stringify(bcryptHash(PASSWORD))}`,
      '',
    ].join('\n'),
  );
  const mtlsWeb = join(tmp, 'web-mtls.yml');
  writeFileSync(
    mtlsWeb,
    [
      'tls_server_config:',
      `  cert_file: ${server.cert}`,
      `  key_file: ${server.key}`,
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${clientCert.cert}`,
      '',
    ].join('\n'),
  );
  const ca = readFileSync(server.cert);
  const start = (webConfig: string, ready: https.RequestOptions): Promise<PrometheusProcess> =>
    startPrometheus({
      configYaml: 'global:\n  evaluation_interval: 1m\n',
      extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn', `--web.config.file=${webConfig}`],
      prepareDataDir: (dir) => backfillTsdb(data, dir),
      readyCheck: (port) => httpsReady(port, { ca, ...ready }),
    });
  [authProm, mtlsProm] = await Promise.all([
    start(authWeb, { auth: `${USER}:${PASSWORD}` }),
    start(mtlsWeb, { cert: readFileSync(clientCert.cert), key: readFileSync(clientCert.key) }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([authProm, mtlsProm].filter(Boolean).map((p) => p.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

describe('TLS and basic auth against Prometheus 2.42 (--web.config.file)', () => {
  it('reads the samples with ca_file and basic_auth', async () => {
    const t = target(authProm.port, { tls_config: { ca_file: server.cert }, basic_auth: { username: USER, password: PASSWORD } });
    try {
      const got = summary(await t.select(METRIC, START, END));
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(summary(await memory.select(METRIC, START, END)));
    } finally {
      await t.close();
    }
  });

  it('a wrong password is refused with HTTP 401 and neither password appears in the error', async () => {
    const t = target(authProm.port, { tls_config: { ca_file: server.cert }, basic_auth: { username: USER, password: 'not-the-password' } });
    try {
      const err = await failure(t.select(METRIC, START, END));
      expect(err.message).toBe(`https://127.0.0.1:${authProm.port}: HTTP 401: Unauthorized`);
      expectNoSecret(err.message, 'not-the-password', PASSWORD);
      const noAuth = target(authProm.port, { tls_config: { ca_file: server.cert } });
      expect((await failure(noAuth.labelNames([], START, END))).message).toMatch(/HTTP 401: Unauthorized$/);
      await noAuth.close();
    } finally {
      await t.close();
    }
  });

  it('password_file is read when the target is built and again when it changes', async () => {
    const file = join(tmp, 'password');
    writeFileSync(file, `${PASSWORD}\n`);
    const t = target(authProm.port, { tls_config: { ca_file: server.cert }, basic_auth: { username: USER, password_file: file } });
    try {
      expect(await t.labelNames(METRIC, START, END)).toContain('job');
      writeFileSync(file, 'rotated-wrong-password\n');
      const err = await failure(t.labelNames(METRIC, START, END));
      expect(err.message).toMatch(/HTTP 401: Unauthorized$/);
      expectNoSecret(err.message, 'rotated-wrong-password', PASSWORD);
      writeFileSync(file, `${PASSWORD}\n`);
      expect(await t.labelNames(METRIC, START, END)).toContain('job');
      rmSync(file);
      expect((await failure(t.labelNames(METRIC, START, END))).message).toBe(
        `https://127.0.0.1:${authProm.port}: basic_auth.password_file: cannot read ${file}: ENOENT`,
      );
    } finally {
      await t.close();
    }
  });

  it('a server certificate from another CA fails with a clear TLS error', async () => {
    const t = target(authProm.port, { tls_config: { ca_file: other.cert }, basic_auth: { username: USER, password: PASSWORD } });
    try {
      const err = await failure(t.select(METRIC, START, END));
      expect(err.message).toMatch(
        new RegExp(`^https://127\\.0\\.0\\.1:${authProm.port}: request failed: TLS handshake failed: .*self[- ]signed certificate.* \\([A-Z_]+\\)$`),
      );
      expectNoSecret(err.message, PASSWORD);
    } finally {
      await t.close();
    }
    const systemCas = target(authProm.port, { basic_auth: { username: USER, password: PASSWORD } });
    expect((await failure(systemCas.labelNames([], START, END))).message).toMatch(/TLS handshake failed/);
    await systemCas.close();
  });

  it('insecure_skip_verify accepts the server without its CA', async () => {
    const t = target(authProm.port, { tls_config: { insecure_skip_verify: true }, basic_auth: { username: USER, password: PASSWORD } });
    try {
      expect(summary(await t.select(METRIC, START, END))).toEqual(summary(await memory.select(METRIC, START, END)));
    } finally {
      await t.close();
    }
  });

  it('server_name is the name the certificate is checked against', async () => {
    const good = target(authProm.port, {
      tls_config: { ca_file: server.cert, server_name: 'prom.example.internal' },
      basic_auth: { username: USER, password: PASSWORD },
    });
    const bad = target(authProm.port, {
      tls_config: { ca_file: server.cert, server_name: 'other.example.internal' },
      basic_auth: { username: USER, password: PASSWORD },
    });
    try {
      expect(await good.labelNames(METRIC, START, END)).toContain('job');
      const err = await failure(bad.labelNames(METRIC, START, END));
      expect(err.message).toMatch(/TLS handshake failed: .*other\.example\.internal.*\(ERR_TLS_CERT_ALTNAME_INVALID\)$/);
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });

  it('a rotated ca_file is picked up: new connections use the new CA', async () => {
    const caFile = join(tmp, 'rotating-ca.crt');
    copyFileSync(other.cert, caFile);
    const t = target(authProm.port, { tls_config: { ca_file: caFile }, basic_auth: { username: USER, password: PASSWORD } });
    try {
      expect((await failure(t.labelNames([], START, END))).message).toMatch(/TLS handshake failed/);
      copyFileSync(server.cert, caFile);
      expect(await t.labelNames(METRIC, START, END)).toContain('job');
    } finally {
      await t.close();
    }
  });

  it('end to end: a server group with scheme https, tls_config and basic_auth.password_file answers through the fan-out', async () => {
    const file = join(tmp, 'group-password');
    writeFileSync(file, PASSWORD);
    const q = parseConfigText(`
query:
  server_groups:
    - name: secure
      scheme: https
      static_configs: [{targets: ["localhost:${authProm.port}"]}]
      http_client:
        dial_timeout: 1s
        tls_config: {ca_file: ${server.cert}}
        basic_auth: {username: ${USER}, password_file: ${file}}
`).query!;
    const layer = createQueryLayer(q);
    try {
      await layer.ready;
      const got = summary(await layer.fanout.forQuery().storage.select(METRIC, START, END));
      expect(got).toEqual(summary(await memory.select(METRIC, START, END)));
    } finally {
      await layer.close();
    }
  });
});

describe('client certificates against Prometheus 2.42 (RequireAndVerifyClientCert)', () => {
  it('presents cert_file/key_file; without them the server refuses with a clear TLS error', async () => {
    const withCert = target(mtlsProm.port, { tls_config: { ca_file: server.cert, cert_file: clientCert.cert, key_file: clientCert.key } });
    const without = target(mtlsProm.port, { tls_config: { ca_file: server.cert } });
    try {
      expect(summary(await withCert.select(METRIC, START, END))).toEqual(summary(await memory.select(METRIC, START, END)));
      const err = await failure(without.labelNames([], START, END));
      expect(err.message).toMatch(/^https:\/\/127\.0\.0\.1:\d+: request failed: /);
      expect(err.message).toMatch(/certificate|handshake|socket|closed/i);
    } finally {
      await Promise.all([withCert.close(), without.close()]);
    }
  });
});

describe('authorization headers and secrets (local HTTPS server)', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({ name: 'h', tls: { cert: readFileSync(server.cert), key: readFileSync(server.key) } });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('bearer_token, bearer_token_file (re-read when it changes) and authorization reach the server', async () => {
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, 'file-token-1\n');
    const cases: [object, string][] = [
      [{ bearer_token: 'inline-token' }, 'Bearer inline-token'],
      [{ bearer_token_file: tokenFile }, 'Bearer file-token-1'],
      [{ authorization: { type: 'Custom', credentials: 'c-42' } }, 'Custom c-42'],
      [{ authorization: { credentials_file: tokenFile } }, 'Bearer file-token-1'],
      [{ basic_auth: { username: 'u', password: 'p w' } }, `Basic ${Buffer.from('u:p w').toString('base64')}`],
    ];
    for (const [auth, header] of cases) {
      const t = target(api.port, { tls_config: { ca_file: server.cert }, ...auth });
      api.requests.length = 0;
      await t.labelNames([], 0, 1000);
      expect(api.requests.map((r) => r.authorization)).toEqual([header]);
      await t.close();
    }
    const t = target(api.port, { tls_config: { ca_file: server.cert }, bearer_token_file: tokenFile });
    await t.labelNames([], 0, 1000);
    writeFileSync(tokenFile, 'file-token-2\n');
    api.requests.length = 0;
    await t.labelNames([], 0, 1000);
    expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer file-token-2']);
    await t.close();
  });

  it('a server that echoes the credentials in its error body: the error message carries none of them', async () => {
    const tokenFile = join(tmp, 'echo-token');
    writeFileSync(tokenFile, 'echoed-file-token\n');
    const echo =
      (kind: 'json' | 'text') =>
      (req: IncomingMessage, res: ServerResponse): boolean => {
        const auth = req.headers.authorization ?? '';
        const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
        const text = `denied for ${auth} (${decoded})`;
        if (kind === 'json') {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: text }));
        } else {
          res.writeHead(403, { 'Content-Type': 'text/plain' });
          res.end(text);
        }
        return true;
      };
    const clients: [object, string[]][] = [
      [{ basic_auth: { username: USER, password: PASSWORD } }, [PASSWORD]],
      [{ bearer_token: 'echoed-inline-token' }, ['echoed-inline-token']],
      [{ bearer_token_file: tokenFile }, ['echoed-file-token']],
    ];
    try {
      for (const kind of ['json', 'text'] as const) {
        api.override = echo(kind);
        for (const [auth, secrets] of clients) {
          const t = target(api.port, { tls_config: { ca_file: server.cert }, ...auth });
          const err = await failure(t.select(METRIC, 0, 1000));
          expect(err.message).toContain('denied for');
          expect(err.message).toContain('<secret>');
          expectNoSecret(err.message, ...secrets);
          await t.close();
        }
      }
    } finally {
      api.override = undefined;
    }
  });

  it('dial_timeout bounds only the TCP connect: a slow TLS handshake still succeeds', async () => {
    // A TCP front that accepts at once but holds the bytes back for 1.5 s before relaying them
    // (longer than undici's own connect timeout, whose ticks are about 0.5 s, would allow).
    const front = net.createServer((sock) => {
      sock.pause();
      setTimeout(() => {
        const up = net.connect(api.port, '127.0.0.1', () => {
          sock.pipe(up).pipe(sock);
          sock.resume();
        });
        up.on('error', () => sock.destroy());
        sock.on('error', () => up.destroy());
      }, 1500);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
    const port = (front.address() as net.AddressInfo).port;
    const t = target(port, { dial_timeout: '250ms', tls_config: { ca_file: server.cert } });
    try {
      expect(await t.labelValues('server', [], 0, 1000)).toEqual(['h']);
    } finally {
      await t.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
  });
});

describe('dial_timeout', () => {
  it('a connect that completed while the event loop was busy is not taken for a timeout', async () => {
    const api = await startApiServer({ name: 'busy' });
    const t = target(api.port, { dial_timeout: '100ms' }, 10_000, 'http');
    try {
      const pending = t.labelValues('server', [], 0, 1000);
      // The connect starts within this turn's microtasks; then block the loop past dial_timeout, as
      // a long query evaluation would. The kernel completes the connect meanwhile, and the expired
      // dial timer comes before the connect event in the next loop turn.
      for (let i = 0; i < 50; i++) await Promise.resolve();
      const until = Date.now() + 400;
      while (Date.now() < until) {
        /* busy */
      }
      expect(await pending).toEqual(['busy']);
    } finally {
      await t.close();
      await api.close();
    }
  });

  it('fails a connect that gets no answer after dial_timeout, not the request timeout', async () => {
    // A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a
    // connect hangs. The listener is a child node process whose event loop is blocked.
    const script =
      "const s=require('net').createServer();s.listen(0,'127.0.0.1',1,()=>{console.log(s.address().port);" +
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,60000)})';
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
      });
      // Fill the accept queue (backlog 1 holds two connections) so that later SYNs are dropped.
      for (let i = 0; i < 3; i++) {
        const sock = net.connect(port, '127.0.0.1');
        sock.on('error', () => {});
        fillers.push(sock);
      }
      await new Promise((r) => setTimeout(r, 200));
      const t = target(port, { dial_timeout: '200ms' }, 3_000, 'http');
      try {
        const err = await failure(t.labelNames([], 0, 1000));
        expect(err.message).toBe(`http://127.0.0.1:${port}: request failed: Connect Timeout Error (attempted address: 127.0.0.1:${port}, timeout: 200ms)`);
      } finally {
        await t.close();
      }
    } finally {
      for (const sock of fillers) sock.destroy();
      child.kill('SIGKILL');
    }
  });
});
