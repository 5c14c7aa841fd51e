// AWS SigV4 signing (issue 15), checked by an independent implementation: every request promfront
// sends to a sigv4-configured target (JSON API GET and POST forms, remote read, series / labels /
// metadata, shard sources) is captured raw by a loopback server and its signature recomputed by
// botocore (test/support/sigv4_verify.py). A wrong secret must fail that check. Prometheus 2.42's
// own signed remote write goes through the same verifier and header rule. The credential chain is
// exercised with environment variables, a shared credentials file with a profile, and web identity
// against a fake STS on loopback, including refresh of short-lived keys. Run as e2e: it starts
// python3, Prometheus and ./proxy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DownstreamClient } from '../../src/client/http-client.js';
import { lazySigner, SigningPool } from '../../src/client/sigv4.js';
import { httpClientSchema, sigv4Schema, sourceSchema } from '../../src/config/schema.js';
import { JsonApiTarget } from '../../src/query/downstream/json-api-client.js';
import { RemoteReadTarget } from '../../src/query/downstream/remote-read-client.js';
import { createSourceClient } from '../../src/shard/source-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { freePort, startPrometheus, waitFor } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startCaptureServer, startFakeSts, unsignedHeaders, verifySigV4, type CaptureServer } from '../support/sigv4.js';

const ACCESS_KEY = 'AKIDPROMFRONTTEST';
const SECRET_KEY = 'sigv4-test-only/secret+key';
const REGION = 'eu-west-3';
const PREFIX = '/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef';
const UP: LabelMatcher[] = [
  { type: '=', name: '__name__', value: 'up' },
  { type: '=~', name: 'job', value: 'a b|c&d=e' },
];

const tmp = mkdtempSync(join(tmpdir(), 'promfront-sigv4-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Sets environment variables for one test; afterEach puts the old values back. */
const savedEnv = new Map<string, string | undefined>();
function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!savedEnv.has(k)) savedEnv.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}
afterEach(() => {
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  savedEnv.clear();
});

/** No credentials anywhere in the AWS chain but the ones a test gives. */
const NO_AWS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_REGION: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_ROLE_ARN: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_ENDPOINT_URL_STS: undefined,
  AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'none-credentials'),
  AWS_CONFIG_FILE: join(tmp, 'none-config'),
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
};

function staticClient(secret = SECRET_KEY): DownstreamClient {
  const cfg = httpClientSchema.parse({ sigv4: { region: REGION, access_key: ACCESS_KEY, secret_key: secret } });
  return new DownstreamClient(cfg, { requestTimeoutMs: 5000 });
}

describe('every request kind is signed as botocore computes it', () => {
  let server: CaptureServer;
  beforeAll(async () => {
    server = await startCaptureServer();
  });
  afterAll(() => server.close());

  it('JSON API, remote read, source scrape and a POST form verify; a wrong secret does not', async () => {
    const client = staticClient();
    const url = `${server.url}${PREFIX}/`;
    const json = new JsonApiTarget({ url, timeoutMs: 5000, client, queryParams: { tenant: 'a b' } });
    const t0 = 1_700_000_000_000;
    await json.select(UP, t0, t0 + 60_000);
    await json.labelNames(UP, t0, t0 + 60_000);
    await json.labelValues('job', UP, t0, t0 + 60_000);
    await json.series(UP, t0, t0 + 60_000);
    await json.metadata('up', 2);
    await json.evaluate({ query: 'sum by (job) (rate(up{job=~"x y"}[5m]))', matchers: UP, startMs: t0, endMs: t0 + 60_000, stepMs: 15_000 });
    await json.close();

    // Remote read: a snappy protobuf body. The fake answers 404, which is fine: the request is what is checked.
    const rr = new RemoteReadTarget({ url, timeoutMs: 5000, client });
    await expect(rr.select(UP, t0, t0 + 60_000)).rejects.toThrow(/remote read: HTTP 404/);

    // A shard source signed with its own sigv4 block.
    const source = sourceSchema.parse({ url: `${server.url}/metrics?x=1`, sigv4: { region: REGION, access_key: ACCESS_KEY, secret_key: SECRET_KEY } });
    const sc = createSourceClient(source, { timeoutMs: 5000, maxBodySize: 1 << 20 });
    const scraped = await sc.scrape();
    expect(scraped.body.toString()).toContain('up 1');
    await sc.close();

    // The JSON API's POST form (the form encoding of a long query) through the same signing pool.
    const pool = client.newPool(server.url, {});
    const form = new URLSearchParams({ query: 'up{job="a b"}', time: '1700000000' }).toString();
    const res = await pool.request({
      method: 'POST',
      path: `${PREFIX}/api/v1/query`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    await pool.close();

    const reqs = server.requests;
    const paths = reqs.map((r) => `${r.method} ${r.target.split('?')[0]}`);
    expect(paths).toEqual([
      `GET ${PREFIX}/api/v1/query`,
      `GET ${PREFIX}/api/v1/labels`,
      `GET ${PREFIX}/api/v1/label/job/values`,
      `GET ${PREFIX}/api/v1/series`,
      `GET ${PREFIX}/api/v1/metadata`,
      `GET ${PREFIX}/api/v1/query_range`,
      // Remote read learns the server's external labels first (docs/merge-rules.md), signed as well.
      `GET ${PREFIX}/api/v1/status/config`,
      `POST ${PREFIX}/api/v1/read`,
      'GET /metrics',
      `POST ${PREFIX}/api/v1/query`,
    ]);
    // The query goes in SigV4's canonical form: %20 for a space, sorted parameters.
    expect(reqs[0].target).toContain('query=%7B__name__%3D%22up%22%2C%20job%3D~%22a%20b%7Cc%26d%3De%22%7D%5B60002ms%5D&tenant=a%20b&time=');

    const verdicts = verifySigV4(reqs, SECRET_KEY);
    for (const [i, v] of verdicts.entries()) {
      expect({ request: paths[i], ok: v.ok, reason: v.reason }).toEqual({ request: paths[i], ok: true, reason: '' });
      expect(v).toMatchObject({ region: REGION, service: 'aps', access_key: ACCESS_KEY });
      expect(v.signed_headers).toContain('host');
      expect(v.signed_headers).toContain('x-amz-date');
      expect(unsignedHeaders(v)).toEqual([]);
    }
    // Bodies are signed: the remote read's protobuf and the form.
    const read = paths.indexOf(`POST ${PREFIX}/api/v1/read`);
    expect(verdicts[read].signed_headers).toEqual(expect.arrayContaining(['content-type', 'content-encoding']));
    expect(reqs[read].body.length).toBeGreaterThan(0);

    const wrong = verifySigV4(reqs, 'not-the-secret');
    expect(wrong.map((v) => v.ok)).toEqual(reqs.map(() => false));
    expect(wrong[0].reason).toMatch(/signature mismatch/);
  });

  it('a body changed after signing fails verification', async () => {
    const before = server.requests.length;
    const pool = staticClient().newPool(server.url, {});
    const res = await pool.request({
      method: 'POST',
      path: '/api/v1/read',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from([1, 2, 3]),
    });
    await res.body.dump();
    await pool.close();
    const [req] = server.requests.slice(before);
    expect(verifySigV4([req], SECRET_KEY)[0].ok).toBe(true);
    const tampered = { ...req, body: Buffer.from([1, 2, 4]) };
    expect(verifySigV4([tampered], SECRET_KEY)[0].ok).toBe(false);
  });
});

describe('credential chain', () => {
  let server: CaptureServer;
  beforeAll(async () => {
    server = await startCaptureServer();
  });
  afterAll(() => server.close());

  it('takes the keys from the environment', async () => {
    setEnv({ ...NO_AWS, AWS_ACCESS_KEY_ID: 'AKIDFROMENV', AWS_SECRET_ACCESS_KEY: 'env-secret-key' });
    const signer = lazySigner(sigv4Schema.parse({ region: REGION }));
    const pool = new SigningPool(server.url, {}, signer);
    const res = await pool.request({ method: 'GET', path: '/api/v1/labels' });
    await res.body.dump();
    await pool.close();
    const req = server.requests[server.requests.length - 1];
    const [v] = verifySigV4([req], 'env-secret-key');
    expect(v).toMatchObject({ ok: true, access_key: 'AKIDFROMENV', region: REGION });
  });

  it('takes the region from AWS_REGION when the block has none', async () => {
    setEnv({ ...NO_AWS, AWS_REGION: 'ap-south-2' });
    const signer = lazySigner(sigv4Schema.parse({ access_key: ACCESS_KEY, secret_key: SECRET_KEY }));
    const pool = new SigningPool(server.url, {}, signer);
    const res = await pool.request({ method: 'GET', path: '/api/v1/labels' });
    await res.body.dump();
    await pool.close();
    const [v] = verifySigV4([server.requests[server.requests.length - 1]], SECRET_KEY);
    expect(v).toMatchObject({ ok: true, region: 'ap-south-2' });
  });

  it('takes the keys of the configured profile from the shared credentials file', async () => {
    const creds = join(tmp, 'credentials');
    writeFileSync(
      creds,
      '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[amp]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n',
    );
    setEnv({ ...NO_AWS, AWS_SHARED_CREDENTIALS_FILE: creds });
    const signer = lazySigner(sigv4Schema.parse({ region: REGION, profile: 'amp' }));
    const pool = new SigningPool(server.url, {}, signer);
    const res = await pool.request({ method: 'GET', path: '/api/v1/labels' });
    await res.body.dump();
    await pool.close();
    const [v] = verifySigV4([server.requests[server.requests.length - 1]], 'profile-secret');
    expect(v).toMatchObject({ ok: true, access_key: 'AKIDPROFILE' });
  });

  it('assumes the role with the web identity token from a fake STS and refreshes keys before they expire', async () => {
    // Keys that expire in 2 minutes are inside the SDK's 5-minute refresh window: every use gets new ones.
    const sts = await startFakeSts(120);
    try {
      const tokenFile = join(tmp, 'web-identity-token');
      writeFileSync(tokenFile, 'eyJ.fake-web-identity.token');
      setEnv({
        ...NO_AWS,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/promfront-query',
        AWS_ENDPOINT_URL_STS: sts.url,
      });
      const signer = lazySigner(sigv4Schema.parse({ region: REGION }));
      const pool = new SigningPool(server.url, {}, signer);
      const get = async (): Promise<void> => {
        const res = await pool.request({ method: 'GET', path: '/api/v1/labels' });
        await res.body.dump();
      };
      await get();
      expect(sts.calls).toEqual([
        { action: 'AssumeRoleWithWebIdentity', roleArn: 'arn:aws:iam::123456789012:role/promfront-query', token: 'eyJ.fake-web-identity.token' },
      ]);
      // Keys inside the SDK's 5-minute window are still used while new ones are fetched in the background.
      await get();
      await waitFor(() => Promise.resolve(sts.calls.length === 2), 5000, 'the refresh AssumeRoleWithWebIdentity call');
      await new Promise((r) => setTimeout(r, 100));
      await get();
      await pool.close();
      const [a, , c] = server.requests.slice(-3);
      const va = verifySigV4([a], 'sts-secret-1', 'sts-token-1')[0];
      expect(va).toMatchObject({ ok: true, access_key: 'ASIAFAKESTS1' });
      expect(a.headers.find(([h]) => h.toLowerCase() === 'x-amz-security-token')?.[1]).toBe('sts-token-1');
      expect(va.signed_headers).toContain('x-amz-security-token');
      // The third request carries the refreshed keys.
      expect(verifySigV4([c], 'sts-secret-2', 'sts-token-2')[0]).toMatchObject({ ok: true, access_key: 'ASIAFAKESTS2' });
      expect(signer.secrets()).toEqual(expect.arrayContaining(['sts-secret-2', 'sts-token-2']));
    } finally {
      await sts.close();
    }
  });

  it('keeps keys that are far from expiry: one STS call for several requests', async () => {
    const sts = await startFakeSts(3600);
    try {
      const tokenFile = join(tmp, 'web-identity-token-2');
      writeFileSync(tokenFile, 'eyJ.second.token');
      setEnv({ ...NO_AWS, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/r2', AWS_ENDPOINT_URL_STS: sts.url });
      const signer = lazySigner(sigv4Schema.parse({ region: REGION }));
      const pool = new SigningPool(server.url, {}, signer);
      for (let i = 0; i < 3; i++) {
        const res = await pool.request({ method: 'GET', path: '/api/v1/labels' });
        await res.body.dump();
      }
      await pool.close();
      expect(sts.calls.length).toBe(1);
      for (const v of verifySigV4(server.requests.slice(-3), 'sts-secret-1', 'sts-token-1')) expect(v.ok).toBe(true);
    } finally {
      await sts.close();
    }
  });

  it('no credentials: a clear error naming sigv4, and no request is sent', async () => {
    setEnv(NO_AWS);
    const before = server.requests.length;
    const client = new DownstreamClient(httpClientSchema.parse({ sigv4: { region: REGION } }), { requestTimeoutMs: 5000 });
    const json = new JsonApiTarget({ url: server.url, timeoutMs: 5000, client });
    await expect(json.labelNames([], 0, 1)).rejects.toThrow(/^http:\/\/127\.0\.0\.1:\d+: sigv4: cannot get AWS credentials: /);
    await json.close();
    expect(server.requests.length).toBe(before);
  });

  it("no region anywhere: Prometheus's error", async () => {
    setEnv(NO_AWS);
    const signer = lazySigner(sigv4Schema.parse({ access_key: ACCESS_KEY, secret_key: SECRET_KEY }));
    await expect(signer.check()).rejects.toThrow('sigv4: region not configured in sigv4 or in default credentials chain');
  });
});

describe('the same request shape as Prometheus 2.42', () => {
  it("Prometheus's remote write with the same sigv4 block and promfront's signed body follow Go's signed-header rule", async () => {
    const server = await startCaptureServer((r, res) => {
      if (!r.target.endsWith('/api/v1/remote_write')) return false;
      res.writeHead(204);
      res.end();
      return true;
    });
    const port = await freePort();
    const prom = await startPrometheus({
      port,
      configYaml: `global: {scrape_interval: 1s}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:${port}']}]
remote_write:
  - url: ${server.url}${PREFIX}/api/v1/remote_write
    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms}
    sigv4:
      region: ${REGION}
      access_key: ${ACCESS_KEY}
      secret_key: ${SECRET_KEY}
`,
    });
    try {
      await waitFor(() => Promise.resolve(server.requests.some((r) => r.target.endsWith('/remote_write'))), 45_000, 'a remote write from Prometheus');
      const write = server.requests.find((r) => r.target.endsWith('/remote_write'))!;
      const names = new Set(write.headers.map(([h]) => h.toLowerCase()));
      // Go's v4 signer (aws-sdk-go, used by prometheus/common/sigv4) signs host, content-length when
      // there is a body, and every header but Authorization, User-Agent and X-Amzn-Trace-Id; the
      // transport adds Accept-Encoding after signing. Applied to the request Prometheus sent:
      const goSigned = [...names].filter((h) => !['authorization', 'user-agent', 'x-amzn-trace-id', 'accept-encoding'].includes(h));
      goSigned.push('x-amz-date');
      if (names.has('authorization')) {
        const [pv] = verifySigV4([write], SECRET_KEY);
        expect({ ok: pv.ok, reason: pv.reason }).toEqual({ ok: true, reason: '' });
        expect(pv).toMatchObject({ region: REGION, service: 'aps', access_key: ACCESS_KEY });
        expect(pv.signed_headers).toEqual([...new Set(goSigned)].sort());
      } else {
        // Debian's prometheus 2.42.0+ds accepts the block and checks its credentials at start-up
        // (without keys it refuses the config) but sends its writes unsigned: only the shape is compared.
        expect(names.has('x-amz-date')).toBe(false);
      }

      // promfront's body-carrying request beside it (remote read): the same rule gives the same set.
      const before = server.requests.length;
      const rr = new RemoteReadTarget({ url: `${server.url}${PREFIX}`, timeoutMs: 5000, client: staticClient() });
      await expect(rr.select(UP, 0, 1000)).rejects.toThrow(/HTTP 404/);
      // The read itself, not the external-label lookup (a GET) that goes before it.
      const [ov] = verifySigV4(
        server.requests.slice(before).filter((r) => r.method === 'POST'),
        SECRET_KEY,
      );
      expect(ov.ok).toBe(true);
      expect(unsignedHeaders(ov)).toEqual([]);
      const transport = (hs: string[]): string[] =>
        hs.filter((h) => ['host', 'x-amz-date', 'content-type', 'content-encoding', 'content-length', 'x-amz-content-sha256'].includes(h)).sort();
      expect(transport(ov.signed_headers)).toEqual(transport(goSigned));
      expect(transport(goSigned)).toEqual(['content-encoding', 'content-length', 'content-type', 'host', 'x-amz-date']);
    } finally {
      await prom.stop();
      await server.close();
    }
  });
});

const IMPORT_LOG_HOOKS = `import { appendFileSync } from 'node:fs';
const LOG = process.env.PROMFRONT_IMPORT_LOG;
export async function resolve(specifier, context, next) {
  const out = await next(specifier, context);
  if (LOG) appendFileSync(LOG, out.url + '\\n');
  return out;
}
`;

describe('./proxy with sigv4 server groups', () => {
  // Preloaded with `node --import` through NODE_OPTIONS: registers resolve hooks (run on Node's loader
  // thread) that append every resolved module URL to PROMFRONT_IMPORT_LOG. Written at run time:
  // plain JavaScript that the type-aware lint of the repository's files has no project for.
  const IMPORT_HOOK = join(tmp, 'import-log.mjs');
  writeFileSync(join(tmp, 'import-log-hooks.mjs'), IMPORT_LOG_HOOKS);
  writeFileSync(IMPORT_HOOK, "import { register } from 'node:module';\nregister('./import-log-hooks.mjs', import.meta.url);\n");
  let server: CaptureServer;
  beforeAll(async () => {
    server = await startCaptureServer();
  });
  afterAll(() => server.close());

  const group = (name: string, http: string, extra = ''): string => `    - name: ${name}
      static_configs: [{targets: ['${server.url.slice('http://'.length)}']}]
      path_prefix: ${PREFIX}
${extra}${http}`;
  const SIGV4 = `      http_client:
        sigv4: {region: ${REGION}, access_key: ${ACCESS_KEY}, secret_key: '${SECRET_KEY}'}
`;

  async function withProxy<T>(groups: string, env: Record<string, string | undefined>, fn: (p: ProxyProcess, loaded: () => string) => Promise<T>): Promise<T> {
    const log = join(tmp, `imports-${Math.random().toString(36).slice(2)}.log`);
    writeFileSync(log, '');
    setEnv({ ...env, NODE_OPTIONS: `--import=${IMPORT_HOOK}`, PROMFRONT_IMPORT_LOG: log });
    const proxy = await startProxy((listen) => `listen: ${listen}\nquery:\n  server_groups:\n${groups}`);
    try {
      return await fn(proxy, () => readFileSync(log, 'utf8'));
    } finally {
      await proxy.stop();
    }
  }
  const query = async (p: ProxyProcess): Promise<{ status: number; body: { status: string; warnings?: string[]; error?: string } }> => {
    const res = await fetch(`${p.url}/api/v1/query?query=up&time=1700000000`);
    return { status: res.status, body: (await res.json()) as { status: string; warnings?: string[]; error?: string } };
  };

  it('without a sigv4 block the AWS libraries are never loaded; with one they are, and every request verifies', async () => {
    await withProxy(group('plain', ''), NO_AWS, async (p, loaded) => {
      expect((await query(p)).body.status).toBe('success');
      const urls = loaded();
      expect(urls).toContain('/dist/src/server/cli.js');
      expect(urls).not.toMatch(/node_modules\/(@smithy|@aws-sdk)\//);
    });
    const before = server.requests.length;
    await withProxy(group('amp', SIGV4), NO_AWS, async (p, loaded) => {
      expect((await query(p)).body.status).toBe('success');
      expect(loaded()).toMatch(/node_modules\/@smithy\/signature-v4\//);
      // The secret key is hidden in the config the API shows, and appears nowhere.
      const cfg = await (await fetch(`${p.url}/api/v1/status/config`)).text();
      expect((JSON.parse(cfg) as { data: { yaml: string } }).data.yaml).toContain('secret_key: <secret>');
      for (const t of [cfg, await (await fetch(`${p.url}/status`)).text(), await (await fetch(`${p.url}/metrics`)).text(), p.logs()]) {
        expect(t).not.toContain(SECRET_KEY);
      }
    });
    const sent = server.requests.slice(before);
    // Whether the lone server may answer whole queries (its build info and flags: the fake is not
    // Prometheus, so no), then remote read after its external-label lookup (the fake answers 404, so
    // the group reads through the JSON API from then on). Every request is signed.
    const seen = sent.map((r) => `${r.method} ${r.target.split('?')[0]}`);
    // The two identity requests go out together, in either order.
    expect(seen.slice(0, 2).sort()).toEqual([`GET ${PREFIX}/api/v1/status/buildinfo`, `GET ${PREFIX}/api/v1/status/flags`]);
    expect(seen.slice(2)).toEqual([`GET ${PREFIX}/api/v1/status/config`, `POST ${PREFIX}/api/v1/read`, `GET ${PREFIX}/api/v1/query`]);
    for (const v of verifySigV4(sent, SECRET_KEY)) expect({ ok: v.ok, reason: v.reason }).toEqual({ ok: true, reason: '' });
  });

  it('no credentials: the group fails with a sigv4 error, a warning with ignore_error, counted in /metrics', async () => {
    const NOCREDS = `      http_client:
        sigv4: {region: ${REGION}}
`;
    const before = server.requests.length;
    await withProxy(group('amp', NOCREDS), NO_AWS, async (p) => {
      const got = await query(p);
      expect(got.body.status).toBe('error');
      expect(got.body.error).toMatch(/sigv4: cannot get AWS credentials: /);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      expect(metrics).toMatch(/promfront_query_downstream_errors_total\{[^}]*group="amp"[^}]*\} [1-9]/);
    });
    await withProxy(group('amp', NOCREDS, '      ignore_error: true\n') + '\n' + group('plain', ''), NO_AWS, async (p) => {
      const got = await query(p);
      expect(got.body.status).toBe('success');
      expect(got.body.warnings?.some((w) => w.startsWith('server group "amp" failed: ') && w.includes('sigv4: cannot get AWS credentials: '))).toBe(true);
    });
    // Only the plain group's request went out.
    expect(server.requests.slice(before).every((r) => !r.headers.some(([h]) => h.toLowerCase() === 'authorization'))).toBe(true);
  });
});
