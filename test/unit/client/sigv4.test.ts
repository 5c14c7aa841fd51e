// The sigv4 block's checks (Prometheus's rules and ours), the canonical query promfront sends, and
// the signing pool's failure paths with a stand-in signer (signatures themselves are checked against
// botocore in test/e2e/sigv4.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownstreamClient } from '../../../src/client/http-client.js';
import { canonicalQuery, SigningPool, type RequestSigner, type RequestToSign } from '../../../src/client/sigv4.js';
import { configSchema, httpClientSchema, sigv4Schema, sourceSchema } from '../../../src/config/schema.js';
import { SigV4Error } from '../../../src/errors.js';

const issues = (
  schema: { safeParse(x: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } },
  x: unknown,
): string[] => (schema.safeParse(x).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('sigv4 block', () => {
  it("takes Prometheus's fields, with service aps unless said", () => {
    expect(sigv4Schema.parse({ region: 'us-east-1', profile: 'p', role_arn: 'arn:aws:iam::1:role/r' })).toEqual({
      region: 'us-east-1',
      profile: 'p',
      role_arn: 'arn:aws:iam::1:role/r',
      service: 'aps',
    });
    expect(sigv4Schema.parse({ service: 'execute-api' }).service).toBe('execute-api');
    expect(sigv4Schema.parse({})).toEqual({ service: 'aps' });
    expect(issues(sigv4Schema, { region: 'x', unknown_field: 1 })).toEqual([': Unrecognized key: "unknown_field"']);
  });

  it('needs access_key and secret_key together (Prometheus wording)', () => {
    const msg = ': must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config';
    expect(issues(sigv4Schema, { access_key: 'AKID' })).toEqual([msg]);
    expect(issues(sigv4Schema, { secret_key: 's' })).toEqual([msg]);
    expect(issues(sigv4Schema, { access_key: 'AKID', secret_key: '' })).toEqual([msg]);
    expect(issues(sigv4Schema, { access_key: 'AKID', secret_key: 's' })).toEqual([]);
  });

  it('cannot be combined with other authentication', () => {
    expect(issues(httpClientSchema, { sigv4: {}, basic_auth: { username: 'u', password: 'p' } })).toEqual([
      'sigv4: sigv4 cannot be combined with basic_auth: it sets the Authorization header',
    ]);
    expect(issues(httpClientSchema, { sigv4: {}, bearer_token_file: '/t' })).toEqual([
      'sigv4: sigv4 cannot be combined with bearer_token_file: it sets the Authorization header',
    ]);
    expect(issues(sourceSchema, { url: 'http://x/metrics', sigv4: {}, bearer_token: 't' })).toEqual([
      ': at most one of basic_auth, bearer_token, bearer_token_file and sigv4 may be set',
    ]);
    const cfg = {
      query: { server_groups: [{ static_configs: [{ targets: ['h:9090'] }], http_client: { sigv4: {} }, http_headers: { Authorization: 'x' } }] },
    };
    expect(issues(configSchema, cfg)).toEqual(['query.server_groups.0.http_headers.Authorization: conflicts with the authentication set in http_client']);
  });
});

describe('canonical query', () => {
  it('sorts by name then value and encodes as RFC 3986 (space as %20)', () => {
    const q = canonicalQuery('/api/v1/series?match%5B%5D=up%7Bjob%3D%22b%22%7D&start=1&match%5B%5D=up+%7Bjob%3D%22a%22%7D&x=a*b');
    expect(q.pathname).toBe('/api/v1/series');
    expect(q.query).toEqual({ 'match[]': ['up{job="b"}', 'up {job="a"}'], start: '1', x: 'a*b' });
    expect(q.sent).toBe('/api/v1/series?match%5B%5D=up%20%7Bjob%3D%22a%22%7D&match%5B%5D=up%7Bjob%3D%22b%22%7D&start=1&x=a%2Ab');
  });

  it('leaves a path without a query as it is, and keeps empty values', () => {
    expect(canonicalQuery('/workspaces/ws-1/api/v1/read')).toEqual({
      pathname: '/workspaces/ws-1/api/v1/read',
      query: {},
      sent: '/workspaces/ws-1/api/v1/read',
    });
    expect(canonicalQuery('/p?b&a=').sent).toBe('/p?a=&b=');
  });
});

describe('signing pool', () => {
  let server: Server;
  let origin = '';
  const seen: { path: string; authorization: string | undefined; host: string | undefined }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization, host: req.headers.host });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const signer = (sign: (req: RequestToSign) => Promise<{ path: string; headers: Record<string, string> }>): RequestSigner => ({
    check: () => Promise.resolve(),
    sign,
    secrets: () => [],
  });

  it('sends the path and headers the signer returns, with the Host it was given', async () => {
    let got: RequestToSign | undefined;
    const pool = new SigningPool(
      origin,
      {},
      signer((req) => {
        got = req;
        return Promise.resolve({ path: `${req.path}&signed=1`, headers: { ...req.headers, authorization: 'AWS4-HMAC-SHA256 test' } });
      }),
    );
    const res = await pool.request({ method: 'POST', path: '/a?b=1', headers: { 'Content-Type': 'text/plain' }, body: 'xyz' });
    expect(await res.body.text()).toBe('ok');
    await pool.close();
    expect(got).toEqual({
      method: 'POST',
      host: origin.slice('http://'.length),
      protocol: 'http:',
      path: '/a?b=1',
      headers: { 'content-type': 'text/plain' },
      body: 'xyz',
    });
    expect(seen.at(-1)).toEqual({ path: '/a?b=1&signed=1', authorization: 'AWS4-HMAC-SHA256 test', host: origin.slice('http://'.length) });
  });

  it('a signing failure fails that request with its error and sends nothing', async () => {
    const before = seen.length;
    const pool = new SigningPool(
      origin,
      {},
      signer(() => Promise.reject(new SigV4Error('cannot get AWS credentials: none'))),
    );
    await expect(pool.request({ method: 'GET', path: '/x' })).rejects.toThrow('sigv4: cannot get AWS credentials: none');
    await pool.close();
    expect(seen.length).toBe(before);
  });

  it('an abort while signing ends the request at once', async () => {
    const pool = new SigningPool(
      origin,
      {},
      signer(() => new Promise(() => {})),
    );
    const t0 = Date.now();
    await expect(pool.request({ method: 'GET', path: '/x', signal: AbortSignal.timeout(50) })).rejects.toThrow(/timeout|abort/i);
    expect(Date.now() - t0).toBeLessThan(2000);
    await pool.destroy();
  });

  it('refuses a streamed body, which cannot be hashed before it is sent', async () => {
    const { Readable } = await import('node:stream');
    const pool = new SigningPool(
      origin,
      {},
      signer((req) => Promise.resolve({ path: req.path, headers: req.headers })),
    );
    await expect(pool.request({ method: 'POST', path: '/x', body: Readable.from(['a']) })).rejects.toThrow('sigv4: only string and byte bodies can be signed');
    await pool.close();
  });
});

describe('downstream client with sigv4', () => {
  it('cuts the configured secret key out of messages and builds a signing pool', async () => {
    const client = new DownstreamClient(httpClientSchema.parse({ sigv4: { region: 'r', access_key: 'AKID', secret_key: 'very-secret-key' } }), {
      requestTimeoutMs: 1000,
    });
    expect(client.redact('echo: very-secret-key.')).toBe('echo: <secret>.');
    const pool = client.newPool('http://127.0.0.1:1', {});
    expect(pool).toBeInstanceOf(SigningPool);
    await pool.close();
    const plain = new DownstreamClient(httpClientSchema.parse({}), { requestTimeoutMs: 1000 }).newPool('http://127.0.0.1:1', {});
    expect(plain).not.toBeInstanceOf(SigningPool);
    await plain.close();
  });
});
